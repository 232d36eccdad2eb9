"""Through the web pages: a business signs in with the development GビズID provider, applies to a call, is decided
by the issuing municipality's staff, reports and is paid. Staff of another municipality see nothing of it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.grants.demo import BUSINESS_CATEGORIES, _form
from madoguchi.grants.models import Application, BusinessProfile, Call, Programme
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.identity.tests.test_business_oidc import dev_idp, sign_in, transport  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def town_call(two_municipalities):
    town, _other = two_municipalities
    programme = Programme.objects.create(
        code="cash", name="キャッシュレス導入支援", issuer="municipality", institution_name=town.full_name,
        municipality=town, applicant_type="business", eligibility={"gbiz": ["prime", "member"]},
        expense_categories=BUSINESS_CATEGORIES, rate_num=3, rate_den=4,
    )  # fmt: skip
    now = timezone.now()
    return Call.objects.create(
        programme=programme, public_id="CASH1", name="cash", title="キャッシュレス導入支援補助金", subsidy_max_limit=500_000,
        acceptance_start_datetime=now - timedelta(days=1), acceptance_end_datetime=now + timedelta(days=30),
        form_definition=_form("申請", []), published=True, project_end_deadline=timezone.localdate() + timedelta(days=60),
    )  # fmt: skip


def test_business_applies_is_decided_reports_and_is_paid(client, dev_idp, town_call, two_municipalities):  # noqa: F811
    town, other = two_municipalities
    # Public list and detail, then GビズID sign-in (development provider, real OpenID Connect).
    assert "キャッシュレス導入支援補助金" in client.get(reverse("grants:calls")).content.decode()
    apply_url = reverse("grants:apply", args=["CASH1"])
    assert client.get(apply_url).url.startswith(reverse("business:sign_in"))
    sign_in(client, dev_idp.account("tech-prime"))
    page = client.get(apply_url)
    assert page.status_code == 200
    bad = client.post(apply_url, {"project-project_title": "", "project-planned_cost": "abc"})
    assert bad.status_code == 200 and Application.objects.count() == 0
    response = client.post(apply_url, {
        "project-project_title": "QR決済端末の導入", "project-planned_cost": "800000",
        "contact_name": "窓口 一郎", "contact_email": "ichiro@example.jp", "contact_phone": "03-1111-2222",
        "plan": "商店街の全店舗にQR決済を導入する。", "declaration": "on",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    application = Application.objects.get()
    assert application.requested_amount == 500_000  # min(800,000 × 3/4, upper limit 500,000)
    assert client.get(response.url).status_code == 200

    # The issuing municipality's reviewer decides; another municipality's staff see nothing.
    staff = Client()
    sign_in_staff(staff, StaffRoleFactory(municipality=town, role=StaffRole.Role.REVIEWER).user)
    case = reverse("grants_staff:application", args=[town.code, application.reference])
    assert (
        application.reference in staff.get(reverse("grants_staff:index", args=[town.code])).content.decode()
    )
    staff.post(case, {"action": "review"})
    staff.post(case, {"action": "decide", "amount": "450000"})  # reduced without a reason: refused
    application.refresh_from_db()
    assert application.status == "in_review"
    staff.post(case, {"action": "decide", "amount": "450000", "note": "対象外の端末を除く"})
    application.refresh_from_db()
    assert application.status == "decided" and application.decided_amount == 450_000
    notice = client.get(reverse("grants:notice", args=[application.reference]))
    assert notice.status_code == 200 and notice.content.startswith(b"%PDF")
    stranger = Client()
    sign_in_staff(stranger, StaffRoleFactory(municipality=other).user)
    assert (
        stranger.get(
            reverse("grants_staff:application", args=[other.code, application.reference])
        ).status_code
        == 404
    )
    assert stranger.get(case).status_code == 403

    # The business reports (hardware is not eligible and is excluded), staff confirm and pay.
    detail = reverse("grants:mine_detail", args=[application.reference])
    report = {"action": "report", "lines-TOTAL_FORMS": "2", "lines-INITIAL_FORMS": "0",
              "lines-0-category": "software", "lines-0-description": "QR決済アプリ", "lines-0-amount": "560000",
              "lines-1-category": "hardware", "lines-1-description": "タブレット", "lines-1-amount": "100000"}  # fmt: skip
    assert client.post(detail, report).status_code == 302
    staff.post(case, {"action": "confirm"})
    application.refresh_from_db()
    assert application.confirmed_amount == 420_000  # min(560,000 × 3/4, 450,000)
    staff.post(case, {"action": "pay", "amount": "420000", "on": timezone.localdate().isoformat()})
    application.refresh_from_db()
    assert application.status == "paid" and application.paid_amount == 420_000
    kinds = list(application.events.values_list("kind", flat=True))
    assert kinds == ["applied", "review_started", "decided_reduced", "reported", "confirmed", "paid"]


def test_entry_account_cannot_apply_where_prime_or_member_is_required(client, dev_idp, town_call):  # noqa: F811
    sign_in(client, dev_idp.account("minato-entry"))
    response = client.get(reverse("grants:apply", args=["CASH1"]))
    assert response.status_code == 302 and Application.objects.count() == 0
    detail = client.get(reverse("grants:call", args=["CASH1"])).content.decode()
    assert "プライム" in detail


def test_profile_saves_and_pushes_new_matching_calls(client, dev_idp, town_call):  # noqa: F811
    from django.core import mail

    from madoguchi.grants import services

    sign_in(client, dev_idp.account("tech-prime"))
    response = client.post(reverse("grants:profile"), {"employees": "40", "industry": "情報通信業",
                                                        "prefecture": "東京都", "keywords": "キャッシュレス", "notify": "on"})  # fmt: skip
    assert response.status_code == 302
    profile = BusinessProfile.objects.get()
    mail.outbox.clear()
    assert services.notify_matching(call=town_call) == 1
    assert services.notify_matching(call=town_call) == 0  # once per call
    assert profile.notices.count() == 1


def test_operator_pages_and_dashboard(client, town_call):
    operator = StaffRoleFactory(role=StaffRole.Role.PLATFORM_OPERATOR, municipality=None).user
    sign_in_staff(client, operator)
    assert client.get(reverse("grants_national:index")).status_code == 200
    csv_body = client.get(reverse("grants_national:dashboard"), {"by": "status", "format": "csv"})
    assert csv_body.content.decode("utf-8-sig").startswith("区分")
    town = town_call.programme.municipality
    reviewer = Client()
    sign_in_staff(reviewer, StaffRoleFactory(municipality=town).user)
    assert reviewer.get(reverse("grants_national:index")).status_code == 404
    page = reviewer.get(reverse("grants_staff:dashboard", args=[town.code]))
    assert page.status_code == 200 and 'class="table"' in page.content.decode()


def test_staff_create_a_call_whose_form_comes_from_the_builder(client, town_call):
    import io
    import json

    from madoguchi.grants.models import Call

    town = town_call.programme.municipality
    sign_in_staff(client, StaffRoleFactory(municipality=town).user)
    url = reverse("grants_staff:call_new", args=[town.code])
    assert client.get(url).status_code == 200
    now = timezone.localtime()
    data = {
        "programme": "cash", "round": "2", "name": "第2次", "title": "キャッシュレス導入支援 第2次公募",
        "target_area_search": "東京都", "acceptance_start_datetime": now.strftime("%Y-%m-%dT%H:%M"),
        "acceptance_end_datetime": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"), "publish": "on",
    }  # fmt: skip
    broken = io.BytesIO(json.dumps({"schema": 1, "title": {"ja": "x"}, "pages": []}).encode())
    broken.name = "form.json"
    assert client.post(url, {**data, "form_file": broken}).status_code == 200
    assert Call.objects.count() == 1
    assert client.post(url, data).status_code == 302
    call = Call.objects.exclude(pk=town_call.pk).get()
    assert call.public_id.startswith("a0W") and call.published and call.round == 2
