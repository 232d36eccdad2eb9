"""The resident's "My points" at the municipal desk (issue #4, desk mode for every step): the clerk shows the
resident being served their service, mode, points so far, headroom and the history of grants and clawbacks;
nobody else's, only at a desk of the clerk's municipality, each viewing recorded against clerk and resident."""

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from madoguchi.core.models import AuditRecord
from madoguchi.identity.desk import SESSION_KEY
from madoguchi.identity.models import DeskSession
from madoguchi.identity.models import StaffRole as SR
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.points import services
from madoguchi.points.models import Application
from madoguchi.points.services import ApplicationRequest
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = pytest.mark.django_db

READ = "points.desk_points_read"


def shown(msgid: str, html: str) -> bool:
    """The message, in the language the pages are shown in (Japanese once translated), is on the page."""
    with translation.override("ja"):
        text = gettext(msgid)
    return text in html or escape(text) in html


def enrol(resident, campaign, provider, account: str, mode: str = "charge") -> Application:
    sandbox_account(provider, account)
    services.reservation_create(resident=resident, campaign=campaign, actor=resident.user)
    request = ApplicationRequest(provider, mode, account, account, "123")
    return services.application_submit(
        resident=resident, campaign=campaign, request=request, actor=resident.user
    )


def charge(provider, account: str, amount: int, tx_id: str, kind: str = "charge"):
    return services.transactions_record(
        provider=provider,
        items=[{"id": tx_id, "account": account, "kind": kind, "amount": amount,
                "occurred_at": timezone.now().isoformat()}],
    )[0]  # fmt: skip


def serve(client, municipality, clerk, resident) -> DeskSession:
    """A desk session of `municipality` in which `resident` has identified, open in the clerk's browser."""
    now = timezone.now()
    session = DeskSession.objects.create(municipality=municipality, clerk=clerk, resident=resident,
                                         identified_at=now, last_activity_at=now)  # fmt: skip
    stored = client.session
    stored[SESSION_KEY] = session.pk
    stored.save()
    return session


@pytest.fixture
def desk_client(client, two_municipalities, campaign, provider):
    """A desk clerk of `mine`, signed in with TOTP, serving a resident who applied with charge mode."""
    mine, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=mine, role=SR.Role.DESK_CLERK).user
    sign_in_staff(client, clerk)
    resident = make_resident()
    client.application = enrol(resident, campaign, provider, "acct-served")
    client.desk = serve(client, mine, clerk, resident)
    client.municipality, client.clerk, client.resident = mine, clerk, resident
    client.url = reverse("points_desk:mine", args=[mine.code])
    return client


def test_the_url_names_no_resident(desk_client):
    client = desk_client
    # Whose points these are comes from the desk session only: the URL is the same for every resident.
    assert client.url == f"/{client.municipality.code}/staff/desk/points/mine/"
    assert client.get(client.url).request["QUERY_STRING"] == ""


def test_the_served_residents_points_headroom_and_history(desk_client, campaign, provider):
    client = desk_client
    assert charge(provider, "acct-served", 4000, "tx-1").granted == 1000
    assert charge(provider, "acct-served", 2000, "tx-2").granted == 500
    assert charge(provider, "acct-served", 100, "tx-wrong", kind="purchase").granted == 0  # not history
    refund = services.refunds_record(provider=provider, items=[{"id": "r-1", "original_id": "tx-1",
                                                                "amount": 2000}])[0]  # fmt: skip
    assert refund.granted == -500

    page = client.get(client.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert page.templates[0].name == "points/desk/mine.html"
    assert campaign.name in html and provider.name in html
    assert escape(client.application.get_mode_display()) in html
    summary = page.context["summaries"][0]
    assert (summary.granted, summary.remaining, summary.cap) == (1000, 4000, 5000)
    assert "1,000" in html and "4,000" in html  # points so far, headroom left
    assert [(tx.points, tx.remaining) for tx in page.context["page"]] == [
        (-500, 4000),
        (500, 3500),
        (1000, 4000),
    ]
    assert shown("Taken back (refund)", html) and shown("Granted", html)
    # The history is a table a screen reader can read, and the resident being served is named (MyKey ID).
    assert "<caption" in html and '<th scope="col"' in html
    assert client.resident.mykey_id in html
    # No CSV at the desk: nothing about the resident is saved on a shared terminal.
    assert reverse("points:mine_csv", args=[client.application.pk]) not in html


def test_each_viewing_is_recorded_against_the_clerk_and_the_resident(desk_client):
    client = desk_client
    assert client.get(client.url).status_code == 200
    record = AuditRecord.objects.get(action=READ)
    assert record.actor_id == str(client.clerk.pk) and record.municipality_id == client.municipality.pk
    assert record.target_type == "points.application" and record.target_id == str(client.application.pk)
    assert record.details["desk_session"] == client.desk.pk
    assert record.details["resident"] == client.resident.pk
    assert record.details["applications"] == [client.application.pk]
    assert client.get(client.url).status_code == 200
    assert AuditRecord.objects.filter(action=READ).count() == 2


def test_only_the_resident_being_served_is_shown(desk_client, campaign, provider):
    client = desk_client
    someone = make_resident()
    theirs = enrol(someone, campaign, provider, "acct-someone")
    charge(provider, "acct-someone", 7777, "tx-someone")  # 1,944 points
    charge(provider, "acct-served", 400, "tx-served")  # 100 points

    html = client.get(client.url).content.decode()
    assert "1,944" not in html and someone.mykey_id not in html
    assert [tx.points for tx in client.get(client.url).context["page"]] == [100]
    # Another resident's application asked for by its number is not found, and nothing is recorded for it.
    before = AuditRecord.objects.filter(action=READ).count()
    assert client.get(client.url, {"application": theirs.pk}).status_code == 404
    assert AuditRecord.objects.filter(action=READ).count() == before

    # "Next resident", then `someone` identifies: the same URL now shows theirs, and never the previous one's.
    DeskSession.objects.filter(pk=client.desk.pk).update(ended_at=timezone.now(), end_reason="next")
    serve(client, client.municipality, client.clerk, someone)
    after = client.get(client.url)
    assert [tx.points for tx in after.context["page"]] == [1944]
    assert client.resident.mykey_id not in after.content.decode()


def test_applications_made_for_a_child_are_shown_with_their_history(desk_client, campaign, provider):
    client = desk_client
    child = make_resident()
    for_child = enrol(child, campaign, provider, "acct-child")
    Application.objects.filter(pk=for_child.pk).update(representative=client.resident)
    charge(provider, "acct-child", 800, "tx-child")  # 200 points

    page = client.get(client.url)
    assert [s.application.pk for s in page.context["children"]] == [for_child.pk]
    assert f"?application={for_child.pk}#history" in page.content.decode()
    history = client.get(client.url, {"application": for_child.pk})
    assert history.status_code == 200 and history.context["selected_for_child"]
    assert [tx.points for tx in history.context["page"]] == [200]


def test_a_resident_who_has_not_applied(client, two_municipalities, campaign):
    mine, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=mine, role=SR.Role.DESK_CLERK).user
    sign_in_staff(client, clerk)
    serve(client, mine, clerk, make_resident())
    page = client.get(reverse("points_desk:mine", args=[mine.code]))
    assert page.status_code == 200 and page.context["page"] is None
    assert shown("This resident has not applied for any campaign yet.", page.content.decode())


