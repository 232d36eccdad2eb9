"""A whole e-application in a real browser: a resident signs in with the card, answers the steps on a phone,
checks the answers, signs them with the signing certificate, pays the fee on the (sandbox) gateway's hosted
page, gets a reference number; a staff member then accepts the application. axe-core checks every applicant
page on the way (no serious or critical WCAG 2.1 A/AA violation)."""

import json
import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.identity.demo import DEMO_CARD_PASSWORD, DEMO_CARD_PIN
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.procedures import services
from madoguchi.procedures.models import Procedure, Submission

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        "madoguchi.sandboxgateway" not in settings.INSTALLED_APPS,
        reason="the sandbox gateway is a development app",
    ),
]


@pytest.fixture
def signed_paid_procedure(live_server, settings, monkeypatch):
    """A municipality's own procedure that needs both a signature and a fee (粗大ごみ収集, 300 yen)."""
    from madoguchi.sandboxgateway import services as sandbox

    settings.FEE_GATEWAY_BASE_URL = live_server.url + "/sandbox-gateway"
    monkeypatch.setattr(sandbox, "CALLBACK_BACKOFF", (0, 0))
    services.catalogue_load()
    town = MunicipalityFactory(name="窓口町", kana="マドグチマチ")
    procedure = services.procedure_create(
        municipality=town, actor=None, code="sodai-gomi-e2e", name="粗大ごみ収集申込", category="kurashi",
        signature_required=True, fee_yen=300,
    )  # fmt: skip
    definition = json.loads((services.DATA_DIR / "forms" / "sodai-gomi.json").read_text(encoding="utf-8"))
    services.form_draft_save(procedure=procedure, definition=definition, actor=None)
    services.form_publish(procedure=procedure, actor=None)
    services.procedure_set_status(procedure=procedure, actor=None, status=Procedure.Status.PUBLISHED)
    return procedure


def test_signed_and_paid_application_then_the_staff_decision(page, axe_check, jpki, signed_paid_procedure):
    procedure = signed_paid_procedure
    base = f"/{procedure.municipality.code}/procedures/{procedure.code}/"
    page.goto(base)
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("粗大ごみ収集申込")
    page.get_by_role("link", name=re.compile("マイナンバーカードでログイン")).last.click()

    # The card sign-in brings the resident back to the procedure.
    page.get_by_label("デモ用カード").select_option("yamada")
    page.get_by_label("暗証番号（数字4桁）").fill(DEMO_CARD_PIN)
    page.get_by_role("button", name="ログイン", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(base) + "$"))
    page.get_by_role("link", name=re.compile("申請を始める|Start now")).click()

    # Step 1: applicant (the postcode button fills the address without JavaScript as well).
    expect(page.locator("progress")).to_be_attached()
    axe_check(page)
    page.locator('[name="applicant_name"]').fill("山田 太郎")
    page.locator('[name="applicant_postcode"]').fill("1000001")
    page.locator('button[value="lookup:applicant_postcode"]').click()
    expect(page.locator('[name="applicant_address"]')).to_have_value("東京都千代田区千代田")
    page.locator('[name="applicant_address"]').fill("東京都千代田区千代田1-1")
    page.locator('[name="applicant_phone"]').fill("03-1234-5678")
    page.locator('button[value="next"]').click()

    # Step 2: items (a repeating group); first an error, tied to its field.
    page.locator('button[value="next"]').click()
    expect(page.locator("#error-summary")).to_be_visible()
    axe_check(page)
    page.locator('[name="items.0.item_type"]').select_option("futon")
    page.locator('[name="items.0.item_quantity"]').fill("2")
    page.locator('button[value="next"]').click()

    # Step 3: the date, in 和暦.
    axe_check(page)
    page.locator('[name="preferred_date"]').fill("令和20年4月1日")
    page.locator('button[value="next"]').click()

    # Check your answers, then sign.
    expect(page).to_have_url(re.compile(r"/apply/check/$"))
    axe_check(page)
    expect(page.locator(".proc-answers")).to_contain_text("令和20年4月1日")
    page.locator("a.button--primary").click()
    axe_check(page)
    page.get_by_label(re.compile("カード|Card")).select_option("yamada")
    page.locator('[name="password"]').fill(DEMO_CARD_PASSWORD)
    page.locator("main button.button--primary").click()

    # Pay on the gateway's hosted page.
    expect(page).to_have_url(re.compile(r"/procedures/pay/"))
    axe_check(page)
    page.locator("main button.button--primary").click()
    expect(page).to_have_url(re.compile(r"/sandbox-gateway/pay/"))
    page.locator('[name="card_number"]').fill("4242 4242 4242 4242")
    page.locator('button[value="pay"]').click()

    # Back on the platform: the reference number and the status code.
    expect(page).to_have_url(re.compile(r"/procedures/done/"))
    axe_check(page)
    submission = Submission.objects.get()
    expect(page.locator(".proc-reference").first).to_have_text(submission.reference)
    assert submission.status == "submitted" and submission.payment_state == "paid"
    revision = submission.revisions.get()
    assert revision.signed and revision.answers["preferred_date"] == "2038-04-01"

    # The staff decision, in a staff session of the same municipality (password + TOTP done by the test client).
    staff = StaffRoleFactory(municipality=procedure.municipality, role=StaffRole.Role.MUNICIPAL_ADMIN).user
    client = Client()
    sign_in_staff(client, staff)
    staff_context = page.context.browser.new_context(
        locale="ja-JP", base_url=page.url.split("/procedures/")[0]
    )
    staff_context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                                "url": page.url.split("/procedures/")[0]}])  # fmt: skip
    staff_page = staff_context.new_page()
    staff_page.goto(f"/{procedure.municipality.code}/staff/procedures/cases/{submission.reference}/")
    staff_page.locator('[name="t-to"]').select_option("accepted")
    staff_page.locator('[name="t-message"]').fill("収集日は4月1日です。")
    staff_page.locator('form:has([name="t-to"]) button[type=submit]').click()
    expect(staff_page.locator(".proc-details")).to_contain_text(re.compile("受理|accepted"))
    staff_context.close()
    submission.refresh_from_db()
    assert submission.status == "accepted" and submission.decided_at is not None

    # The applicant sees the decision and its message.
    page.goto(f"/procedures/mine/{submission.reference}/")
    axe_check(page)
    expect(page.locator(".proc-timeline")).to_contain_text("収集日は4月1日です。")


def test_catalogue_search_and_status_pages_pass_axe(page, axe_check, signed_paid_procedure):
    procedure = signed_paid_procedure
    page.goto("/procedures/?q=そだいごみ")
    axe_check(page)
    expect(page.locator(".proc-list")).to_contain_text("粗大ごみ収集申込")
    page.goto(f"/{procedure.municipality.code}/procedures/")
    axe_check(page)
    page.goto("/procedures/status/")
    axe_check(page)
    page.locator('[name="reference"]').fill("13101-XXXXX-XXXXX")
    page.locator('[name="secret"]').fill("WRONG")
    page.locator("main button.button--primary").click()
    expect(page.locator('[role="alert"]')).to_be_visible()
    axe_check(page)
