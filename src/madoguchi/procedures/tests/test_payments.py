"""The fee-payment adapter (procedures.payments) against the sandbox gateway served over real HTTP
(pytest-django's live_server), and its callback verification. This module is the URLconf of its live-server
tests: the project's URLs plus a receiving view that plays the platform's callback endpoint."""

import hashlib
import hmac
import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.urls import path
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from madoguchi.conf.urls import urlpatterns as project_urlpatterns
from madoguchi.procedures import payments
from madoguchi.procedures.payments import CreatedPayment, GatewayError, PaymentStatus

API_KEY = "sk_test_adapter_" + "a" * 20
WEBHOOK_SECRET = "whsec_test_adapter_" + "b" * 20
REFERENCE = "ORD-2026-000777"
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)

pytestmark = pytest.mark.urls(__name__)  # the live-server tests' receiving view, below
sandbox_installed = pytest.mark.skipif(
    "madoguchi.sandboxgateway" not in django_settings.INSTALLED_APPS,
    reason="the sandbox gateway is installed only in development (SANDBOX_GATEWAY_ENABLED)",
)


# --- The platform's side, served by the live server: verifies what arrives with verify_callback ------------
class Received:
    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[PaymentStatus | GatewayError] = []

    def reset(self) -> None:
        with self.lock:
            self.items = []

    def add(self, item) -> None:
        with self.lock:
            self.items.append(item)


RECEIVED = Received()


@csrf_exempt
def platform_callback(request):
    try:
        status = payments.verify_callback(
            body=request.body, signature_header=request.headers.get("X-Gateway-Signature", "")
        )
    except GatewayError as exc:
        RECEIVED.add(exc)
        return HttpResponse(status=400)
    RECEIVED.add(status)
    return HttpResponse(status=204)


urlpatterns = [path("test-platform/callback", platform_callback), *project_urlpatterns]


@pytest.fixture(autouse=True)
def keys(settings):
    settings.FEE_GATEWAY_API_KEY = API_KEY
    settings.FEE_GATEWAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture
def gateway(live_server, settings):
    """The sandbox gateway on the live server, with this module's callback receiver."""
    from madoguchi.devidp.tests.fixtures import settle_live_server

    settings.FEE_GATEWAY_BASE_URL = live_server.url + "/sandbox-gateway"
    RECEIVED.reset()
    yield live_server
    settle_live_server()


def order(live_server, **overrides) -> dict:
    return {
        "reference": REFERENCE,
        "amount": 300,
        "description": "住民票の写し（1通）",
        "return_url": live_server.url + f"/131016/procedures/orders/{REFERENCE}/return",
        "callback_url": live_server.url + "/test-platform/callback",
        **overrides,
    }


def sign(body: bytes, *, secret: str = WEBHOOK_SECRET, at: datetime = NOW) -> str:
    t = int(at.timestamp())
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def callback_body(**overrides) -> bytes:
    payload = {"id": "pay_0123456789abcdef01234567", "reference": REFERENCE, "status": "succeeded",
               "amount": 300, "paid_at": "2026-11-29T02:59:30+00:00", **overrides}  # fmt: skip
    return json.dumps(payload, separators=(",", ":")).encode()


def resident_pays(next_url: str, card: str = "4242424242424242") -> requests.Response:
    """The resident's browser on the hosted page: open it, enter the card, press Pay."""
    with requests.Session() as browser:
        page = browser.get(next_url, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return browser.post(
            next_url,
            data={"csrfmiddlewaretoken": token, "card_number": card, "action": "pay"},
            allow_redirects=False,
            timeout=30,
        )


# --- verify_callback -------------------------------------------------------------------------------------
def test_a_good_callback_is_accepted():
    body = callback_body()
    status = payments.verify_callback(body=body, signature_header=sign(body), now=NOW)
    assert status == PaymentStatus(
        gateway_id="pay_0123456789abcdef01234567",
        reference=REFERENCE,
        status="succeeded",
        amount=300,
        paid_at=datetime(2026, 11, 29, 2, 59, 30, tzinfo=UTC),
    )


def test_a_tampered_body_is_refused():
    body = callback_body()
    tampered = callback_body(amount=3)
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=tampered, signature_header=sign(body), now=NOW)
    assert refused.value.code == "bad_signature"


def test_a_signature_under_another_secret_is_refused():
    body = callback_body()
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=body, signature_header=sign(body, secret="whsec_other"), now=NOW)
    assert refused.value.code == "bad_signature"


