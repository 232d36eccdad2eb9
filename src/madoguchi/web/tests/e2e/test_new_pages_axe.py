"""The pages added for the マイナポイント back office, the desk's "My points" and the privacy download confirmation,
in a real browser (phone-sized, Japanese), checked with axe-core: no serious or critical WCAG 2.1 A/AA violation.

Staff and business users are signed in with Django's test client and the session cookie is handed to the browser,
as in test_procedures.py."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, UserFactory, sign_in_staff
from madoguchi.points import catalog
from madoguchi.points.models import Campaign

pytestmark = pytest.mark.e2e

needs_sandboxpay = pytest.mark.skipif(
    "madoguchi.sandboxpay" not in settings.INSTALLED_APPS,
    reason="the sandbox payment service is a development app",
)


def ja(msgid: str) -> str:
    """The message as the (Japanese) pages show it."""
    with translation.override("ja"):
        return gettext(msgid)


@pytest.fixture
def signed_in(page, live_server):
    """`signed_in(client)`: the browser page, with the session of `client` (already signed in)."""

    def hand(client: Client):
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                                   "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])  # fmt: skip
        return page

    return hand


@pytest.fixture
def operator_page(signed_in):
    """The browser, signed in as a platform operator (password + TOTP done by the test client)."""
    operator = StaffRoleFactory(operator=True).user
    client = Client()
    sign_in_staff(client, operator)
    browser_page = signed_in(client)
    browser_page.operator = operator
    return browser_page


# --- 1. The operators' back office: campaigns and payment services ---------------------------------------------
def test_catalog_campaign_pages_pass_axe(operator_page, axe_check, campaign):
    page = operator_page
    page.goto(reverse("points_ops:catalog_campaigns"))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(ja("Campaigns"))
    expect(page.locator("main")).to_contain_text(campaign.name)

    page.goto(reverse("points_ops:catalog_campaign_new"))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(ja("Create a campaign"))

    # Sent empty: the error summary, and each error tied to its field.
    page.locator("main form.form button[type=submit]").click()
    expect(page.locator('[role="alert"]')).to_be_visible()
    axe_check(page)
    code = page.locator('[name="code"]')
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(code).to_have_attribute("aria-describedby", re.compile(r"(^|\s)id_code_error(\s|$)"))
    expect(page.locator("#id_code_error")).to_be_visible()
    expect(page.locator("#id_code_error")).not_to_be_empty()
    expect(page.locator('[name="name"]')).to_have_attribute("aria-invalid", "true")
    assert not Campaign.objects.exclude(pk=campaign.pk).exists()


def test_catalog_provider_pages_pass_axe(operator_page, axe_check, provider):
    page = operator_page
    catalog.api_key_issue(provider=provider, actor=page.operator)
    key = provider.api_keys.get()

    page.goto(reverse("points_ops:catalog_providers"))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(ja("Payment services"))
    expect(page.locator("main")).to_contain_text(provider.name)

    page.goto(reverse("points_ops:catalog_provider", args=[provider.code]))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(provider.name)
    expect(page.locator("main")).to_contain_text(f"mpk_{key.prefix}_")  # the key is listed

    page.goto(reverse("points_ops:catalog_provider_new"))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(ja("Register a payment service"))


# --- 2. The desk's "My points" -----------------------------------------------------------------------------------
@needs_sandboxpay
def test_desk_my_points_passes_axe(signed_in, axe_check, two_municipalities, campaign, provider, monkeypatch):
    from madoguchi.points import providers, services
    from madoguchi.points.tests.conftest import make_resident
    from madoguchi.points.tests.test_desk_points import charge, enrol, serve

    callbacks = Client()  # the provider callback through the test client, as in the points tests

    def transport(url, body, headers):
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        response = callbacks.post("/" + path, data=body, content_type="application/json",
                                  headers={k: v for k, v in headers.items() if k != "Content-Type"})  # fmt: skip
        return response.status_code, response.content

    monkeypatch.setattr(providers, "transport", transport)

    town, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=town, role=StaffRole.Role.DESK_CLERK).user
    client = Client()
    sign_in_staff(client, clerk)
    resident = make_resident()
    enrol(resident, campaign, provider, "acct-served")
    charge(provider, "acct-served", 4000, "tx-1")
    charge(provider, "acct-served", 2000, "tx-2")
    services.refunds_record(provider=provider, items=[{"id": "r-1", "original_id": "tx-1", "amount": 2000}])
    serve(client, town, clerk, resident)

    page = signed_in(client)
    page.goto(reverse("points_desk:mine", args=[town.code]))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(ja("My points"))
    expect(page.locator("main")).to_contain_text(resident.mykey_id)
    expect(page.locator("main table caption")).to_have_count(1)
    # The history table scrolls sideways on a phone: its box can be reached and scrolled with the keyboard.
    expect(page.locator("main .table-scroll:has(table.points-history)")).to_have_attribute("tabindex", "0")


# --- 3. The privacy download confirmation (a business user's page) ---------------------------------------------
def test_privacy_download_confirmation_passes_axe(
    signed_in, axe_check, two_municipalities, tmp_path, settings
):
    from madoguchi.privacy import services
    from madoguchi.privacy.tests.test_workflow_audit6 import _created

    settings.PRIVACY_DIR = tmp_path
    settings.PRIVACY_MIN_PERSONS = 1
    town, _other = two_municipalities
    proposal = _created(town, tmp_path)
    provision, token = services.provision_issue(
        proposal=proposal, actor=UserFactory(), days=7, max_downloads=1
    )
    client = Client()
    client.force_login(proposal.user)

    page = signed_in(client)
    page.goto(reverse("privacy:download", args=[token]))
    axe_check(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{ja('Download')}: {proposal.reference}")
    expect(page.get_by_role("button", name=ja("Download the file (uses one download)"))).to_be_visible()
    provision.refresh_from_db()
    assert provision.downloads == 0  # showing the confirmation uses nothing up
