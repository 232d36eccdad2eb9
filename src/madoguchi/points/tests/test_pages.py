"""マイナポイント pages: the resident's flow, the desk's two-step application, the provider's CSV upload."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from madoguchi.core.models import AuditRecord
from madoguchi.identity.desk import SESSION_KEY
from madoguchi.identity.models import DeskSession
from madoguchi.identity.models import StaffRole as SR
from madoguchi.identity.tests.factories import StaffRoleFactory, UserFactory, sign_in_staff
from madoguchi.points import services
from madoguchi.points.models import Application, Campaign, PointAccount, ProviderTransaction, Reservation
from madoguchi.points.services import ApplicationRequest
from madoguchi.points.tests.conftest import make_resident, sandbox_account
from madoguchi.points.views import PENDING_KEY

# Until conf/urls.py includes the points URLs, the tests use a urlconf that adds them to the project's.
pytestmark = pytest.mark.django_db


def apply_data(provider, account="acct-1", confirm=None, code="123", mode="charge", **extra):
    data = {
        "provider": str(provider.pk),
        "mode": mode,
        "service_account": account,
        "service_account_confirm": account if confirm is None else confirm,
        "security_code": code,
        "acknowledge": "on",
    }
    return data | extra


def charge(provider, account, amount, tx_id):
    return services.transactions_record(
        provider=provider,
        items=[{"id": tx_id, "account": account, "kind": "charge", "amount": amount,
                "occurred_at": timezone.now().isoformat()}],
    )[0]  # fmt: skip


@pytest.fixture
def resident_client(client, campaign, provider):
    sandbox_account(provider, "acct-1")
    resident = make_resident()
    client.force_login(resident.user)
    client.resident = resident
    return client


def _shown(msgid: str, html: str) -> bool:
    """The message, in the language the pages are shown in (Japanese once translated), is on the page."""
    with translation.override("ja"):
        text = gettext(msgid)
    return text in html or escape(text) in html  # template literals are not escaped, variables are


def field_is_invalid(html: str, name: str) -> bool:
    return (
        f'name="{name}"' in html and 'aria-invalid="true"' in html.split(f'name="{name}"', 1)[1].split(">")[0]
    )


# --- Residents ---------------------------------------------------------------------------------------------
def test_the_whole_resident_flow(resident_client, campaign, provider):
    client, resident = resident_client, resident_client.resident

    page = client.get(reverse("points:index"))
    html = page.content.decode()
    assert page.status_code == 200 and campaign.name in html
    end = timezone.localtime(campaign.application_ends_at)
    assert f"{end.year}年{end.month}月{end.day}日" in html  # windows in Japanese date format
    assert reverse("points:reserve", args=[campaign.code]) in html
    assert reverse("points:apply", args=[campaign.code]) not in html  # not before the reservation

    response = client.post(reverse("points:reserve", args=[campaign.code]))
    assert response.status_code == 302 and Reservation.objects.filter(resident=resident).exists()
    html = client.get(reverse("points:index")).content.decode()
    assert reverse("points:apply", args=[campaign.code]) in html

    form_page = client.get(reverse("points:apply", args=[campaign.code]))
    html = form_page.content.decode()
    assert 'type="radio" name="provider"' in html and 'type="password" name="security_code"' in html
    assert provider.name in html

    response = client.post(reverse("points:apply", args=[campaign.code]), apply_data(provider))
    assert response.status_code == 302
    assert response["Location"] == reverse("points:applied", args=[campaign.code])
    application = Application.objects.get(resident=resident)
    assert application.clerk is None and application.desk_session is None
    done = client.get(response["Location"])
    assert f'<span class="points-reference">{application.pk}</span>' in done.content.decode()
    # Applying again is not offered: the choice is final.
    assert client.get(reverse("points:apply", args=[campaign.code]))["Location"] == response["Location"]

    assert charge(provider, "acct-1", 5000, "tx-1").granted == 1250
    mine = client.get(reverse("points:mine"))
    html = mine.content.decode()
    assert mine.status_code == 200 and provider.name in html
    assert "1,250" in html and "3,750" in html  # points so far, headroom left
    assert [tx.points for tx in mine.context["page"]] == [1250]


def test_history_is_newest_first_with_clawbacks_and_paginated(resident_client, campaign, provider):
    client = resident_client
    client.post(reverse("points:reserve", args=[campaign.code]))
    client.post(reverse("points:apply", args=[campaign.code]), apply_data(provider))
    for n in range(23):
        charge(provider, "acct-1", 100, f"tx-{n}")  # 25 points each
    services.refunds_record(provider=provider, items=[{"id": "r-1", "original_id": "tx-0", "amount": 100}])
    services.transactions_record(provider=provider, items=[  # a row that moved no points is not history
        {"id": "tx-wrong", "account": "acct-1", "kind": "purchase", "amount": 100,
         "occurred_at": timezone.now().isoformat()}])  # fmt: skip
    first = client.get(reverse("points:mine"))
    rows = list(first.context["page"])
    assert len(rows) == 20 and rows[0].points == -25  # the clawback, newest
    second = client.get(reverse("points:mine"), {"page": 2})
    assert len(list(second.context["page"])) == 4
    assert all(tx.points != 0 for tx in second.context["page"])


def test_my_points_csv(resident_client, campaign, provider):
    client = resident_client
    client.post(reverse("points:reserve", args=[campaign.code]))
    client.post(reverse("points:apply", args=[campaign.code]), apply_data(provider))
    charge(provider, "acct-1", 4000, "=HYPERLINK(1)")
    services.refunds_record(
        provider=provider, items=[{"id": "r-1", "original_id": "=HYPERLINK(1)", "amount": 400}]
    )
    application = Application.objects.get(resident=client.resident)
    response = client.get(reverse("points:mine_csv", args=[application.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 3
    assert [r[3] for r in rows[1:]] == ["-100", "1000"]  # newest first: the clawback, then the grant
    assert rows[2][6] == "'=HYPERLINK(1)"  # a provider's id never becomes a spreadsheet formula
    # Someone else's history is not there for the asking.
    other = make_resident()
    client.force_login(other.user)
    assert client.get(reverse("points:mine_csv", args=[application.pk])).status_code == 404


def test_refusals_are_shown_on_the_fields(resident_client, campaign, provider):
    client = resident_client
    client.post(reverse("points:reserve", args=[campaign.code]))
    url = reverse("points:apply", args=[campaign.code])

    mismatch = client.post(url, apply_data(provider, confirm="acct-l"))
    assert mismatch.status_code == 200
    assert list(mismatch.context["form"].errors) == ["service_account_confirm"]
    html = mismatch.content.decode()
    assert field_is_invalid(html, "service_account_confirm") and not field_is_invalid(html, "service_account")
    assert 'id="id_service_account_confirm_error"' in html and "field--invalid" in html

    wrong_code = client.post(url, apply_data(provider, code="999"))
    errors = wrong_code.context["form"].errors
    assert {"security_code", "service_account", "__all__"} <= set(errors)
    html = wrong_code.content.decode()
    assert field_is_invalid(html, "security_code")
    assert 'value="999"' not in html  # the security code is never sent back

    unticked = client.post(url, apply_data(provider, acknowledge=""))
    assert list(unticked.context["form"].errors) == ["acknowledge"]
    assert Application.objects.count() == 0


def test_full_width_ids_are_read_as_ascii(resident_client, campaign, provider):
    client = resident_client
    client.post(reverse("points:reserve", args=[campaign.code]))
    client.post(reverse("points:apply", args=[campaign.code]), apply_data(provider, account="ａｃｃｔ－１"))
    assert Application.objects.get().service_account == "acct-1"


def test_reservations_closed_when_the_budget_is_fully_reserved(resident_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(reservations=campaign.reservation_capacity)
    html = resident_client.get(reverse("points:index")).content.decode()
    assert _shown("Reservations have closed: the campaign's budget is fully reserved.", html)
    assert reverse("points:reserve", args=[campaign.code]) not in html
    response = resident_client.post(reverse("points:reserve", args=[campaign.code]), follow=True)
    assert not Reservation.objects.exists()
    assert [m.level_tag for m in response.context["messages"]] == ["error"]


def test_resident_pages_need_a_resident(client, campaign):
    for url in (
        reverse("points:index"),
        reverse("points:mine"),
        reverse("points:apply", args=[campaign.code]),
    ):
        anonymous = client.get(url)
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith(reverse("web:resident_sign_in"))
    staff = UserFactory()
    client.force_login(staff)
    refused = client.get(reverse("points:index"))
    assert refused.status_code == 403
    assert "マイナンバーカードでログインした住民の方専用です" in refused.content.decode()


# --- The desk ----------------------------------------------------------------------------------------------
@pytest.fixture
def desk_client(client, two_municipalities, campaign, provider):
    """A desk clerk of `mine`, signed in with TOTP, serving a resident identified in desk mode."""
    mine, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=mine, role=SR.Role.DESK_CLERK).user
    sign_in_staff(client, clerk)
    resident = make_resident()
    now = timezone.now()
    desk = DeskSession.objects.create(municipality=mine, clerk=clerk, resident=resident, identified_at=now,
                                      last_activity_at=now)  # fmt: skip
    session = client.session
    session[SESSION_KEY] = desk.pk
    session.save()
    sandbox_account(provider, "MP-7Q0O-1lI8")
    client.municipality, client.clerk, client.resident, client.desk = mine, clerk, resident, desk
    return client


def desk_url(client, name, *args):
    return reverse(f"points_desk:{name}", args=[client.municipality.code, *args])


def test_desk_application_records_the_clerk(desk_client, campaign, provider):
    client, desk = desk_client, desk_client.desk
    page = client.get(desk_url(client, "index"))
    assert page.status_code == 200 and client.resident.mykey_id in page.content.decode()

    client.post(desk_url(client, "reserve", campaign.code), {"desk_session": desk.pk})
    reservation = Reservation.objects.get(resident=client.resident)
    assert reservation.desk_session == desk

    data = apply_data(provider, account="MP-7Q0O-1lI8", desk_session=desk.pk)
    step1 = client.post(desk_url(client, "apply", campaign.code), data)
    assert step1.status_code == 302 and step1["Location"] == desk_url(client, "confirm", campaign.code)
    assert not Application.objects.exists()  # nothing is sent before the confirmation

    confirm = client.get(step1["Location"])
    html = confirm.content.decode()
    assert '<p class="points-id" lang="en" translate="no">MP-7Q0O-1lI8</p>' in html  # shown back, large
    assert 'value="123"' not in html  # the security code is not on the page

    done = client.post(step1["Location"], {"desk_session": desk.pk})
    assert done.status_code == 302 and done["Location"] == desk_url(client, "applied", campaign.code)
    application = Application.objects.get(resident=client.resident)
    assert application.clerk == client.clerk and application.desk_session == desk
    assert application.municipality == client.municipality
    record = AuditRecord.objects.get(action="points.application_submit")
    assert record.actor_id == str(client.clerk.pk)
    assert record.details["desk_session"] == desk.pk and record.details["resident"] == client.resident.pk
    assert PENDING_KEY not in client.session  # the security code does not outlive the submission
    applied = client.get(done["Location"])
    assert f'<span class="points-reference">{application.pk}</span>' in applied.content.decode()


def test_desk_refusal_goes_back_to_the_form(desk_client, campaign, provider):
    client, desk = desk_client, desk_client.desk
    client.post(desk_url(client, "reserve", campaign.code), {"desk_session": desk.pk})
    mismatch = client.post(desk_url(client, "apply", campaign.code),
                           apply_data(provider, account="MP-7Q0O-1lI8", confirm="MP-7QO0-1lI8",
                                      desk_session=desk.pk))  # fmt: skip
    assert mismatch.status_code == 200 and "service_account_confirm" in mismatch.context["form"].errors
    client.post(desk_url(client, "apply", campaign.code),
                apply_data(provider, account="MP-7Q0O-1lI8", code="000", desk_session=desk.pk))  # fmt: skip
    refused = client.post(desk_url(client, "confirm", campaign.code), {"desk_session": desk.pk})
    assert refused.status_code == 200 and "security_code" in refused.context["form"].errors
    assert field_is_invalid(refused.content.decode(), "security_code")
    assert not Application.objects.exists()


def test_desk_pages_refuse_a_stale_page_or_no_resident(desk_client, campaign, provider):
    client, desk = desk_client, desk_client.desk
    stale = client.post(desk_url(client, "reserve", campaign.code), {"desk_session": desk.pk + 1000})
    assert stale.status_code == 409 and not Reservation.objects.exists()
    assert stale.templates[0].name == "points/desk/refused.html"
    # Pending entries of another desk session never reach the confirmation.
    client.post(desk_url(client, "apply", campaign.code),
                apply_data(provider, account="MP-7Q0O-1lI8", desk_session=desk.pk))  # fmt: skip
    DeskSession.objects.filter(pk=desk.pk).update(ended_at=timezone.now(), end_reason="next")
    now = timezone.now()
    nobody = DeskSession.objects.create(
        municipality=client.municipality, clerk=client.clerk, last_activity_at=now
    )
    session = client.session
    session[SESSION_KEY] = nobody.pk
    session.save()
    for response in (
        client.get(desk_url(client, "index")),
        client.get(desk_url(client, "confirm", campaign.code)),
    ):
        assert response.status_code == 403
        assert _shown("No resident is identified at this desk. Ask the resident to identify with their My "
                      "Number Card first.", response.content.decode())  # fmt: skip
    DeskSession.objects.filter(pk=nobody.pk).update(resident=make_resident(), identified_at=now)
    confirm = client.get(desk_url(client, "confirm", campaign.code))
    assert confirm.status_code == 302 and confirm["Location"] == desk_url(client, "apply", campaign.code)
    assert not Application.objects.exists()


def test_desk_cannot_reach_the_confirmation_before_the_reservation(desk_client, campaign, provider):
    client, desk = desk_client, desk_client.desk
    data = apply_data(provider, account="MP-7Q0O-1lI8", desk_session=desk.pk)
    response = client.post(desk_url(client, "apply", campaign.code), data)
    assert response.status_code == 200 and PENDING_KEY not in client.session
    assert _shown("Reserve first (予約), then apply.", response.content.decode())
    assert client.get(desk_url(client, "confirm", campaign.code)).status_code == 302


def test_clerk_of_another_municipality_gets_403(client, two_municipalities, campaign):
    mine, other = two_municipalities
    outsider = StaffRoleFactory(municipality=other, role=SR.Role.DESK_CLERK).user
    sign_in_staff(client, outsider)
    response = client.get(reverse("points_desk:index", args=[mine.code]))
    assert response.status_code == 403
    response = client.post(reverse("points_desk:reserve", args=[mine.code, campaign.code]))
    assert response.status_code == 403 and not Reservation.objects.exists()


def test_desk_session_of_another_municipality_is_refused(desk_client, two_municipalities, campaign):
    client = desk_client
    _mine, other = two_municipalities
    StaffRoleFactory(municipality=other, role=SR.Role.DESK_CLERK, user=client.clerk)
    response = client.get(reverse("points_desk:index", args=[other.code]))
    assert response.status_code == 403
    assert client.municipality.full_name in response.content.decode()


# --- Payment providers' CSV upload -------------------------------------------------------------------------
@pytest.fixture
def enrolled(campaign, provider):
    sandbox_account(provider, "acct-1")
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=resident.user)
    services.application_submit(resident=resident, campaign=campaign, actor=resident.user,
                                request=ApplicationRequest(provider, "charge", "acct-1", "acct-1", "123"))  # fmt: skip
    return PointAccount.objects.get(application__resident=resident)


def upload(client, key, content: str, kind="transactions"):
    file = SimpleUploadedFile("points.csv", content.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("points:provider_upload"), {"api_key": key, "kind": kind, "file": file})


def results(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def test_provider_upload_with_a_broken_row_and_a_reupload(client, provider, enrolled):
    key = services.api_key_issue(provider=provider, actor=None)
    at = timezone.now().isoformat()
    content = (
        "id,account,kind,amount,occurred_at\n"
        f"u-1,acct-1,charge,4000,{at}\n"
        f"u-2,acct-1,charge,lots,{at}\n"  # broken: amount
        "u-3,acct-1\n"  # broken: too few fields
        f"u-4,acct-1,charge,2000,{at}\n"
    )
    page = client.get(reverse("points:provider_upload"))
    assert page.status_code == 200 and 'type="password" name="api_key"' in page.content.decode()

    first = results(upload(client, key, content))
    assert [(r["line"], r["id"], r["status"], r["granted"]) for r in first] == [
        ("2", "u-1", "granted", "1000"), ("3", "u-2", "invalid", "0"), ("4", "u-3", "invalid", "0"),
        ("5", "u-4", "granted", "500"),
    ]  # fmt: skip
    assert first[1]["message"] and first[2]["message"]
    assert first[3]["remaining"] == "3500"
    enrolled.refresh_from_db()
    assert enrolled.granted == 1500
    recorded = ProviderTransaction.objects.count()

    again = results(upload(client, key, content))
    assert [r["status"] for r in again] == ["granted", "invalid", "invalid", "granted"]
    enrolled.refresh_from_db()
    assert enrolled.granted == 1500 and ProviderTransaction.objects.count() == recorded  # nothing twice


def test_provider_upload_refunds(client, provider, enrolled):
    key = services.api_key_issue(provider=provider, actor=None)
    charge(provider, "acct-1", 4000, "t-1")
    rows = results(upload(client, key, "id,original_id,amount\nr-1,t-1,2000\nr-2,nope,10\n", kind="refunds"))
    assert [(r["status"], r["granted"]) for r in rows] == [("clawed_back", "-500"), ("unknown_original", "0")]
    enrolled.refresh_from_db()
    assert enrolled.granted == 500


def test_provider_upload_refusals(client, provider, enrolled):
    key = services.api_key_issue(provider=provider, actor=None)
    wrong_key = upload(client, "mpk_nope_nope", "id,account,kind,amount,occurred_at\n")
    assert wrong_key.status_code == 400 and "api_key" in wrong_key.context["form"].errors
    assert field_is_invalid(wrong_key.content.decode(), "api_key")

    header = upload(client, key, "id;account\n1;2\n")
    assert "file" in header.context["form"].errors

    at = timezone.now().isoformat()
    big = "id,account,kind,amount,occurred_at\n" + "".join(
        f"b-{n},acct-1,charge,1,{at}\n" for n in range(10_001)
    )
    too_many = upload(client, key, big)
    assert too_many.status_code == 400 and "10,001" in str(too_many.context["form"].errors["file"])
    assert "madoguchi points ingest" in str(too_many.context["form"].errors["file"])
    assert ProviderTransaction.objects.count() == 0


def test_campaigns_outside_every_window_are_not_listed(resident_client, campaign):
    past = timezone.now() - timedelta(days=400)
    Campaign.objects.filter(pk=campaign.pk).update(
        reservation_starts_at=past, reservation_ends_at=past, application_starts_at=past,
        application_ends_at=past, earning_starts_at=past, earning_ends_at=past,
    )  # fmt: skip
    page = resident_client.get(reverse("points:index"))
    assert page.context["statuses"] == []


def test_list_pages_do_not_query_per_row(resident_client, campaign, provider):
    client = resident_client
    client.post(reverse("points:reserve", args=[campaign.code]))
    client.post(reverse("points:apply", args=[campaign.code]), apply_data(provider))
    charge(provider, "acct-1", 100, "q-0")

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    index_one, mine_one = queries(reverse("points:index")), queries(reverse("points:mine"))
    for n in range(1, 15):
        charge(provider, "acct-1", 100, f"q-{n}")
    for n in range(3):
        extra = Campaign.objects.create(
            code=f"extra-{n}", name=f"追加{n}", kind=Campaign.Kind.PREMIUM, rate_bp=2500, cap=5000,
            modes=["charge"], budget=5000, application_starts_at=campaign.application_starts_at,
            application_ends_at=campaign.application_ends_at, earning_starts_at=campaign.earning_starts_at,
            earning_ends_at=campaign.earning_ends_at,
        )  # fmt: skip
        services.reservation_create(resident=client.resident, campaign=extra, actor=client.resident.user)
    assert queries(reverse("points:index")) == index_one
    assert queries(reverse("points:mine")) == mine_one