def test_a_moved_timestamp_is_refused():
    body = callback_body()
    signature = sign(body)
    moved = signature.replace(f"t={int(NOW.timestamp())}", f"t={int(NOW.timestamp()) + 1}")
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=body, signature_header=moved, now=NOW)
    assert refused.value.code == "bad_signature"


@pytest.mark.parametrize("seconds", [301, -301, 86_400])
def test_a_stale_or_future_callback_is_refused(seconds):
    body = callback_body()
    signed_at = NOW - timedelta(seconds=seconds)
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=body, signature_header=sign(body, at=signed_at), now=NOW)
    assert refused.value.code == "stale"


def test_the_tolerance_is_inclusive_and_adjustable():
    body = callback_body()
    header = sign(body, at=NOW - timedelta(seconds=300))
    assert payments.verify_callback(body=body, signature_header=header, now=NOW).status == "succeeded"
    with pytest.raises(GatewayError):
        payments.verify_callback(body=body, signature_header=header, now=NOW, tolerance_seconds=60)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "t=abc,v1=00",
        "v1=" + "0" * 64,
        f"t={int(NOW.timestamp())}",
        f"t={int(NOW.timestamp())},v1=",
    ],
)
def test_a_missing_or_malformed_signature_header_is_refused(header):
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=callback_body(), signature_header=header, now=NOW)
    assert refused.value.code == "bad_signature"


def test_one_of_several_signatures_may_match_during_a_secret_rotation():
    body = callback_body()
    old = sign(body, secret="whsec_old").split(",")[1]
    header = sign(body) + "," + old
    assert payments.verify_callback(body=body, signature_header=header, now=NOW).amount == 300


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        callback_body(status="created"),
        callback_body(status="refunded"),
        callback_body(amount="300"),
        callback_body(amount=True),
        callback_body(paid_at="yesterday"),
        callback_body(paid_at="2026-11-29T02:59:30"),  # no offset
        callback_body(paid_at=None),  # succeeded without paid_at
        json.dumps({"id": "pay_1", "status": "failed"}).encode(),
    ],
)
def test_a_signed_but_malformed_body_is_refused(body):
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=body, signature_header=sign(body), now=NOW)
    assert refused.value.code == "malformed"


def test_failed_and_cancelled_callbacks_have_no_paid_at():
    for outcome in ("failed", "cancelled"):
        body = callback_body(status=outcome, paid_at=None)
        status = payments.verify_callback(body=body, signature_header=sign(body), now=NOW)
        assert status.status == outcome and status.paid_at is None


def test_without_a_webhook_secret_nothing_is_trusted(settings):
    settings.FEE_GATEWAY_WEBHOOK_SECRET = ""
    body = callback_body()
    with pytest.raises(GatewayError) as refused:
        payments.verify_callback(body=body, signature_header=sign(body, secret=""), now=NOW)
    assert refused.value.code == "not_configured"


def test_errors_carry_a_translated_message_for_the_resident():
    error = GatewayError("bad_signature")
    assert error.code == "bad_signature" and not error.retryable
    with translation.override("en"):
        assert error.message == "The payment notification's signature is not valid."
    with translation.override("ja"):
        assert error.message  # Japanese once the catalogue has it; never empty
    assert GatewayError("unreachable").retryable and GatewayError("timeout").retryable
    assert GatewayError("no_such_code").message == str(payments.MESSAGES["gateway_error"])
    assert set(payments.MESSAGES) >= {"bad_signature", "stale", "malformed", "invalid_amount", "unauthorized"}


# --- Validation before any HTTP call -----------------------------------------------------------------------
def _never_called(*args, **kwargs):
    raise AssertionError("no HTTP call may be made")


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, 300.0, "300", True, None])
def test_amount_must_be_a_positive_int_up_to_ten_million(monkeypatch, amount):
    monkeypatch.setattr(payments, "transport", _never_called)
    with pytest.raises(GatewayError) as refused:
        payments.create_payment(
            reference=REFERENCE, amount=amount, description="d",
            return_url="https://madoguchi.example/r", callback_url="https://madoguchi.example/c",
        )  # fmt: skip
    assert refused.value.code == "invalid_amount"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://madoguchi.example/r", "/relative", "https://", "https://u:p@h.example/"],
)
@pytest.mark.parametrize("field", ["return_url", "callback_url"])
def test_urls_must_be_absolute_http(monkeypatch, field, url):
    monkeypatch.setattr(payments, "transport", _never_called)
    arguments = {"reference": REFERENCE, "amount": 300, "description": "d",
                 "return_url": "https://madoguchi.example/r", "callback_url": "https://madoguchi.example/c",
                 field: url}  # fmt: skip
    with pytest.raises(GatewayError) as refused:
        payments.create_payment(**arguments)
    assert refused.value.code == "invalid_url"


