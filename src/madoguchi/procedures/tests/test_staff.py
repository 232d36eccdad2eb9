"""Staff processing: inbox isolation, workflow, messages, notices, exports, offline cases, statistics, retention."""

import io
from datetime import timedelta

import openpyxl
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.procedures import selectors, services
from madoguchi.procedures.models import Attachment, Submission, SubmissionEvent, SubmissionRevision
from madoguchi.procedures.tests.helpers import EVENT_ANSWERS, urls, walk

pytestmark = pytest.mark.django_db(databases=["default", "vault"])


@pytest.fixture
def filed(client, adopt):
    """One online application (研修・イベント申込) filed by an applicant without an account."""
    procedure = adopt("kenshu-event-moshikomi")
    walk(client, procedure, EVENT_ANSWERS)
    client.post(urls(procedure)["send"], {})
    client.logout()
    return Submission.objects.get()


def _case_url(submission):
    return reverse("procedures_staff:case", args=[submission.municipality.code, submission.reference])


def test_inbox_shows_the_case_and_a_second_municipality_sees_nothing(client, filed, other_town):
    mail.outbox.clear()
    admin = StaffRoleFactory(municipality=filed.municipality).user
    sign_in_staff(client, admin)
    inbox = client.get(reverse("procedures_staff:inbox", args=[filed.municipality.code]))
    assert inbox.status_code == 200 and filed.reference in inbox.content.decode()
    assert client.get(_case_url(filed)).status_code == 200
    client.logout()
    stranger = StaffRoleFactory(municipality=other_town).user
    sign_in_staff(client, stranger)
    assert client.get(reverse("procedures_staff:inbox", args=[filed.municipality.code])).status_code == 403
    own_inbox = client.get(reverse("procedures_staff:inbox", args=[other_town.code]))
    assert own_inbox.status_code == 200 and filed.reference not in own_inbox.content.decode()
    # Even with the reference in the URL under its own municipality, the case is not found.
    assert (
        client.get(reverse("procedures_staff:case", args=[other_town.code, filed.reference])).status_code
        == 404
    )
    assert selectors.inbox(municipality=other_town).count() == 0


def test_workflow_with_correction_and_decision_notice(client, filed):
    admin = StaffRoleFactory(municipality=filed.municipality).user
    sign_in_staff(client, admin)
    url = _case_url(filed)
    client.post(url, {"action": "assign_me"})
    client.post(url, {"action": "transition", "t-to": "in_review"})
    # A correction request needs a message; without one nothing changes.
    client.post(url, {"action": "transition", "t-to": "correction_requested"})
    filed.refresh_from_db()
    assert filed.status == "in_review" and filed.assigned_to == admin
    client.post(
        url, {"action": "transition", "t-to": "correction_requested", "t-message": "参加日を確認してください"}
    )
    filed.refresh_from_db()
    assert filed.status == "correction_requested"
    # Staff cannot jump to "resubmitted": only the applicant does that.
    with pytest.raises(services.ProcedureError):
        services.submission_transition(submission=filed, to="resubmitted", actor=admin)
    client.post(url, {"action": "transition", "t-to": "refused", "t-message": "定員に達しました"})
    filed.refresh_from_db()
    assert filed.status == "refused" and filed.decided_at and filed.retain_until
    notice = client.get(
        reverse("procedures_staff:case_notice", args=[filed.municipality.code, filed.reference])
    )
    assert notice.status_code == 200 and notice.content.startswith(b"%PDF")
    # Messages to the applicant and internal notes.
    client.post(url, {"action": "note", "body": "電話で説明済み"})
    note = SubmissionEvent.objects.get(kind="note")
    assert not note.visible_to_applicant
    statuses = list(
        AuditRecord.objects.filter(action="procedures.submission_status", target_id=str(filed.pk))
        .order_by("seq")
        .values_list("details__to", flat=True)
    )
    assert statuses == ["in_review", "correction_requested", "refused"]


