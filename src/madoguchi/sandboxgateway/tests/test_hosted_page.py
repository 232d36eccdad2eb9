"""The hosted payment page: test cards, Pay and Cancel, a payment finished once only, the form's accessibility."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import translation

from madoguchi.core.tests.concurrency import run_concurrently
from madoguchi.sandboxgateway import services
from madoguchi.sandboxgateway.models import SandboxPayment
from madoguchi.sandboxgateway.tests.helpers import create, order

pytestmark = pytest.mark.django_db
Status = SandboxPayment.Status
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000-0000-0000-0002"


@pytest.fixture
def payment(client) -> SandboxPayment:
    create(client, order(return_url="https://madoguchi.example/return?order=ORD-2026-000123"))
    return SandboxPayment.objects.get()


def page_url(payment: SandboxPayment) -> str:
    return f"/sandbox-gateway/pay/{payment.pk}/"


def pay(client, payment, card=GOOD_CARD, action="pay"):
    return client.post(page_url(payment), {"card_number": card, "action": action})


def test_the_page_shows_what_is_paid_and_a_labelled_card_field(client, payment):
    response = client.get(page_url(payment))
    assert response.status_code == 200
    html = response.content.decode()
    assert "粗大ごみ収集手数料（1点）" in html and "ORD-2026-000123" in html
    with translation.override("ja"):
        assert translation.gettext("%(amount)s yen") % {"amount": "300"} in html
    # The label is tied to the input, the help text (the test cards) to the input as well.
    assert re.search(r'<label class="field__label" for="id_card_number">', html)
    field = re.search(r"<input [^>]*id=\"id_card_number\"[^>]*>", html).group(0)
    assert 'aria-describedby="id_card_number_helptext"' in field and 'autocomplete="cc-number"' in field
    assert 'id="id_card_number_helptext"' in html and "4242 4242 4242 4242" in html
    assert 'name="action" value="pay"' in html and 'name="action" value="cancel"' in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_page_is_in_english_on_request(client, payment):
    response = client.get(page_url(payment), headers={"Accept-Language": "en"})
    assert "Card number" in response.content.decode() and 'lang="en"' in response.content.decode()


def test_a_good_card_pays_sends_the_callback_and_returns_to_the_service(client, payment, sent_callbacks):
    response = pay(client, payment)
    assert response.status_code == 303
    location = urlsplit(response["Location"])
    assert location.netloc == "madoguchi.example" and location.path == "/return"
    assert parse_qs(location.query) == {"order": ["ORD-2026-000123"], "payment_id": [payment.pk]}

    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED and payment.paid_at is not None
    assert payment.card_last4 == "4242"
    assert payment.callback_attempts == 1 and payment.callback_delivered_at is not None

    [(url, body, headers)] = sent_callbacks
    assert url == payment.callback_url
    assert json.loads(body) == {
        "id": payment.pk,
        "reference": "ORD-2026-000123",
        "status": "succeeded",
        "amount": 300,
        "paid_at": payment.paid_at.isoformat(),
    }
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", headers["X-Gateway-Signature"])


def test_the_declined_card_fails_the_payment(client, payment, sent_callbacks):
    response = pay(client, payment, card=DECLINED_CARD)
    assert response.status_code == 303 and "payment_id=" in response["Location"]
    payment.refresh_from_db()
    assert payment.status == Status.FAILED and payment.paid_at is None and payment.finished_at is not None
    [(_url, body, _headers)] = sent_callbacks
    assert json.loads(body)["status"] == "failed" and json.loads(body)["paid_at"] is None


def test_cancel_needs_no_card(client, payment, sent_callbacks):
    response = pay(client, payment, card="", action="cancel")
    assert response.status_code == 303
    payment.refresh_from_db()
    assert payment.status == Status.CANCELLED and payment.paid_at is None
    assert json.loads(sent_callbacks[0][1])["status"] == "cancelled"


@pytest.mark.parametrize(
    ("card", "error_code"),
    [
        ("", "required"),
        ("4242 4242 4242 424x", "format"),
        ("4242424242424241", "not_a_test_card"),
        ("5555555555554444", "not_a_test_card"),
        ("１２３４", "format"),
    ],
)
def test_any_other_card_is_a_form_error_and_changes_nothing(
    client, payment, sent_callbacks, card, error_code
):
    response = pay(client, payment, card=card)
    assert response.status_code == 400
    html = response.content.decode()
    # Announced: the error summary is an alert that links to the field; the field says it is invalid.
    summary = re.search(r'<div class="alert alert--error" role="alert">.*?</div>', html, re.S).group(0)
    assert 'href="#id_card_number"' in summary
    field = re.search(r"<input [^>]*id=\"id_card_number\"[^>]*>", html).group(0)
    assert 'aria-invalid="true"' in field and "id_card_number_error" in field
    assert 'id="id_card_number_error"' in html
    assert response.context["form"].has_error("card_number", error_code)

    payment.refresh_from_db()
    assert payment.status == Status.CREATED and payment.callback_attempts == 0
    assert sent_callbacks == []


def test_paying_twice_charges_once(client, payment, sent_callbacks):
    assert pay(client, payment).status_code == 303
    payment.refresh_from_db()
    paid_at = payment.paid_at

    again = pay(client, payment)
    assert again.status_code == 409
    assert "This payment was already made, so nothing was charged this time." in _english(client, payment)
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED and payment.paid_at == paid_at
    assert len(sent_callbacks) == 1

    # Nor can a paid payment be cancelled or declined afterwards.
    assert pay(client, payment, card="", action="cancel").status_code == 409
    assert pay(client, payment, card=DECLINED_CARD).status_code == 409
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED and len(sent_callbacks) == 1


def _english(client, payment) -> str:
    """The 'already paid' page as a second Pay click shows it, in English (the msgids)."""
    return client.post(
        page_url(payment), {"card_number": GOOD_CARD, "action": "pay"}, headers={"Accept-Language": "en"}
    ).content.decode()


def test_a_finished_payment_shows_its_outcome_and_the_way_back(client, payment, sent_callbacks):
    pay(client, payment, card=DECLINED_CARD)
    response = client.get(page_url(payment), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "The payment was declined" in html and "<form" not in html.split("<main", 1)[1]
    assert f"payment_id={payment.pk}" in html
    # A declined payment is final: a good card afterwards charges nothing.
    assert pay(client, payment).status_code == 409
    payment.refresh_from_db()
    assert payment.status == Status.FAILED and len(sent_callbacks) == 1


def test_an_unknown_payment_is_404(client, db):
    assert client.get("/sandbox-gateway/pay/pay_000000000000000000000000/").status_code == 404


def test_finish_is_conditional(payment):
    first, changed = services.payment_finish(payment.pk, Status.SUCCEEDED, card_last4="4242")
    second, changed_again = services.payment_finish(payment.pk, Status.SUCCEEDED, card_last4="4242")
    assert changed and not changed_again
    assert second.paid_at == first.paid_at
    with pytest.raises(ValueError):
        services.payment_finish(payment.pk, Status.CREATED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_clicks_cannot_both_succeed():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")
    payment = SandboxPayment.objects.create(
        api_key_id="k", idempotency_key="ORD-1", reference="ORD-1", amount=300, description="d",
        return_url="https://madoguchi.example/r", callback_url="https://madoguchi.example/c",
    )  # fmt: skip

    def work(_k):
        return services.payment_finish(payment.pk, Status.SUCCEEDED, card_last4="4242")[1]

    results, errors = run_concurrently(20, work)
    assert errors == []
    assert results.count(True) == 1
    payment.refresh_from_db()
    assert payment.status == Status.SUCCEEDED
