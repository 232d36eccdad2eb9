"""Fee payment over real HTTP: the platform opens the payment at the sandbox gateway (live server), the resident
pays on the hosted page, the gateway's signed callback reaches the platform's callback view and files the
application. Paying twice, or the callback arriving twice, charges and files once."""

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from madoguchi.devidp.tests.fixtures import settle_live_server
from madoguchi.procedures import payments, services
from madoguchi.procedures.models import Payment, Submission
from madoguchi.procedures.tests.helpers import SODAI_ANSWERS, urls, walk

if "madoguchi.sandboxgateway" not in settings.INSTALLED_APPS:
    pytest.skip("the sandbox gateway is a development app", allow_module_level=True)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "vault"])


@pytest.fixture
def gateway(live_server, settings, monkeypatch):
    from madoguchi.sandboxgateway import services as sandbox

    settings.FEE_GATEWAY_BASE_URL = live_server.url + "/sandbox-gateway"
    monkeypatch.setattr(sandbox, "CALLBACK_BACKOFF", (0, 0))
    yield live_server
    settle_live_server()


def _pay(next_url: str, card: str = "4242424242424242"):
    import re

    with requests.Session() as browser:
        page = browser.get(next_url, timeout=10)
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        return browser.post(next_url, data={**hidden, "card_number": card, "action": "pay"}, allow_redirects=False,
                            timeout=30)  # fmt: skip


def test_fee_is_paid_once_and_the_application_filed(client, adopt, gateway):
    procedure = adopt("sodai-gomi-shushu")
    walk(client, procedure, SODAI_ANSWERS)
    response = client.post(urls(procedure)["send"], {})
    submission = Submission.objects.get()
    assert response.url == reverse("procedures:pay", args=[submission.reference])
    assert submission.status == "awaiting_payment" and submission.payment_state == "pending"
    # Not in the staff inbox while unpaid.
    from madoguchi.procedures import selectors

    assert selectors.inbox(municipality=procedure.municipality).count() == 0
    callback = gateway.url + reverse("procedures:payment_callback")
    payment = services.payment_start(
        submission=submission, return_url=gateway.url + "/back", callback_url=callback
    )
    again = services.payment_start(
        submission=submission, return_url=gateway.url + "/back", callback_url=callback
    )
    assert again.pk == payment.pk and again.gateway_id == payment.gateway_id  # one payment, one gateway order
    assert _pay(payment.next_url).status_code == 303
    submission.refresh_from_db()
    payment.refresh_from_db()
    assert (
        payment.status == "succeeded"
        and submission.payment_state == "paid"
        and submission.status == "submitted"
    )
    assert submission.submitted_at is not None
    # Pressing Pay again charges nothing and changes nothing.
    _pay(payment.next_url)
    assert Payment.objects.count() == 1
    # The same callback again (a retry) is applied once only.
    status = payments.fetch_payment(payment.gateway_id)
    services.payment_settle(status=status)
    assert submission.events.filter(kind="payment").count() == 1
    # The return page agrees.
    back = client.get(reverse("procedures:pay_return", args=[submission.reference]))
    assert back.url == reverse("procedures:done", args=[submission.reference])


def test_declined_card_leaves_the_application_unpaid_and_payable_again(client, adopt, gateway):
    procedure = adopt("sodai-gomi-shushu")
    walk(client, procedure, SODAI_ANSWERS)
    client.post(urls(procedure)["send"], {})
    submission = Submission.objects.get()
    callback = gateway.url + reverse("procedures:payment_callback")
    payment = services.payment_start(
        submission=submission, return_url=gateway.url + "/back", callback_url=callback
    )
    _pay(payment.next_url, card="4000000000000002")
    payment.refresh_from_db()
    submission.refresh_from_db()
    assert payment.status == "failed" and submission.status == "awaiting_payment"
    retry = services.payment_start(
        submission=submission, return_url=gateway.url + "/back", callback_url=callback
    )
    assert retry.pk != payment.pk and retry.status == "created"


def test_a_forged_callback_is_refused(client, db):
    body = b'{"id": "pay_x", "reference": "PAY-X", "status": "succeeded", "amount": 300, "paid_at": null}'
    response = client.post(reverse("procedures:payment_callback"), body, content_type="application/json",
                           headers={"X-Gateway-Signature": "t=1,v1=00"})  # fmt: skip
    assert response.status_code == 400
