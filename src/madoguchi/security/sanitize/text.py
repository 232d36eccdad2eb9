"""Plain text and CSV: checked to be text (UTF-8 or Shift_JIS, no control characters) and passed unchanged.

Text carries no active content of its own. A CSV cell starting with "=" becomes a formula when a spreadsheet
opens the file; rewriting cells would change data (negative numbers start with "-"), so such cells are
reported for staff instead."""

from __future__ import annotations

import re

from .report import Action, Report

_FORMULA_CELL = re.compile(r"(?:^|[,\t])\s*\"?[=@]", re.M)


def sanitize_text(data: bytes, report: Report) -> bytes:
    try:
        text = data.decode("utf-8-sig")
        encoding = "UTF-8"
    except UnicodeDecodeError:
        text = data.decode("cp932")
        encoding = "Shift_JIS"
    report.add("text.checked", Action.NOTE, encoding=encoding)
    if report.filename.lower().endswith((".csv", ".tsv")) and _FORMULA_CELL.search(text):
        report.add("text.formula_cells", Action.NOTE)
    return data