@pytest.mark.parametrize("reference", ["", "   ", "x" * 256, "注文1", "ORD\r\nX-Injected: 1"])
def test_reference_must_be_printable_ascii(monkeypatch, reference):
    monkeypatch.setattr(payments, "transport", _never_called)
    with pytest.raises(GatewayError) as refused:
        payments.create_payment(
            reference=reference, amount=300, description="d",
            return_url="https://madoguchi.example/r", callback_url="https://madoguchi.example/c",
        )  # fmt: skip
    assert refused.value.code == "invalid_request"


def test_nothing_is_sent_without_configuration(monkeypatch, settings):
    monkeypatch.setattr(payments, "transport", _never_called)
    settings.FEE_GATEWAY_BASE_URL = ""
    with pytest.raises(GatewayError) as refused:
        payments.fetch_payment("pay_1")
    assert refused.value.code == "not_configured"


def test_every_call_has_a_connect_and_a_read_timeout(monkeypatch, settings):
    settings.FEE_GATEWAY_BASE_URL = "https://gateway.example"
    seen = []

    class Answer:
        status_code = 200
        content = (
            b'{"id": "pay_1", "reference": "ORD-1", "status": "created", "amount": 300, "paid_at": null}'
        )

    def fake_request(method, url, **kwargs):
        seen.append((method, url, kwargs))
        return Answer()

    monkeypatch.setattr(payments.requests, "request", fake_request)
    payments.fetch_payment("pay_1")
    [(method, url, kwargs)] = seen
    assert (method, url) == ("GET", "https://gateway.example/v1/payments/pay_1")
    assert kwargs["timeout"] == (3.0, 10.0) and kwargs["allow_redirects"] is False
    assert kwargs["headers"]["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (requests.ConnectTimeout, "timeout"),
        (requests.ReadTimeout, "timeout"),
        (requests.ConnectionError, "unreachable"),
    ],
)
def test_network_failures_are_gateway_errors(monkeypatch, settings, exception, code):
    settings.FEE_GATEWAY_BASE_URL = "https://gateway.example"

    def fail(*args, **kwargs):
        raise exception("boom")

    monkeypatch.setattr(payments.requests, "request", fail)
    with pytest.raises(GatewayError) as refused:
        payments.fetch_payment("pay_1")
    assert refused.value.code == code and refused.value.retryable


@pytest.mark.parametrize(
    ("status", "content", "code"),
    [
        (401, b'{"error": "unauthorized"}', "unauthorized"),
        (404, b'{"error": "not_found"}', "not_found"),
        (409, b'{"error": "idempotency_conflict"}', "conflict"),
        (400, b'{"error": "invalid_request"}', "rejected"),
        (500, b"<html>oops</html>", "gateway_error"),
        (503, b"", "gateway_error"),
        (200, b"<html>a login page</html>", "bad_response"),
        (302, b"", "bad_response"),
    ],
)
def test_gateway_answers_map_to_codes(monkeypatch, settings, status, content, code):
    settings.FEE_GATEWAY_BASE_URL = "https://gateway.example"
    monkeypatch.setattr(payments, "transport", lambda *a, **k: (status, content))
    with pytest.raises(GatewayError) as refused:
        payments.fetch_payment("pay_1")
    assert refused.value.code == code


def test_a_created_payment_for_another_amount_is_not_trusted(monkeypatch, settings):
    settings.FEE_GATEWAY_BASE_URL = "https://gateway.example"
    answer = {"id": "pay_1", "status": "created", "next_url": "https://gateway.example/pay/pay_1/",
              "amount": 30000, "reference": REFERENCE}  # fmt: skip
    monkeypatch.setattr(payments, "transport", lambda *a, **k: (201, json.dumps(answer).encode()))
    with pytest.raises(GatewayError) as refused:
        payments.create_payment(
            reference=REFERENCE, amount=300, description="d",
            return_url="https://madoguchi.example/r", callback_url="https://madoguchi.example/c",
        )  # fmt: skip
    assert refused.value.code == "bad_response"


