"""Desk mode (窓口モード) for the online procedures: a clerk files with the identified resident beside them."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from madoguchi.core.models import AuditRecord
from madoguchi.identity import card_simulator
from madoguchi.identity.desk import SESSION_KEY
from madoguchi.identity.models import DeskSession, Resident, ResidentCertificate, StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.procedures import selectors, services
from madoguchi.procedures.desk_views import FILED_KEY, STATE_PREFIX
from madoguchi.procedures.models import Payment, Submission, SubmissionRevision
from madoguchi.procedures.tests.helpers import EVENT_ANSWERS, JIDO_ANSWERS, MY_NUMBER, SODAI_ANSWERS
from madoguchi.vault.models import MyNumberEntry

pytestmark = pytest.mark.django_db(databases=["default", "vault"])


@pytest.fixture
def desk_client(client, town, jpki):
    """A desk clerk of `town` (TOTP passed) serving 山田 太郎, who identified with his card at the desk."""
    clerk = StaffRoleFactory(municipality=town, role=StaffRole.Role.DESK_CLERK).user
    resident = card_simulator.sign_in(card="yamada", pin="1234").resident
    sign_in_staff(client, clerk)
    now = timezone.now()
    desk = DeskSession.objects.create(municipality=town, clerk=clerk, resident=resident, identified_at=now,
                                      last_activity_at=now)  # fmt: skip
    session = client.session
    session[SESSION_KEY] = desk.pk
    session.save()
    client.town, client.clerk, client.resident, client.desk = town, clerk, resident, desk
    return client


def url(client, name, *args):
    return reverse(f"procedures:desk_{name}", args=[client.town.code, *args])


def fill(client, procedure, answers, step="all"):
    return client.post(url(client, "form", procedure.code, step),
                       {**answers, "action": "next", "desk_session": client.desk.pk})  # fmt: skip


def test_plain_procedure_filed_at_the_desk_counts_as_a_counter_case(desk_client, adopt):
    client = desk_client
    procedure = adopt("kenshu-event-moshikomi")
    index = client.get(url(client, "index"))
    assert index.status_code == 200 and procedure.name in index.content.decode()
    response = fill(client, procedure, EVENT_ANSWERS)
    assert response.status_code == 302 and response["Location"] == url(client, "check", procedure.code)
    check = client.get(response["Location"])
    assert check.status_code == 200 and "窓口 花子" in check.content.decode()
    assert not Submission.objects.exists()  # nothing is filed before the resident confirmed
    send = client.post(url(client, "send", procedure.code), {"desk_session": client.desk.pk})
    submission = Submission.objects.get()
    assert send.status_code == 302 and send["Location"] == url(client, "done", submission.reference)
    assert (
        submission.channel == Submission.Channel.COUNTER and submission.status == Submission.Status.SUBMITTED
    )
    assert submission.desk_session == client.desk and submission.clerk == client.clerk
    assert submission.applicant == client.resident.user
    done = client.get(send["Location"]).content.decode()
    assert submission.reference in done
    assert reverse("procedures_staff:case_receipt", args=[client.town.code, submission.reference]) in done
    receipt = client.get(
        reverse("procedures_staff:case_receipt", args=[client.town.code, submission.reference])
    )
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    # Audited with the clerk as actor, naming the resident and the desk session.
    record = AuditRecord.objects.get(action="procedures.submission_filed", target_id=str(submission.pk))
    assert record.actor_id == str(client.clerk.pk) and record.actor_type == "user"
    assert (
        record.details["desk_session"] == client.desk.pk and record.details["resident"] == client.resident.pk
    )
    assert record.details["channel"] == "counter"
    # Counted as a counter case, not an online one.
    row = next(r for r in selectors.usage_by_procedure(municipality=client.town,
                                                       fiscal_year=submission.fiscal_year) if r.key == procedure.code)  # fmt: skip
    assert (row.online, row.counter, row.total) == (0, 1, 1)
    # The answers in progress went with the filing.
    assert STATE_PREFIX + procedure.code not in client.session
    assert submission.reference in client.session[FILED_KEY]


def test_signed_procedure_with_my_number_at_the_desk(desk_client, adopt):
    client = desk_client
    procedure = adopt("kosodate-jido-teate-nintei")
    # The resident reads their 基本4情報 from the card into the form.
    card = client.post(url(client, "card", procedure.code),
                       {"card": "yamada", "password": "abc123", "desk_session": client.desk.pk})  # fmt: skip
    assert card.status_code == 302
    form = client.get(card["Location"]).context["form"]
    assert form["applicant_name"].initial == "山田 太郎"
    assert form["applicant_address"].initial == "東京都千代田区霞が関二丁目1番2号"
    read = AuditRecord.objects.get(action="procedures.desk_card_read")
    assert read.actor_id == str(client.clerk.pk) and read.details["desk_session"] == client.desk.pk
    # Page by page this time.
    response = client.get(url(client, "form", procedure.code, "start"))
    for _ in range(20):
        if response["Location"] == url(client, "check", procedure.code):
            break
        response = client.post(response["Location"],
                               {**JIDO_ANSWERS, "action": "next", "desk_session": client.desk.pk})  # fmt: skip
        assert response.status_code == 302, response.context["form"].errors
    check = client.get(url(client, "check", procedure.code)).content.decode()
    assert MY_NUMBER not in check and "●●●●" in check
    state = client.session[STATE_PREFIX + procedure.code]
    token = state["answers"]["applicant_mynumber"]
    assert token.startswith("mn_") and MY_NUMBER not in json.dumps(state)
    assert MyNumberEntry.objects.using("vault").filter(token=token).exists()
    stored = AuditRecord.objects.filter(action="vault.my_number_store").latest("pk")
    assert stored.actor_type == "user" and stored.actor_id == str(client.clerk.pk)
    assert MY_NUMBER not in json.dumps(list(AuditRecord.objects.values("details")), default=str)
    # Unsigned or with a wrong password: refused, nothing filed.
    refused = client.post(url(client, "send", procedure.code),
                          {"card": "yamada", "password": "wrong1", "desk_session": client.desk.pk})  # fmt: skip
    assert refused.status_code == 200 and not Submission.objects.exists()
    signed = client.post(url(client, "send", procedure.code),
                         {"card": "yamada", "password": "abc123", "desk_session": client.desk.pk})  # fmt: skip
    assert signed.status_code == 302, signed.context["form"].errors
    submission = Submission.objects.get()
    revision = submission.revisions.get()
    assert revision.signed and revision.answers["applicant_mynumber"] == token
    assert bytes(revision.canonical) == services.canonical_for(procedure, procedure.current_version,
                                                               revision.answers)  # fmt: skip
    assert MY_NUMBER.encode() not in bytes(revision.canonical)
    assert submission.channel == Submission.Channel.COUNTER and submission.clerk == client.clerk
    # The staff inbox shows it like any case, marked as filed at the desk.
    admin = StaffRoleFactory(municipality=client.town, role=StaffRole.Role.MUNICIPAL_ADMIN).user
    sign_in_staff(client, admin)
    response = client.get(reverse("procedures_staff:inbox", args=[client.town.code]))
    with translation.override(response.headers["Content-Language"]):
        label = translation.gettext("filed at the desk")
    inbox = response.content.decode()
    assert submission.reference in inbox and label in inbox


def test_someone_elses_card_cannot_sign_at_the_desk(desk_client, adopt):
    client = desk_client
    procedure = adopt("kosodate-jido-teate-nintei")
    fill(client, procedure, JIDO_ANSWERS)
    # 佐藤 花子's signing certificate is already known as hers.
    sato = card_simulator.sign_in(card="sato", pin="1234").resident
    services.document_signer(content=b"x", signature=card_simulator.sign_document(
        card="sato", password="abc123", content=b"x"), applicant=sato.user)  # fmt: skip
    assert ResidentCertificate.objects.filter(resident=sato, kind="sign").exists()
    response = client.post(url(client, "send", procedure.code),
                           {"card": "sato", "password": "abc123", "desk_session": client.desk.pk})  # fmt: skip
    assert response.status_code == 200 and not Submission.objects.exists()
    assert "not_your_card" not in response.content.decode()
    assert response.context["form"].non_field_errors()
    # Nor with a holder key that is not the identified resident's.
    Resident.objects.filter(pk=client.resident.pk).update(holder_key="0" * 64)
    card = client.post(url(client, "card", procedure.code),
                       {"card": "yamada", "password": "abc123", "desk_session": client.desk.pk})  # fmt: skip
    assert (
        card.status_code == 302
        and not AuditRecord.objects.filter(action="procedures.desk_card_read").exists()
    )


def test_fee_paid_in_cash_at_the_counter_or_left_pending(desk_client, adopt):
    client = desk_client
    procedure = adopt("sodai-gomi-shushu")
    assert procedure.fee_yen > 0
    fill(client, procedure, SODAI_ANSWERS)
    missing = client.post(url(client, "send", procedure.code), {"desk_session": client.desk.pk})
    assert missing.status_code == 200 and "fee" in missing.context["form"].errors
    client.post(url(client, "send", procedure.code), {"fee": "cash", "desk_session": client.desk.pk})
    paid = Submission.objects.get()
    assert paid.payment_state == Submission.PaymentState.PAID and paid.status == Submission.Status.SUBMITTED
    payment = Payment.objects.get(submission=paid)
    assert payment.method == Payment.Method.CASH and payment.received_by == client.clerk
    assert payment.amount == procedure.fee_yen and payment.status == Payment.Status.SUCCEEDED
    cash = AuditRecord.objects.get(action="procedures.payment_cash_received")
    assert cash.actor_id == str(client.clerk.pk) and cash.details["desk_session"] == client.desk.pk
    fill(client, procedure, SODAI_ANSWERS)
    client.post(url(client, "send", procedure.code), {"fee": "later", "desk_session": client.desk.pk})
    pending = Submission.objects.exclude(pk=paid.pk).get()
    assert pending.payment_state == Submission.PaymentState.PENDING
    assert pending.status == Submission.Status.AWAITING_PAYMENT and not pending.payments.exists()


def test_desk_pages_refuse_without_session_resident_or_for_another_session(desk_client, adopt, other_town):
    client = desk_client
    procedure = adopt("kenshu-event-moshikomi")
    # A page shown for another desk session: nothing is done.
    stale = client.post(url(client, "form", procedure.code, "all"),
                        {**EVENT_ANSWERS, "action": "next", "desk_session": client.desk.pk + 1000})  # fmt: skip
    assert stale.status_code == 409 and STATE_PREFIX + procedure.code not in client.session
    assert "別の窓口セッション" in stale.content.decode() or "another desk session" in stale.content.decode()
    fill(client, procedure, EVENT_ANSWERS)
    stale_send = client.post(url(client, "send", procedure.code), {"desk_session": client.desk.pk + 1})
    assert stale_send.status_code == 409 and not Submission.objects.exists()
    # "Next resident" ends the session: the answers go with it, and nothing can be filed.
    client.post(reverse("web:staff_desk_next", args=[client.town.code]))
    assert not any(k.startswith(STATE_PREFIX) for k in client.session.keys())
    for response in (client.get(url(client, "index")), client.get(url(client, "check", procedure.code))):
        assert response.status_code == 403
        assert "窓口セッションが開始されていません" in response.content.decode()
    # A session with nobody identified yet.
    nobody = DeskSession.objects.create(
        municipality=client.town, clerk=client.clerk, last_activity_at=timezone.now()
    )
    session = client.session
    session[SESSION_KEY] = nobody.pk
    session.save()
    assert client.get(url(client, "index")).status_code == 403
    sent = client.post(url(client, "send", procedure.code), {"desk_session": nobody.pk})
    assert sent.status_code == 403 and not Submission.objects.exists()
    # Another municipality's desk pages: the tenant check refuses.
    other = client.get(reverse("procedures:desk_index", args=[other_town.code]))
    assert other.status_code == 403
    assert not SubmissionRevision.objects.exists()


def test_desk_session_of_another_municipality_is_refused(desk_client, other_town):
    client = desk_client
    StaffRoleFactory(municipality=other_town, role=StaffRole.Role.DESK_CLERK, user=client.clerk)
    response = client.get(reverse("procedures:desk_index", args=[other_town.code]))
    assert response.status_code == 403 and client.town.full_name in response.content.decode()


def test_done_page_only_for_this_desk_session(desk_client, adopt):
    client = desk_client
    procedure = adopt("kenshu-event-moshikomi")
    fill(client, procedure, EVENT_ANSWERS)
    client.post(url(client, "send", procedure.code), {"desk_session": client.desk.pk})
    reference = Submission.objects.get().reference
    assert client.get(url(client, "done", reference)).status_code == 200
    DeskSession.objects.filter(pk=client.desk.pk).update(ended_at=timezone.now(), end_reason="next")
    now = timezone.now()
    later = DeskSession.objects.create(municipality=client.town, clerk=client.clerk, resident=client.resident,
                                       identified_at=now, last_activity_at=now)  # fmt: skip
    session = client.session
    session[SESSION_KEY] = later.pk
    session.save()
    assert client.get(url(client, "done", reference)).status_code == 404


def test_submission_file_refuses_a_desk_filing_without_a_proper_session(desk_client, adopt, other_town):
    client = desk_client
    procedure = adopt("kenshu-event-moshikomi")
    answers = {"participant_name": "窓口 花子", "participant_kana": "まどぐち はなこ",
               "participant_email": "h@example.jp", "attendance_date": "2026-06-13", "party_size": 1,
               "sign_language": "not_needed"}  # fmt: skip
    common = {"procedure": procedure, "version": procedure.current_version, "answers": answers}
    with pytest.raises(services.ProcedureError):  # counter without the session
        services.submission_file(**common, applicant=client.resident.user, channel="counter")
    with pytest.raises(services.ProcedureError):  # another clerk
        services.submission_file(**common, applicant=client.resident.user, channel="counter",
                                 desk_session=client.desk, clerk=StaffRoleFactory(municipality=client.town).user)  # fmt: skip
    with pytest.raises(services.ProcedureError):  # not the resident served
        services.submission_file(**common, applicant=None, channel="counter", desk_session=client.desk,
                                 clerk=client.clerk)  # fmt: skip
    with pytest.raises(services.ProcedureError):  # cash online
        services.submission_file(**common, fee_paid_in_cash=True)
    assert not Submission.objects.exists()
    filed = services.submission_file(**common, applicant=client.resident.user, channel="counter",
                                     desk_session=client.desk, clerk=client.clerk)  # fmt: skip
    assert filed.submission.channel == "counter"
    online = services.submission_file(**common)
    assert online.submission.channel == "online" and online.submission.desk_session is None
    assert online.submission.clerk is None