def test_the_applicant_resubmits_after_a_correction_request(resident_client, adopt, jpki):
    procedure = adopt("kenshu-event-moshikomi")
    walk(resident_client, procedure, EVENT_ANSWERS)
    resident_client.post(urls(procedure)["send"], {})
    submission = Submission.objects.get()
    services.submission_transition(
        submission=submission, to="correction_requested", actor=None, message="日付を変えて"
    )
    detail = resident_client.get(reverse("procedures:mine_detail", args=[submission.reference]))
    assert "日付を変えて" in detail.content.decode()
    response = resident_client.post(
        reverse("procedures:mine_detail", args=[submission.reference]), {"action": "correct"}
    )
    assert response.url == urls(procedure)["check"]
    step = reverse("procedures:step", kwargs={"municipality_code": procedure.municipality.code, "code": procedure.code,
                                               "step": "attendance.attendance_date"})  # fmt: skip
    resident_client.post(step, {"attendance_date": "2026-06-27", "action": "next"})
    resident_client.post(urls(procedure)["send"], {})
    submission.refresh_from_db()
    assert submission.status == "resubmitted"
    first, second = SubmissionRevision.objects.order_by("number")
    assert (
        first.answers["attendance_date"] == "2026-06-20" and second.answers["attendance_date"] == "2026-06-27"
    )
    # The applicant may withdraw before a decision.
    resident_client.post(
        reverse("procedures:mine_detail", args=[submission.reference]), {"action": "withdraw"}
    )
    submission.refresh_from_db()
    assert submission.status == "withdrawn"


def test_exports_csv_and_excel(client, filed):
    sign_in_staff(client, StaffRoleFactory(municipality=filed.municipality).user)
    base = reverse("procedures_staff:inbox", args=[filed.municipality.code])
    csv_body = client.get(base, {"format": "csv"}).content.decode("utf-8-sig")
    assert csv_body.splitlines()[0].startswith("受付番号") and filed.reference in csv_body
    book = openpyxl.load_workbook(io.BytesIO(client.get(base, {"format": "xlsx"}).content))
    assert book.active["A2"].value == filed.reference


def test_offline_cases_and_statistics(client, filed, admin):
    procedure = filed.procedure
    services.submission_record_offline(
        procedure=procedure, channel="counter", actor=admin, applicant_name="窓口 太郎"
    )
    services.submission_record_offline(procedure=procedure, channel="paper", actor=admin)
    with pytest.raises(services.ProcedureError):
        services.submission_record_offline(procedure=procedure, channel="online", actor=admin)
    fy = filed.fiscal_year
    services.tally_set(procedure=procedure, fiscal_year=fy, channel="paper", count=7, actor=admin)
    [row] = selectors.usage_by_procedure(municipality=procedure.municipality, fiscal_year=fy)
    assert (row.online, row.counter, row.paper, row.total) == (1, 1, 8, 10) and row.rate == 10.0
    [national] = selectors.usage_national(fiscal_year=fy)
    assert national.key == "kenshu-event-moshikomi" and national.total == 10
    sign_in_staff(client, admin)
    page = client.get(reverse("procedures_staff:stats", args=[procedure.municipality.code]), {"fy": fy})
    assert page.status_code == 200 and "<svg" in page.content.decode() and "10.0%" in page.content.decode()
    csv_body = client.get(reverse("procedures_staff:stats", args=[procedure.municipality.code]),
                          {"fy": fy, "format": "csv"}).content.decode("utf-8-sig")  # fmt: skip
    assert "オンライン利用率" in csv_body.splitlines()[0]


def test_national_statistics_are_for_operators_only(client, filed, admin):
    sign_in_staff(client, admin)
    assert client.get(reverse("procedures_national:stats")).status_code == 404
    client.logout()
    operator = StaffRoleFactory(role=StaffRole.Role.PLATFORM_OPERATOR, municipality=None).user
    sign_in_staff(client, operator)
    assert client.get(reverse("procedures_national:stats"), {"fy": filed.fiscal_year}).status_code == 200


