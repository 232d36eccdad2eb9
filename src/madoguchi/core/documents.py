"""Documents staff download: CSV for Excel, .xlsx workbooks and the Japanese fonts of the PDFs.

Shared by every app that exports (points statements, procedures inboxes and statistics, cloud statements).
"""

import csv
import io


def spreadsheet_text(value: str) -> str:
    """Text a spreadsheet would run as a formula is written as text (operators name providers and campaigns)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_bytes(header: list, rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    # UTF-8 with a BOM: Excel opens it as UTF-8 and shows the Japanese.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(title: str, header: list, rows: list[list], *, preface: list[tuple[str, str]] = ()) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for label, value in preface:
        sheet.append([label, spreadsheet_text(value)])
    if preface:
        sheet.append([])
    header_row = sheet.max_row + 1 if preface else 1
    sheet.append(header)
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column in sheet.iter_cols(min_row=header_row + 1):
        for cell in column:
            if isinstance(cell.value, int):
                cell.number_format = "#,##0"
            elif isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(str(name)) * 2 + 4))
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_FONTS_REGISTERED = False
GOTHIC, MINCHO = "HeiseiKakuGo-W5", "HeiseiMin-W3"


def register_japanese_fonts() -> None:
    # Adobe's Japanese CID fonts are built into every PDF reader: the PDF names them and embeds no file.
    global _FONTS_REGISTERED
    if not _FONTS_REGISTERED:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(GOTHIC))
        pdfmetrics.registerFont(UnicodeCIDFont(MINCHO))
        _FONTS_REGISTERED = True


class A4Writer:
    """A small flowing A4 writer for notices and guidelines: wrapped lines, new pages as needed, deterministic
    output (the same data gives the same bytes), Japanese fonts built into every PDF reader."""

    def __init__(self, title: str, *, subject: str = "", creator: str = "Madoguchi"):
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm
        from reportlab.pdfbase.pdfmetrics import stringWidth
        from reportlab.pdfgen import canvas

        register_japanese_fonts()
        self._width_of = stringWidth
        self._widths: dict[tuple[str, str, float], float] = {}
        self.out = io.BytesIO()
        self.pdf = canvas.Canvas(self.out, pagesize=A4, pageCompression=1, invariant=1)
        self.pdf.setTitle(title)
        if subject:
            self.pdf.setSubject(subject)
        self.pdf.setAuthor("Madoguchi")
        self.pdf.setCreator(creator)
        self.width, self.height = A4
        self.left, self.right = 20 * mm, self.width - 20 * mm
        self.top, self.bottom = self.height - 20 * mm, 20 * mm
        self.y = self.top

    def _char_width(self, ch: str, font: str, size: float) -> float:
        key = (ch, font, size)
        width = self._widths.get(key)
        if width is None:
            width = self._widths[key] = self._width_of(ch, font, size)
        return width

    def _wrap(self, value: str, font: str, size: float, width: float) -> list[str]:
        lines: list[str] = []
        for paragraph in str(value).split("\n"):
            line, used = "", 0.0
            for ch in paragraph:
                w = self._char_width(ch, font, size)
                if line and used + w > width:
                    lines.append(line)
                    line, used = "", 0.0
                line += ch
                used += w
            lines.append(line)
        return lines

    def _need(self, space: float) -> None:
        if self.y - space < self.bottom:
            self.pdf.showPage()
            self.y = self.top

    def text(self, value: str, *, font: str = MINCHO, size: float = 10.5, indent: float = 0) -> None:
        for line in self._wrap(value, font, size, self.right - self.left - indent):
            self._need(size * 1.6)
            self.pdf.setFont(font, size)
            self.pdf.drawString(self.left + indent, self.y - size, line)
            self.y -= size * 1.6

    def heading(self, value: str, *, size: float = 12) -> None:
        self.space(4)
        self._need(size * 3)
        self.text(value, font=GOTHIC, size=size)

    def right_text(self, value: str, *, font: str = MINCHO, size: float = 10.5) -> None:
        """One line flush right (dates, reference numbers, the issuing body)."""
        self._need(size * 1.6)
        self.pdf.setFont(font, size)
        self.pdf.drawRightString(self.right, self.y - size, value)
        self.y -= size * 1.6

    def space(self, points: float) -> None:
        self.y -= points

    def bytes(self) -> bytes:
        self.pdf.showPage()
        self.pdf.save()
        return self.out.getvalue()
