"""Leak reports (漏えい等報告) and data-subject requests: the deadlines the law sets, through the staff pages,
with the clock fixed by time_machine (nothing is timed)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.privacy import deadlines
from madoguchi.privacy.models import DataSubjectRequest, LeakReport

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")


def at(y, m, d):
    return time_machine.travel(datetime(y, m, d, 10, tzinfo=JST), tick=False)


def test_leak_deadlines_rule():
    plain = deadlines.leak_deadlines(discovered_on=date(2024, 4, 1), kinds=["sensitive"], affected_count=3)
    assert plain.reportable and plain.preliminary_target == date(2024, 4, 4)
    assert plain.preliminary_due == date(2024, 4, 6) and plain.final_due == date(2024, 4, 30)  # day 1 = 4/1
    unlawful = deadlines.leak_deadlines(discovered_on=date(2024, 4, 1), kinds=["unlawful"], affected_count=0)
    assert unlawful.final_due == date(2024, 5, 30) and unlawful.final_days == 60
    assert deadlines.leak_deadlines(discovered_on=date(2024, 4, 1), kinds=[], affected_count=101).reportable
    assert not deadlines.leak_deadlines(
        discovered_on=date(2024, 4, 1), kinds=[], affected_count=100
    ).reportable


def test_request_deadlines_rule():
    received = date(2024, 4, 1)
    assert deadlines.request_due(kind="disclosure", received_on=received) == date(2024, 5, 1)
    assert deadlines.request_due(kind="correction", received_on=received, extended=True) == date(2024, 5, 31)
    assert deadlines.request_due(kind="erasure", received_on=received, correction_days=5) == date(2024, 5, 6)


@pytest.fixture
def staff(two_municipalities):
    town, _other = two_municipalities
    client = Client()
    sign_in_staff(client, StaffRoleFactory(municipality=town, role=StaffRole.Role.MUNICIPAL_ADMIN).user)
    return client


def test_leak_report_pages_show_due_dates_and_overdue(staff, two_municipalities):
    town, other = two_municipalities
    with at(2024, 4, 2):
        response = staff.post(reverse("privacy_staff:leak_new", args=[town.code]), {
            "title": "委託先からの住民情報の流出", "discovered_on": "2024-04-01", "affected_count": "150",
            "kinds": ["unlawful"],
        })  # fmt: skip
        assert response.status_code == 302
        report = LeakReport.objects.get()
        assert report.kinds == ["unlawful", "over_100"]
        page = staff.get(response.url).content.decode()
        assert "2024-04-06" in page and "2024-05-30" in page and "badge--error" not in page
    with at(2024, 4, 8):
        listing = staff.get(reverse("privacy_staff:leaks", args=[town.code])).content.decode()
        assert listing.count("badge--error") == 1  # the preliminary report is late, the final one is not
        staff.post(response.url, {"preliminary_reported_on": "2024-04-08"})
        report.refresh_from_db()
        assert report.preliminary_reported_on == date(2024, 4, 8)
        assert (
            "badge--error" not in staff.get(reverse("privacy_staff:leaks", args=[town.code])).content.decode()
        )
    with at(2024, 5, 31):
        assert "badge--error" in staff.get(reverse("privacy_staff:leaks", args=[town.code])).content.decode()
    stranger = Client()
    sign_in_staff(stranger, StaffRoleFactory(municipality=other).user)
    assert stranger.get(reverse("privacy_staff:leak", args=[other.code, report.reference])).status_code == 404
    assert stranger.get(reverse("privacy_staff:leak", args=[town.code, report.reference])).status_code == 403


def test_data_subject_request_pages_show_due_dates(staff, two_municipalities):
    town, other = two_municipalities
    with at(2024, 4, 1):
        response = staff.post(reverse("privacy_staff:request_new", args=[town.code]), {
            "kind": "disclosure", "received_on": "2024-04-01", "requester": "窓口 花子", "details": "住民票の写し交付記録",
        })  # fmt: skip
        assert response.status_code == 302
        request = DataSubjectRequest.objects.get()
        page = staff.get(response.url).content.decode()
        # Due 30 calendar days after receipt (法第83条); 21 business days left (4/29 昭和の日 excluded).
        assert "2024-05-01" in page and "法第83条" in page and ": 21)" in page
        staff.post(response.url, {"action": "extend", "reason": ""})  # an extension needs its reasons
        request.refresh_from_db()
        assert request.status == "received"
        staff.post(response.url, {"action": "extend", "reason": "対象文書が大量であるため"})
        assert "2024-05-31" in staff.get(response.url).content.decode()
    with at(2024, 6, 3):
        assert (
            "badge--error" in staff.get(reverse("privacy_staff:requests", args=[town.code])).content.decode()
        )
        staff.post(
            response.url,
            {"action": "answer", "decision": "partly", "answer": "一部開示", "answered_on": "2024-06-03"},
        )
        request.refresh_from_db()
        assert request.status == "answered" and request.decision == "partly"
        assert (
            "badge--error"
            not in staff.get(reverse("privacy_staff:requests", args=[town.code])).content.decode()
        )
    stranger = Client()
    sign_in_staff(stranger, StaffRoleFactory(municipality=other).user)
    assert (
        stranger.get(reverse("privacy_staff:request", args=[other.code, request.reference])).status_code
        == 404
    )
    assert (
        "窓口 花子" not in stranger.get(reverse("privacy_staff:requests", args=[other.code])).content.decode()
    )


def test_demo_loads_a_file_a_call_and_a_proposal_at_review(public_bodies):
    import io

    from madoguchi.privacy import demo
    from madoguchi.privacy.models import PersonalInfoFile, Proposal

    demo.load_demo(stdout=io.StringIO())
    demo.load_demo(stdout=io.StringIO())  # idempotent
    file = PersonalInfoFile.objects.get()
    assert file.municipality.code == "131016" and file.record_count == 30162
    assert Proposal.objects.get().status == "in_review"
