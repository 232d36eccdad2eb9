"""The applicant's way end to end with the test client: steps, errors, check, signature, receipt, status."""

import json

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from madoguchi.core.models import AuditRecord
from madoguchi.identity.jpki.cms import verify_detached_signature
from madoguchi.identity.jpki_trust import trust_store
from madoguchi.procedures.models import Draft, Submission, SubmissionRevision
from madoguchi.procedures.tests.helpers import EVENT_ANSWERS, JIDO_ANSWERS, MY_NUMBER, urls, walk
from madoguchi.vault.models import MyNumberEntry

pytestmark = pytest.mark.django_db(databases=["default", "vault"])


def _send(client, procedure, data=None):
    return client.post(urls(procedure)["send"], data or {})


def test_one_question_per_page_application_without_account(client, adopt):
    procedure = adopt("kenshu-event-moshikomi")
    walk(client, procedure, EVENT_ANSWERS)
    check = client.get(urls(procedure)["check"])
    body = " ".join(
        check.content.decode().split()
    )  # any whitespace (the kana keeps a full-width space) as one
    # Converted and normalised answers, each with a Change link.
    assert "マドグチ ハナコ" in body and "03-1234-5678" in body and "午前の部のみ" in body
    assert body.count("?change") >= 8
    response = _send(client, procedure)
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert response.url == reverse("procedures:done", args=[submission.reference])
    assert (
        submission.status == "submitted" and submission.channel == "online" and submission.applicant is None
    )
    assert submission.due_on is not None and submission.fiscal_year is not None
    revision = submission.revisions.get()
    assert (
        revision.answers["participant_kana"].replace("\u3000", " ") == "マドグチ ハナコ"
        and revision.answers["party_size"] == 2
    )
    assert not revision.signed
    done = client.get(response.url)
    secret = done.context["secret"]
    assert submission.reference in done.content.decode() and len(secret) == 10
    receipt = client.get(reverse("procedures:receipt", args=[submission.reference]))
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
    # Status without an account: reference + secret, by POST; a wrong secret shows nothing.
    status = client.post(reverse("procedures:status"), {"reference": submission.reference, "secret": secret})
    assert status.context["submission"] == submission
    other = client.post(
        reverse("procedures:status"), {"reference": submission.reference, "secret": "WRONG00000"}
    )
    assert other.context["submission"] is None
    assert AuditRecord.objects.filter(
        action="procedures.submission_filed", target_id=str(submission.pk)
    ).exists()


def test_a_hidden_field_is_dropped_and_a_visible_one_required(client, adopt):
    procedure = adopt("kenshu-event-moshikomi")
    walk(client, procedure, {**EVENT_ANSWERS, "sign_language": "not_needed"})
    _send(client, procedure)
    answers = SubmissionRevision.objects.get().answers
    assert answers["sign_language"] == "not_needed" and "sign_language_details" not in answers


