"""The 交付決定通知書 (and 額の確定通知書) as a PDF: issuing body, applicant, amounts, conditions."""

from __future__ import annotations

import io
from datetime import date

from django.utils import timezone

from madoguchi.core.documents import GOTHIC, MINCHO, register_japanese_fonts
from madoguchi.core.wareki import format_wareki
from madoguchi.grants.models import Application


def _applicant(application: Application) -> str:
    if application.business_id:
        return f"{application.business.name}"
    body = application.applicant_municipality or application.applicant_prefecture
    return f"{body.full_name if hasattr(body, 'full_name') else body.name}長"


def decision_pdf(application: Application, *, issued_on: date | None = None) -> bytes:
    if application.decided_amount is None:
        raise ValueError("not decided")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    register_japanese_fonts()
    issued_on = issued_on or timezone.localdate()
    programme = application.call.programme
    confirmed = application.confirmed_amount is not None
    title = "補助金の額の確定通知書" if confirmed else "補助金交付決定通知書"
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(f"{title} {application.reference}")
    width, height = A4
    left, right, y = 20 * mm, width - 20 * mm, height - 25 * mm
    pdf.setFont(MINCHO, 10.5)
    pdf.drawRightString(right, y, f"受付番号 {application.reference}")
    pdf.drawRightString(right, y - 6 * mm, format_wareki(issued_on))
    y -= 18 * mm
    pdf.setFont(GOTHIC, 12)
    pdf.drawString(left, y, f"{_applicant(application)}　様")
    y -= 8 * mm
    pdf.setFont(MINCHO, 10.5)
    pdf.drawRightString(right, y, programme.institution_name)
    y -= 16 * mm
    pdf.setFont(GOTHIC, 17)
    pdf.drawCentredString(width / 2, y, title)
    y -= 14 * mm
    pdf.setFont(MINCHO, 10.5)
    when = format_wareki(timezone.localtime(application.submitted_at).date())
    verb = "次のとおり額を確定したので" if confirmed else "次のとおり交付することに決定したので"
    pdf.drawString(left, y, f"{when}付けで申請のあった{programme.name}については、{verb}、")
    y -= 6 * mm
    pdf.drawString(left, y, "補助金等に係る予算の執行の適正化に関する法律の規定により通知します。")
    y -= 12 * mm
    rows = [
        ("1　事業名", application.project_title),
        ("2　補助率", programme.rate_label),
        ("3　交付申請額", f"{application.requested_amount:,}円"),
        ("4　交付決定額", f"{application.decided_amount:,}円"),
    ]
    if confirmed:
        rows.append(("5　確定額", f"{application.confirmed_amount:,}円"))
    for label, value in rows:
        pdf.drawString(left, y, label)
        pdf.drawString(left + 45 * mm, y, value)
        y -= 8 * mm
    y -= 6 * mm
    pdf.setFont(MINCHO, 9.5)
    for line in (
        "（交付の条件）",
        "・補助事業の内容又は経費の配分を変更する場合は、あらかじめ承認を受けること（法第7条）。",
        f"・補助事業が完了したときは、{application.report_due_on or '定める期日'}までに実績報告書を提出すること（法第14条）。",
        "・補助金を他の用途に使用したときは、交付決定を取り消し、加算金を付して返還を命ずることがある（法第17条〜第19条）。",
    ):
        pdf.drawString(left, y, line)
        y -= 6 * mm
    pdf.showPage()
    pdf.save()
    return out.getvalue()
