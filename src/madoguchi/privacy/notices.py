"""The notice of the review's result (法第114条; for a proposal to use information already created, 第118条第2項
applying 第114条) as a PDF: 提案審査結果通知書."""

from __future__ import annotations

import io

from madoguchi.core.documents import GOTHIC, MINCHO, register_japanese_fonts
from madoguchi.core.wareki import format_wareki
from madoguchi.privacy.models import Proposal
from madoguchi.privacy.services import review_checks


def notice_pdf(proposal: Proposal) -> bytes:
    if proposal.notified_on is None:
        raise ValueError("not notified")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    register_japanese_fonts()
    accepted = proposal.status != Proposal.Status.REJECTED
    existing = proposal.kind == Proposal.Kind.EXISTING
    title = ("作成された行政機関等匿名加工情報の利用に関する提案の審査結果通知書" if existing
             else "行政機関等匿名加工情報の利用に関する提案の審査結果通知書")  # fmt: skip
    article = "第118条第2項において準用する同法第114条" if existing else "第114条"
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(f"{title} {proposal.reference}")
    width, height = A4
    left, right, y = 20 * mm, width - 20 * mm, height - 25 * mm
    pdf.setFont(MINCHO, 10.5)
    pdf.drawRightString(right, y, f"受付番号 {proposal.reference}")
    pdf.drawRightString(right, y - 6 * mm, format_wareki(proposal.notified_on))
    y -= 18 * mm
    pdf.setFont(GOTHIC, 12)
    pdf.drawString(left, y, f"{proposal.business.name}　様")
    y -= 8 * mm
    pdf.setFont(MINCHO, 10.5)
    pdf.drawRightString(right, y, f"{proposal.call.municipality.full_name}長")
    y -= 16 * mm
    pdf.setFont(GOTHIC, 13)
    pdf.drawCentredString(width / 2, y, title)
    y -= 14 * mm
    pdf.setFont(MINCHO, 10.5)
    pdf.drawString(left, y, f"あなたから提出のあった「{proposal.file.name}」に係る提案について、審査の結果、")
    y -= 6 * mm
    result = "次の基準に適合すると認めたので" if accepted else "次の理由により基準に適合しないと認めたので"
    pdf.drawString(left, y, f"{result}、個人情報の保護に関する法律{article}の規定により通知します。")
    y -= 12 * mm
    if accepted:
        for _key, label in review_checks(proposal):
            pdf.drawString(left, y, f"・{label[:60]}")
            y -= 6 * mm
        y -= 4 * mm
        for line in (
            "（今後の手続）",
            "・この通知の後、利用に関する契約を締結し、手数料を納付してください（法第115条、第119条）。"
            if not existing
            else "・この通知の後、利用に関する契約を締結し、手数料を納付してください（法第118条第2項・第115条、第119条）。",
            "・提供を受けた匿名加工情報について、本人を識別するための照合をしてはなりません（法第121条）。",
        ):
            pdf.drawString(left, y, line)
            y -= 6 * mm
    else:
        for start in range(0, len(proposal.review_note), 45):
            pdf.drawString(left, y, proposal.review_note[start : start + 45])
            y -= 6 * mm
            if y < 30 * mm:
                break
    pdf.showPage()
    pdf.save()
    return out.getvalue()
