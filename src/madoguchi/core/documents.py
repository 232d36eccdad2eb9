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