# --- Against the sandbox gateway over HTTP -------------------------------------------------------------------
@sandbox_installed
def test_create_is_idempotent_over_http(gateway):
    from madoguchi.sandboxgateway.models import SandboxPayment

    first = payments.create_payment(**order(gateway))
    assert isinstance(first, CreatedPayment) and first.status == "created"
    assert first.next_url == f"{gateway.url}/sandbox-gateway/pay/{first.gateway_id}/"
    again = payments.create_payment(**order(gateway))
    assert again == first
    assert SandboxPayment.objects.count() == 1

    with pytest.raises(GatewayError) as refused:
        payments.create_payment(**order(gateway, amount=400))
    assert refused.value.code == "conflict"


@sandbox_installed
def test_the_largest_amount_goes_through(gateway):
    assert payments.create_payment(**order(gateway, amount=10_000_000)).status == "created"


@sandbox_installed
def test_fetch_payment_over_http(gateway):
    created = payments.create_payment(**order(gateway))
    status = payments.fetch_payment(created.gateway_id)
    assert status == PaymentStatus(
        gateway_id=created.gateway_id, reference=REFERENCE, status="created", amount=300, paid_at=None
    )
    with pytest.raises(GatewayError) as refused:
        payments.fetch_payment("pay_000000000000000000000000")
    assert refused.value.code == "not_found"


@sandbox_installed
def test_a_bad_api_key_is_refused_over_http(gateway, monkeypatch):
    created = payments.create_payment(**order(gateway))

    def wrong_key(method, url, *, headers, body=None):
        # The sandbox checks the same setting the adapter sends: swap the key on the wire instead.
        return payments._send(
            method, url, headers={**headers, "Authorization": "Bearer sk_test_wrong"}, body=body
        )

    monkeypatch.setattr(payments, "transport", wrong_key)
    for call in (
        lambda: payments.create_payment(**order(gateway)),
        lambda: payments.fetch_payment(created.gateway_id),
    ):
        with pytest.raises(GatewayError) as refused:
            call()
        assert refused.value.code == "unauthorized" and refused.value.status == 401


@sandbox_installed
def test_an_unreachable_gateway(gateway, settings):
    settings.FEE_GATEWAY_BASE_URL = "http://127.0.0.1:9/sandbox-gateway"  # the discard port: nothing listens
    with pytest.raises(GatewayError) as refused:
        payments.create_payment(**order(gateway))
    assert refused.value.code == "unreachable"


@sandbox_installed
def test_the_whole_payment_over_http(gateway):
    """Create → the resident pays on the hosted page → the gateway's callback reaches the platform over HTTP
    and passes verify_callback → the return page's fetch_payment agrees."""
    created = payments.create_payment(**order(gateway))
    answer = resident_pays(created.next_url)
    assert answer.status_code == 303
    assert answer.headers["Location"] == (
        f"{gateway.url}/131016/procedures/orders/{REFERENCE}/return?payment_id={created.gateway_id}"
    )

    [notified] = RECEIVED.items
    assert isinstance(notified, PaymentStatus), notified
    assert (notified.gateway_id, notified.reference, notified.status, notified.amount) == (
        created.gateway_id, REFERENCE, "succeeded", 300,
    )  # fmt: skip
    assert notified.paid_at is not None

    confirmed = payments.fetch_payment(created.gateway_id)
    assert confirmed == notified

    # A second payment attempt charges nothing and sends no second callback.
    assert resident_pays(created.next_url).status_code == 409
    assert len(RECEIVED.items) == 1 and payments.fetch_payment(created.gateway_id) == confirmed


@sandbox_installed
def test_a_declined_card_over_http(gateway):
    created = payments.create_payment(**order(gateway))
    assert resident_pays(created.next_url, card="4000000000000002").status_code == 303
    [notified] = RECEIVED.items
    assert notified.status == "failed" and notified.paid_at is None
    assert payments.fetch_payment(created.gateway_id).status == "failed"


@sandbox_installed
def test_a_callback_under_another_secret_is_refused_by_the_platform(gateway, monkeypatch):
    """The gateway and the platform disagree on the secret: the platform refuses (400), the gateway retries,
    and the return page's fetch_payment is what still tells the truth."""
    from madoguchi.sandboxgateway import services

    created = payments.create_payment(**order(gateway))
    original = services.signature_header
    monkeypatch.setattr(services, "CALLBACK_BACKOFF", (0, 0))
    monkeypatch.setattr(
        services, "signature_header", lambda body, _secret, t: original(body, "whsec_wrong", t)
    )
    assert resident_pays(created.next_url).status_code == 303
    assert [item.code for item in RECEIVED.items] == ["bad_signature"] * services.CALLBACK_ATTEMPTS
    assert payments.fetch_payment(created.gateway_id).status == "succeeded"
