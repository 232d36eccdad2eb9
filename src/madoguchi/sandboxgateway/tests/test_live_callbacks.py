"""The whole hosted-page flow over real HTTP (pytest-django's live_server): the API is called with `requests`, a
browser session pays on the hosted page, and the gateway POSTs its signed callback to a receiving view served
by the same live server (this module is the URLconf: the project's URLs plus that receiver)."""

import hashlib
import hmac
import json
import threading

import pytest
import requests
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from madoguchi.conf.urls import urlpatterns as project_urlpatterns
from madoguchi.devidp.tests.fixtures import settle_live_server
from madoguchi.sandboxgateway import services
from madoguchi.sandboxgateway.models import SandboxPayment
from madoguchi.sandboxgateway.tests.helpers import API_KEY, WEBHOOK_SECRET, hidden_inputs, order

pytestmark = pytest.mark.urls(__name__)
Status = SandboxPayment.Status


class Inbox:
    """What the receiving view got, and the statuses it answers with (then 200 once they run out)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[bytes, str]] = []
        self.answers: list[int] = []

    def reset(self) -> None:
        with self.lock:
            self.received, self.answers = [], []

    def take(self, body: bytes, signature: str) -> int:
        with self.lock:
            self.received.append((body, signature))
            return self.answers.pop(0) if self.answers else 200


INBOX = Inbox()


@csrf_exempt
def receive(request):
    status = INBOX.take(request.body, request.headers.get("X-Gateway-Signature", ""))
    return HttpResponse(status=status)


urlpatterns = [path("test-platform/callback", receive), *project_urlpatterns]


@pytest.fixture
def inbox(monkeypatch):
    INBOX.reset()
    monkeypatch.setattr(services, "CALLBACK_BACKOFF", (0, 0))  # retries without pauses
    yield INBOX
    settle_live_server()


@pytest.fixture
def browser():
    with requests.Session() as session:
        yield session


def create_over_http(live_server, **overrides) -> dict:
    body = order(
        return_url=live_server.url + "/test-platform/return?order=ORD-2026-000123",
        callback_url=live_server.url + "/test-platform/callback",
        **overrides,
    )
    response = requests.post(
        live_server.url + "/sandbox-gateway/v1/payments",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": body["reference"]},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def press(browser, next_url: str, *, card: str = "4242424242424242", action: str = "pay"):
    page = browser.get(next_url, timeout=10)
    assert page.status_code == 200
    return browser.post(
        next_url,
        data={**hidden_inputs(page.text), "card_number": card, "action": action},
        allow_redirects=False,
        timeout=30,
    )


def signature_is_valid(body: bytes, header: str) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_paying_sends_a_signed_callback_over_http(live_server, inbox, browser):
    created = create_over_http(live_server)
    assert created["next_url"] == f"{live_server.url}/sandbox-gateway/pay/{created['id']}/"

    answer = press(browser, created["next_url"])
    assert answer.status_code == 303
    assert answer.headers["Location"] == (
        f"{live_server.url}/test-platform/return?order=ORD-2026-000123&payment_id={created['id']}"
    )

    [(body, signature)] = inbox.received
    assert signature_is_valid(body, signature)
    payload = json.loads(body)
    assert payload["id"] == created["id"] and payload["status"] == "succeeded" and payload["amount"] == 300
    payment = SandboxPayment.objects.get()
    assert payment.callback_attempts == 1 and payment.callback_delivered_at is not None

    status = requests.get(
        f"{live_server.url}/sandbox-gateway/v1/payments/{created['id']}",
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    ).json()
    assert status["status"] == "succeeded" and status["paid_at"] == payload["paid_at"]


def test_a_failing_callback_is_retried(live_server, inbox, browser):
    inbox.answers = [500, 503]
    created = create_over_http(live_server)
    assert press(browser, created["next_url"], card="4000000000000002").status_code == 303
    assert len(inbox.received) == 3
    assert all(signature_is_valid(body, signature) for body, signature in inbox.received)
    assert {json.loads(body)["status"] for body, _signature in inbox.received} == {"failed"}
    payment = SandboxPayment.objects.get()
    assert payment.callback_attempts == 3 and payment.callback_delivered_at is not None


def test_a_callback_that_never_gets_through_still_returns_the_browser(live_server, inbox, browser):
    inbox.answers = [500] * services.CALLBACK_ATTEMPTS
    created = create_over_http(live_server)
    answer = press(browser, created["next_url"], action="cancel", card="")
    assert answer.status_code == 303 and f"payment_id={created['id']}" in answer.headers["Location"]
    payment = SandboxPayment.objects.get()
    assert payment.status == Status.CANCELLED
    assert payment.callback_attempts == services.CALLBACK_ATTEMPTS and payment.callback_delivered_at is None


def test_an_unreachable_callback_url_is_retried_and_given_up(live_server, inbox, browser):
    created = create_over_http(live_server)
    SandboxPayment.objects.filter(pk=created["id"]).update(callback_url="http://127.0.0.1:9/closed")
    assert press(browser, created["next_url"]).status_code == 303
    payment = SandboxPayment.objects.get()
    assert payment.status == Status.SUCCEEDED
    assert payment.callback_attempts == services.CALLBACK_ATTEMPTS and payment.callback_delivered_at is None
