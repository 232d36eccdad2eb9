"""The gateway's JSON API: bearer key, idempotent creation, validation, status."""

import pytest

from madoguchi.sandboxgateway.models import SandboxPayment
from madoguchi.sandboxgateway.tests.helpers import API_KEY, PAYMENTS_URL, create, order

pytestmark = pytest.mark.django_db


def test_create_answers_201_with_the_hosted_page(client):
    response = create(client)
    assert response.status_code == 201, response.content
    body = response.json()
    payment = SandboxPayment.objects.get()
    assert body["id"] == payment.pk and body["id"].startswith("pay_")
    assert body["status"] == "created"
    assert body["amount"] == 300 and body["currency"] == "JPY"
    assert body["reference"] == "ORD-2026-000123"
    assert body["next_url"] == f"http://testserver/sandbox-gateway/pay/{payment.pk}/"
    assert body["paid_at"] is None
    assert response["Cache-Control"] == "no-store"
    assert "Idempotent-Replayed" not in response
    # The key that created it is remembered by its hash only.
    assert API_KEY not in payment.api_key_id and len(payment.api_key_id) == 64


def test_the_same_idempotency_key_returns_the_same_payment(client):
    first = create(client)
    again = create(client)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert SandboxPayment.objects.count() == 1


def test_the_same_idempotency_key_with_a_different_order_is_refused(client):
    create(client)
    response = create(client, order(amount=400))
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert SandboxPayment.objects.get().amount == 300


def test_another_idempotency_key_makes_another_payment(client):
    create(client)
    create(client, order(reference="ORD-2026-000124"), idempotency_key="ORD-2026-000124")
    assert SandboxPayment.objects.count() == 2


def test_idempotency_keys_belong_to_their_api_key(client, settings):
    first = create(client).json()
    settings.FEE_GATEWAY_API_KEY = "sk_test_another_merchant_key"
    second = create(client, key="sk_test_another_merchant_key").json()
    assert first["id"] != second["id"]
    assert SandboxPayment.objects.count() == 2
    # ... and payments too: the other key cannot read the first one.
    response = client.get(
        f"{PAYMENTS_URL}/{first['id']}", headers={"Authorization": "Bearer sk_test_another_merchant_key"}
    )
    assert response.status_code == 404


def test_an_idempotency_key_is_required(client):
    response = create(client, idempotency_key=None)
    assert response.status_code == 400
    assert response.json()["error"] == "idempotency_key_required"
    assert create(client, idempotency_key="x" * 256).status_code == 400
    assert not SandboxPayment.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Bearer " + API_KEY + "x"},
        {"Authorization": "Basic " + API_KEY},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong", "longer", "basic", "empty"],
)
def test_a_bad_api_key_is_401(client, headers):
    response = client.post(
        PAYMENTS_URL,
        data=order(),
        content_type="application/json",
        headers={"Idempotency-Key": "k", **headers},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not SandboxPayment.objects.exists()


def test_no_key_works_when_none_is_configured(client, settings):
    settings.FEE_GATEWAY_API_KEY = ""
    assert create(client, key="").status_code == 401


def test_status_needs_the_api_key_too(client):
    payment_id = create(client).json()["id"]
    assert client.get(f"{PAYMENTS_URL}/{payment_id}").status_code == 401
    assert (
        client.get(f"{PAYMENTS_URL}/{payment_id}", headers={"Authorization": "Bearer no"}).status_code == 401
    )


def test_status_of_a_payment(client):
    payment_id = create(client).json()["id"]
    response = client.get(f"{PAYMENTS_URL}/{payment_id}", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200
    assert response.json()["id"] == payment_id and response.json()["status"] == "created"
    unknown = client.get(
        f"{PAYMENTS_URL}/pay_000000000000000000000000", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


def test_wrong_methods(client):
    assert client.get(PAYMENTS_URL, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 405
    assert (
        client.post(f"{PAYMENTS_URL}/pay_x", headers={"Authorization": f"Bearer {API_KEY}"}).status_code
        == 405
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -300),
        ("amount", 10_000_001),
        ("amount", "300"),
        ("amount", 300.0),
        ("amount", True),
        ("amount", None),
        ("currency", "USD"),
        ("reference", ""),
        ("reference", "x" * 256),
        ("description", "   "),
        ("description", 42),
    ],
)
def test_invalid_orders_are_400(client, field, value):
    response = create(client, order(**{field: value}))
    assert response.status_code == 400, (field, value)
    assert response.json() == {"error": "invalid_request", "description": response.json()["description"],
                               "field": field}  # fmt: skip
    assert not SandboxPayment.objects.exists()


def test_the_largest_amount_is_accepted(client):
    assert create(client, order(amount=10_000_000)).status_code == 201


@pytest.mark.parametrize("field", ["return_url", "callback_url"])
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://madoguchi.example/return",
        "file:///etc/passwd",
        "//madoguchi.example/return",
        "/relative/return",
        "http://",
        "https://user:password@madoguchi.example/return",
        "https://madoguchi.example:99999/return",
        "https://madoguchi.example/re turn",
        "https://madoguchi.example/\r\nX-Injected: 1",
        "",
        None,
        "https://madoguchi.example/" + "x" * 2000,
    ],
)
def test_only_absolute_http_urls_are_accepted(client, field, url):
    response = create(client, order(**{field: url}))
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize("url", ["http://localhost:8000/return", "https://xn--eckwd4c7c.example/r?x=1#top"])
def test_http_and_https_urls_are_accepted(client, url):
    assert create(client, order(return_url=url, callback_url=url)).status_code == 201


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_body_that_is_not_a_json_object_is_400(client, raw):
    response = create(client, raw=raw)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
