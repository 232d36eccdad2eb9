"""What the applicant receives: the receipt (mail + PDF), messages by mail, and the decision notice PDF.

PDFs are A4 in Japanese (the PDF reader's built-in Japanese fonts, nothing embedded) with the dates in 和暦.
Mails never carry answers: only the reference number, the procedure and where to look (the status page).
"""

from __future__ import annotations

from datetime import date

from django.core.mail import send_mail
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core.documents import GOTHIC, A4Writer
from madoguchi.core.wareki import format_wareki
from madoguchi.procedures.answers import display_rows
from madoguchi.procedures.formengine import parse_definition
from madoguchi.procedures.models import Submission

DECISION_TITLES = {
    Submission.Status.ACCEPTED: "受理通知書",
    Submission.Status.REFUSED: "不受理通知書",
    Submission.Status.COMPLETED: "処理完了通知書",
}


def mail_receipt(submission: Submission, *, status_url: str = "") -> None:
    """The receipt mail; `status_url` is the absolute address of the status page (built from the request)."""
    if not submission.contact_email:
        return
    body = _(
        "We have received your application.\n\nProcedure: %(procedure)s\nReference number: %(reference)s\n"
        "Municipality: %(municipality)s\n\nYou can follow its status with the reference number and the "
        "secret shown after you applied%(where)s.\nThis mail does not contain your answers."
    ) % {
        "procedure": submission.procedure.name,
        "reference": submission.reference,
        "municipality": submission.municipality.full_name,
        "where": f" ({status_url})" if status_url else "",
    }
    send_mail(
        _("[%(municipality)s] Application received: %(reference)s")
        % {"municipality": submission.municipality.full_name, "reference": submission.reference},
        body,
        None,
        [submission.contact_email],
        fail_silently=True,
    )


def mail_message(submission: Submission, text: str) -> None:
    if not submission.contact_email:
        return
    send_mail(
        _("[%(municipality)s] A message about your application %(reference)s")
        % {"municipality": submission.municipality.full_name, "reference": submission.reference},
        _("There is a new message about your application %(reference)s (%(procedure)s). Please sign in or use "
          "the status page to read it.") % {"reference": submission.reference, "procedure": submission.procedure.name},
        None,
        [submission.contact_email],
        fail_silently=True,
    )  # fmt: skip


def receipt_pdf(submission: Submission) -> bytes:
    """申請受付票: what was filed, when, with its hash (and signature status), for the applicant to keep."""
    revision = submission.current_revision
    definition = parse_definition(submission.form_version.definition)
    page = A4Writer(f"申請受付票 {submission.reference}")
    issued = timezone.localdate()
    page.right_text(f"{format_wareki(issued)}")
    page.right_text(f"受付番号　{submission.reference}")
    page.space(8)
    page.text("申請受付票", font=GOTHIC, size=18)
    page.space(6)
    page.text(f"{submission.municipality.full_name}　{submission.procedure.name}", font=GOTHIC, size=12)
    when = timezone.localtime(submission.submitted_at or submission.created_at)
    page.text(f"受付日時　{format_wareki(when.date())} {when:%H:%M}")
    page.text(f"受付方法　{Submission.Channel(submission.channel).label}")
    if submission.fee_yen:
        page.text(
            f"手数料　{submission.fee_yen:,}円（{Submission.PaymentState(submission.payment_state).label}）"
        )
    if revision is not None:
        page.text(f"電子署名　{'あり（署名用電子証明書）' if revision.signed else 'なし'}")
        page.text(f"申請内容のハッシュ値（SHA-256）　{revision.sha256}", size=8.5)
        page.space(6)
        page.text("申請内容", font=GOTHIC, size=12)
        for row in display_rows(definition, revision.answers):
            if row.children:
                page.text(row.label, font=GOTHIC)
                for number, item in enumerate(row.children, start=1):
                    for child in item:
                        page.text(f"{number}. {child.label}：{child.value}", indent=12)
            else:
                page.text(f"{row.label}：{row.value}")
    page.space(10)
    page.text("この受付票は申請を受け付けたことを示すもので、許可・決定を示すものではありません。", size=9)
    return page.bytes()


def decision_notice_pdf(submission: Submission, *, issued_on: date | None = None) -> bytes:
    """受理・不受理・完了の通知書: addressed to the applicant, with the reason given to them."""
    issued_on = issued_on or timezone.localdate()
    title = DECISION_TITLES.get(submission.status)
    if title is None:
        raise ValueError("no decision to notify")
    event = submission.events.filter(to_status=submission.status).order_by("-created_at").first()
    page = A4Writer(f"{title} {submission.reference}")
    page.right_text(f"{submission.municipality.full_name[:40]}　第{submission.pk}号")
    page.right_text(format_wareki(issued_on))
    page.space(6)
    page.text(f"{submission.applicant_name or '申請者'}　様", font=GOTHIC, size=12)
    page.space(4)
    page.right_text(f"{submission.municipality.full_name}長")
    page.space(10)
    page.text(title, font=GOTHIC, size=18)
    page.space(6)
    when = timezone.localtime(submission.submitted_at or submission.created_at).date()
    lead = {
        Submission.Status.ACCEPTED: "次のとおり受理しましたので通知します。",
        Submission.Status.REFUSED: "次のとおり受理しないこととしましたので通知します。",
        Submission.Status.COMPLETED: "次のとおり処理を完了しましたので通知します。",
    }[submission.status]
    page.text(f"{format_wareki(when)}付けで申請のあった{submission.procedure.name}について、{lead}")
    page.space(6)
    page.text(f"1　手続名　{submission.procedure.name}")
    page.text(f"2　受付番号　{submission.reference}")
    page.text(f"3　申請日　{format_wareki(when)}")
    if event is not None and event.body:
        page.text("4　理由・連絡事項")
        page.text(event.body, indent=12)
    if submission.status == Submission.Status.REFUSED:
        page.space(8)
        page.text(
            "（教示）この処分に不服がある場合は、この処分があったことを知った日の翌日から起算して3か月以内に、"
            f"{submission.municipality.full_name}長に対して審査請求をすることができます（行政不服審査法第2条、第18条）。",
            size=9,
        )
    return page.bytes()