def test_bad_answers_are_explained_on_their_fields_and_nothing_is_kept(client, adopt):
    procedure = adopt("kenshu-event-moshikomi")
    start = client.get(urls(procedure)["start"])
    response = client.post(start.url, {"participant_name": "", "action": "next"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and 'id="error-summary"' in html
    assert "id_participant_name_error" in html
    response = client.post(start.url, {"participant_name": "x" * 500, "action": "next"})
    assert response.status_code == 200 and response.context["form"].errors
    assert Submission.objects.count() == 0
    # Sending before every step is answered goes back to the first unanswered step.
    assert client.get(urls(procedure)["check"]).status_code == 302


def test_signed_application_with_my_number_in_the_vault(resident_client, adopt, jpki):
    procedure = adopt("kosodate-jido-teate-nintei")
    walk(resident_client, procedure, JIDO_ANSWERS)
    # Saved for resume, and the My Number is only a vault token: never in the draft, session or answers.
    draft = Draft.objects.get()
    token = draft.answers["applicant_mynumber"]
    assert token.startswith("mn_") and MY_NUMBER not in json.dumps(draft.answers)
    assert MyNumberEntry.objects.using("vault").filter(token=token).exists()
    check = resident_client.get(urls(procedure)["check"]).content.decode()
    assert MY_NUMBER not in check and "●●●●" in check and "令和6年5月5日" in check
    # Not signed → refused; wrong password → refused; nothing filed.
    refused = _send(resident_client, procedure, {"card": "yamada", "password": "wrong1"})
    assert refused.status_code == 200 and Submission.objects.count() == 0
    response = _send(resident_client, procedure, {"card": "yamada", "password": "abc123"})
    assert response.status_code == 302, response.content
    submission = Submission.objects.get()
    revision = submission.revisions.get()
    assert revision.signed and revision.signer_serial
    assert revision.answers["applicant_mynumber"] == token
    assert MY_NUMBER.encode() not in bytes(revision.canonical)
    # The stored signature verifies over the stored bytes, and the signer is the card's holder.
    verified = verify_detached_signature(
        bytes(revision.signature), bytes(revision.canonical), store=trust_store(), at=revision.signed_at
    )
    assert verified.basic_info.name == "山田 太郎"
    assert Draft.objects.count() == 0


def test_a_signed_revision_can_never_change(resident_client, adopt, jpki):
    procedure = adopt("kosodate-jido-teate-nintei")
    walk(resident_client, procedure, JIDO_ANSWERS)
    _send(resident_client, procedure, {"card": "yamada", "password": "abc123"})
    revision = SubmissionRevision.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        SubmissionRevision.objects.filter(pk=revision.pk).update(answers={"applicant_name": "別人"})
    revision.refresh_from_db()
    assert revision.answers["applicant_name"] == "山田 太郎"


def test_published_form_version_is_frozen_by_the_database(adopt):
    procedure = adopt("kenshu-event-moshikomi")
    version = procedure.current_version
    with pytest.raises(DatabaseError), transaction.atomic():
        type(version).objects.filter(pk=version.pk).update(definition={"schema": 1})
    with pytest.raises(DatabaseError), transaction.atomic():
        type(version).objects.filter(pk=version.pk).delete()


def test_signature_procedures_need_a_signed_in_resident(client, adopt, jpki):
    procedure = adopt("kosodate-jido-teate-nintei")
    detail = client.get(urls(procedure)["detail"]).content.decode()
    assert reverse("web:resident_sign_in") in detail
    for name in ("start", "send"):
        response = client.get(urls(procedure)[name])
        assert response.status_code == 302 and response.url.startswith(
            reverse("web:resident_sign_in") + "?next="
        )
    # Signing in brings the resident back to the application (a path on this site only).
    signed_in = client.post(response.url, {"card": "yamada", "pin": "1234", "next": urls(procedure)["start"]})
    assert signed_in.url == urls(procedure)["start"]
    client.logout()
    evil = client.post(
        reverse("web:resident_sign_in"), {"card": "yamada", "pin": "1234", "next": "https://evil.example/"}
    )
    assert evil.url == reverse("web:resident_home")


def test_save_and_resume_and_once_only_prefill(resident_client, adopt, jpki):
    procedure = adopt("kosodate-jido-teate-nintei")
    start = resident_client.get(urls(procedure)["start"])
    resident_client.post(start.url, {**JIDO_ANSWERS, "action": "save"})
    resident_client.session.flush()  # a new browser session …
    again = resident_client.post(reverse("web:resident_sign_in"), {"card": "yamada", "pin": "1234"})
    assert again.status_code == 302
    page = resident_client.get(resident_client.get(urls(procedure)["start"]).url)
    assert page.context["resumed"] and page.context["form"]["applicant_name"].initial == "山田 太郎"
    # After filing, a new application of a procedure that asks the same things starts filled in.
    walk(resident_client, procedure, JIDO_ANSWERS)
    _send(resident_client, procedure, {"card": "yamada", "password": "abc123"})
    other = adopt("kenshu-event-moshikomi")
    first = resident_client.get(resident_client.get(urls(other)["start"]).url)
    assert first.context["form"]["participant_name"].initial == "山田 太郎"


def test_prefill_from_the_signing_certificate(resident_client, adopt, jpki):
    procedure = adopt("kosodate-jido-teate-nintei")
    response = resident_client.post(
        reverse(
            "procedures:prefill",
            kwargs={"municipality_code": procedure.municipality.code, "code": procedure.code},
        ),
        {"card": "yamada", "password": "abc123"},
    )
    assert response.status_code == 302
    page = resident_client.get(resident_client.get(urls(procedure)["start"]).url)
    form = page.context["form"]
    assert form["applicant_name"].initial == "山田 太郎"
    assert form["applicant_address"].initial == "東京都千代田区霞が関二丁目1番2号"
    assert form["applicant_dob"].initial == "1985-04-01"


def test_postcode_button_fills_the_address_without_javascript(client, adopt):
    procedure = adopt("sodai-gomi-shushu")
    start = client.get(urls(procedure)["start"])
    response = client.post(
        start.url, {"applicant_postcode": "１００-０００１", "action": "lookup:applicant_postcode"}
    )
    assert response.status_code == 302
    page = client.get(start.url)
    assert page.context["form"]["applicant_address"].initial == "東京都千代田区千代田"
    assert page.context["form"]["applicant_postcode"].initial == "100-0001"


def test_closed_or_other_municipality_procedures_are_not_found(client, adopt, other_town):
    procedure = adopt("kenshu-event-moshikomi")
    assert client.get(f"/{other_town.code}/procedures/{procedure.code}/").status_code == 404
    procedure.status = "suspended"
    procedure.save()
    assert client.get(urls(procedure)["start"]).status_code == 404