def test_retention_purge_removes_contents_and_leaves_a_trace(filed, admin):
    services.submission_transition(submission=filed, to="accepted", actor=admin)
    services.submission_transition(submission=filed, to="completed", actor=admin)
    filed.refresh_from_db()
    Attachment.objects.create(
        municipality=filed.municipality, procedure=filed.procedure, submission=filed, owner_key="x", field_key="f",
        name="a.pdf", content_type="application/pdf", size=3, sha256="0" * 64, data=b"abc",
    )  # fmt: skip
    assert services.retention_purge(today=filed.retain_until) == 0  # not yet
    assert services.retention_purge(today=filed.retain_until + timedelta(days=1)) == 1
    filed.refresh_from_db()
    assert filed.purged_at and filed.applicant_name == "" and not filed.revisions.exists()
    assert not Attachment.objects.filter(submission=filed).exists()
    record = AuditRecord.objects.get(action="procedures.submission_purged")
    assert record.details["reference"] == filed.reference and len(record.details["revisions"]) == 1
    # Still counted in the statistics.
    assert (
        selectors.usage_by_procedure(municipality=filed.municipality, fiscal_year=filed.fiscal_year)[0].online
        == 1
    )
    assert services.retention_purge(today=timezone.localdate() + timedelta(days=365 * 40)) == 0


def test_builder_adds_fields_with_conditions_and_publishes(client, town, admin):
    sign_in_staff(client, admin)
    procedure = services.procedure_create(
        municipality=town, actor=admin, code="own", name="独自", category="kurashi"
    )
    url = reverse("procedures_staff:builder", args=[town.code, procedure.code])
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "action": "field", "parent": "applicant", "key": "pet", "type": "choice", "label_ja": "ペット",
        "widget": "radio", "options": "dog|犬|Dog\ncat|猫|Cat", "required": "on",
    })  # fmt: skip
    assert response.status_code == 302
    client.post(url, {
        "action": "field", "parent": "applicant", "key": "dog_name", "type": "text", "label_ja": "犬の名前",
        "show_if_field": "pet", "show_if_op": "eq", "show_if_value": "dog",
    })  # fmt: skip
    # A condition on a LATER field is refused with the engine's explanation, and nothing changes.
    client.post(url, {"action": "up", "key": "dog_name"})
    draft = procedure.versions.get(status="draft")
    keys = [f["key"] for f in draft.definition["pages"][0]["fields"]]
    assert keys == ["applicant_name", "applicant_email", "pet", "dog_name"]
    client.post(url, {"action": "publish"})
    procedure.refresh_from_db()
    assert procedure.current_version.field_count == 4
    exported = client.get(reverse("procedures_staff:export", args=[town.code, procedure.code]))
    assert exported.json()["pages"][0]["fields"][3]["show_if"] == {"field": "pet", "op": "eq", "value": "dog"}
    preview = client.get(reverse("procedures_staff:preview", args=[town.code, procedure.code]))
    assert preview.status_code == 200 and "犬の名前" in preview.content.decode()


def test_builder_import_refuses_a_broken_definition(client, town, admin):
    sign_in_staff(client, admin)
    procedure = services.procedure_create(
        municipality=town, actor=admin, code="own2", name="独自", category="kurashi"
    )
    before = procedure.versions.get().sha256
    upload = io.BytesIO(b'{"schema": 1, "title": {"ja": "x"}, "pages": []}')
    upload.name = "broken.json"
    client.post(reverse("procedures_staff:import", args=[town.code, procedure.code]), {"definition": upload})
    assert procedure.versions.get().sha256 == before


def test_purge_command_and_task(filed, admin):
    from io import StringIO

    from django.core.management import call_command

    from madoguchi.procedures.tasks import retention_purge

    services.submission_transition(submission=filed, to="refused", actor=admin, message="定員")
    Submission.objects.filter(pk=filed.pk).update(retain_until=timezone.localdate() - timedelta(days=1))
    out = StringIO()
    call_command("procedures", "purge", "--dry-run", stdout=out)
    assert out.getvalue().startswith("1 ")
    assert retention_purge.delay().get() == {"purged": 1}
    call_command("procedures", "purge", stdout=out)
    assert "Contents of 0" in out.getvalue()