def test_the_desk_index_links_to_the_points(desk_client):
    html = desk_client.get(
        reverse("points_desk:index", args=[desk_client.municipality.code])
    ).content.decode()
    assert f'href="{desk_client.url}"' in html


def test_no_resident_being_served_is_told_to_identify_first(desk_client):
    client = desk_client
    DeskSession.objects.filter(pk=client.desk.pk).update(ended_at=timezone.now(), end_reason="next")
    now = timezone.now()
    nobody = DeskSession.objects.create(
        municipality=client.municipality, clerk=client.clerk, last_activity_at=now
    )
    stored = client.session
    stored[SESSION_KEY] = nobody.pk
    stored.save()
    refused = client.get(client.url)
    html = refused.content.decode()
    assert refused.status_code == 403 and refused.templates[0].name == "points/desk/refused.html"
    assert shown("No resident is identified at this desk. Ask the resident to identify with their My Number "
                 "Card first.", html)  # fmt: skip
    assert reverse("web:staff_desk", args=[client.municipality.code]) in html  # the way to the desk's start
    assert "acct-served" not in html and client.resident.mykey_id not in html

    stored = client.session
    del stored[SESSION_KEY]
    stored.save()
    closed = client.get(client.url)
    assert closed.status_code == 403
    assert shown("No desk session is open. Start one on the desk page, then ask the resident to identify with "
                 "their My Number Card.", closed.content.decode())  # fmt: skip
    assert not AuditRecord.objects.filter(action=READ).exists()


def test_a_clerk_of_another_municipality_is_refused(desk_client, two_municipalities):
    client, served = desk_client, desk_client.resident
    mine, other = two_municipalities
    outsider = StaffRoleFactory(municipality=other, role=SR.Role.DESK_CLERK).user
    client.logout()
    sign_in_staff(client, outsider)
    refused = client.get(reverse("points_desk:mine", args=[mine.code]))
    assert refused.status_code == 403
    assert served.mykey_id not in refused.content.decode()
    # Nor through a desk session of their own municipality serving the same resident: the URL's municipality
    # must be the desk session's.
    serve(client, other, outsider, served)
    assert client.get(reverse("points_desk:mine", args=[mine.code])).status_code == 403
    assert not AuditRecord.objects.filter(action=READ).exists()


def test_a_desk_session_of_another_municipality_is_refused(desk_client, two_municipalities):
    client = desk_client
    _mine, other = two_municipalities
    StaffRoleFactory(municipality=other, role=SR.Role.DESK_CLERK, user=client.clerk)
    refused = client.get(reverse("points_desk:mine", args=[other.code]))
    assert refused.status_code == 403 and client.resident.mykey_id not in refused.content.decode()
    assert not AuditRecord.objects.filter(action=READ).exists()


def test_a_resident_is_refused(client, two_municipalities, campaign, provider):
    mine, _other = two_municipalities
    resident = make_resident()
    enrol(resident, campaign, provider, "acct-own")
    client.force_login(resident.user)
    url = reverse("points_desk:mine", args=[mine.code])
    refused = client.get(url)
    # A resident has no staff sign-in (password + TOTP): sent to the staff MFA step, never shown the page.
    assert refused.status_code == 302 and refused["Location"].startswith(reverse("web:staff_mfa"))
    assert not AuditRecord.objects.filter(action=READ).exists()
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/points/mine/" not in anonymous["Location"].split("?")[0]
