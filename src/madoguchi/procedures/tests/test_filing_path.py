"""The submissions API's fast path: the one-query procedure look-up, the parsed-definition cache, the
reference retry without a savepoint, and the rows it writes (the same as the ORM would)."""

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from madoguchi.core.models import AuditRecord
from madoguchi.procedures import selectors, services
from madoguchi.procedures.models import Procedure, Submission, SubmissionEvent, SubmissionRevision

ANSWERS = {"participant_name": "窓口 花子", "participant_kana": "まどぐち はなこ", "participant_email": "h@example.jp",
           "attendance_date": "2026-06-13", "party_size": 1, "sign_language": "not_needed"}  # fmt: skip


def _url(procedure, code=None):
    municipality = code or procedure.municipality.code
    return f"/api/v1/procedures/municipalities/{municipality}/procedures/{procedure.code}/submissions"


def test_filing_lookup_matches_the_orm_and_respects_the_tenant(adopt, other_town):
    procedure = adopt("kenshu-event-moshikomi")
    found = selectors.procedure_for_filing(procedure.municipality.code, procedure.code)
    expected = selectors.procedure_for_applicant(procedure.municipality, procedure.code)
    assert found.pk == expected.pk and found.fee_yen == expected.fee_yen and found.status == expected.status
    assert found.municipality.pk == procedure.municipality.pk
    assert found.municipality.code == procedure.municipality.code
    assert found.current_version.pk == expected.current_version.pk
    assert found.current_version.sha256 == expected.current_version.sha256
    assert found.current_version.number == expected.current_version.number
    # The definition is not loaded with it (deferred), but is there when asked for.
    assert "definition" in found.current_version.get_deferred_fields()
    assert found.current_version.definition == expected.current_version.definition
    assert selectors.procedure_for_filing(other_town.code, procedure.code) is None
    assert selectors.procedure_for_filing("123456", procedure.code) is None  # wrong check digit
    assert selectors.procedure_for_filing(procedure.municipality.code, "nope") is None
    Procedure.objects.filter(pk=procedure.pk).update(status=Procedure.Status.DRAFT)
    assert selectors.procedure_for_filing(procedure.municipality.code, procedure.code) is None


def test_the_api_files_in_one_select_and_five_writes(client, adopt):
    procedure = adopt("kenshu-event-moshikomi")
    client.post(_url(procedure), ANSWERS, content_type="application/json")  # parses the definition once
    with CaptureQueriesContext(connection) as captured:
        response = client.post(_url(procedure), ANSWERS, content_type="application/json")
    assert response.status_code == 201, response.content
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    statements = [s for s in statements if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
    # procedure; submission, revision, event; audit head lock, record (with the head's UPDATE on PostgreSQL)
    audit_write = ["WITH"] if connection.vendor == "postgresql" else ["INSERT", "UPDATE"]
    assert statements == ["SELECT", "INSERT", "INSERT", "INSERT", "SELECT", *audit_write], statements


def test_rows_written_by_the_fast_path_read_back_like_orm_rows(client, adopt):
    procedure = adopt("kenshu-event-moshikomi")
    body = client.post(_url(procedure), ANSWERS, content_type="application/json").json()
    submission = Submission.objects.get(reference=body["reference"])
    assert submission.procedure_id == procedure.pk and submission.municipality_id == procedure.municipality_id
    assert submission.status == Submission.Status.SUBMITTED and submission.submitted_at is not None
    assert submission.created_at is not None  # auto_now_add applied as save() would
    revision = SubmissionRevision.objects.get(submission=submission)
    assert revision.answers["participant_name"] == "窓口 花子" and revision.number == 1
    event = SubmissionEvent.objects.get(submission=submission)
    assert event.to_status == Submission.Status.SUBMITTED and event.visible_to_applicant
    record = AuditRecord.objects.get(action="procedures.submission_filed", target_id=str(submission.pk))
    assert record.details["reference"] == body["reference"]
    assert services.submission_lookup(reference=body["reference"], secret=body["status_code"]) == submission


def test_a_reference_clash_is_retried_with_a_new_reference(client, adopt, monkeypatch):
    procedure = adopt("kenshu-event-moshikomi")
    first = client.post(_url(procedure), ANSWERS, content_type="application/json").json()["reference"]
    fresh = f"{procedure.municipality.code[:5]}-AAAAA-BBBBB"
    offered = iter([first, fresh])
    monkeypatch.setattr(services, "_new_reference", lambda municipality: next(offered))
    response = client.post(_url(procedure), ANSWERS, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["reference"] == fresh
    assert Submission.objects.count() == 2 and SubmissionRevision.objects.count() == 2
    assert AuditRecord.objects.filter(action="procedures.submission_filed").count() == 2


def test_parsed_definitions_follow_the_version_content(adopt):
    procedure = adopt("kenshu-event-moshikomi")
    version = procedure.current_version
    parsed = selectors.definition_of(version)
    assert selectors.definition_of(version) is parsed  # kept
    assert parsed.sha256 == version.sha256
    assert set(ANSWERS) <= set(parsed.by_key)
    # Another content under the same key is parsed anew (the key holds the content's hash).
    version.sha256 = "0" * 64
    assert selectors.definition_of(version) is not parsed


def test_the_api_files_through_the_short_middleware_stack(adopt):
    from madoguchi.conf.wsgi import application
    from madoguchi.core.tests.wsgi import call

    procedure = adopt("kenshu-event-moshikomi")
    filed = call(_url(procedure), ANSWERS)
    assert filed["handler"] is application.machine and filed["status"] == 201, filed["body"][:300]
    reference = json.loads(filed["body"])["reference"]
    assert Submission.objects.filter(reference=reference, procedure=procedure).exists()
    assert AuditRecord.objects.filter(
        action="procedures.submission_filed", details__reference=reference
    ).exists()
