"""Keep My Number values out of logs, URLs and anything else that leaves the vault.

A candidate is any 12 digits (ASCII or full-width) written as one group or as consecutive groups joined by
spaces, tabs or hyphens (4-4-4, 3-3-3-3 …), never part of a longer unbroken run of digits; it is redacted
only when its check digit is valid, so that ordinary 12-digit numbers (order ids, phone numbers) mostly
survive. A random 12-digit number has a
valid check digit about one time in ten: redacting those too is the price of never leaking a real one.
"""

import logging
import re

from madoguchi.core.codes import is_valid_my_number

REDACTED = "[個人番号]"

_SEPARATORS = " \t\u3000-‐－"
# A run of digit groups joined by at most two separator characters (spaces, tabs, hyphens; any width).
_RUN = re.compile(r"(?<![0-9０-９])[0-9０-９]+(?:[ \t\u3000\-‐－]{1,2}[0-9０-９]+)*(?![0-9０-９])")
# Strict: the run must also not touch letters or further hyphens, so hex digests, certificate serials and
# UUIDs (whose groups can be all digits) are not taken for My Numbers. Used where a false alarm refuses
# legitimate work (the URL guard, the audit-details guard); logs use the broad pattern.
_RUN_STRICT = re.compile(
    r"(?<![0-9０-９A-Za-z\-‐－])[0-9０-９]+(?:[ \t\u3000\-‐－]{1,2}[0-9０-９]+)*(?![0-9０-９A-Za-z\-‐－])"
)
_GROUP = re.compile(r"[0-9０-９]+")
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _my_number_spans(text: str, *, strict: bool = False) -> list[tuple[int, int]]:
    """Spans of text that spell a valid My Number: whole digit groups of a run that add up to 12 digits.

    "123456789018", "1234 5678 9018", "123-456-789-018" and the first three groups of
    "1234 5678 9018 2020" all count; a single group longer than 12 digits (a longer number) does not.
    """
    spans = []
    for run in (_RUN_STRICT if strict else _RUN).finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start(), m.group().translate(_FULLWIDTH))
                  for m in _GROUP.finditer(run.group())]  # fmt: skip
        if strict:
            # Only the whole run counts: windows inside a longer run are parts of some other identifier.
            digits = "".join(g[2] for g in groups)
            if len(digits) == 12 and is_valid_my_number(digits):
                spans.append((groups[0][0], groups[-1][1]))
            continue
        i = 0
        while i < len(groups):
            digits, j = "", i
            while j < len(groups) and len(digits) < 12:
                digits += groups[j][2]
                j += 1
            if len(digits) == 12 and is_valid_my_number(digits):
                spans.append((groups[i][0], groups[j - 1][1]))
                i = j
            else:
                i += 1
    return spans


def redact_my_numbers(text: str) -> str:
    """Return `text` with every valid My Number replaced by REDACTED."""
    spans = _my_number_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def contains_my_number(text: str, *, strict: bool = False) -> bool:
    """True when `text` holds a valid My Number. strict=True ignores digit runs inside identifiers."""
    return bool(_my_number_spans(text, strict=strict))


class MyNumberRedactingFilter(logging.Filter):
    """Logging filter: rewrites the formatted message (and any traceback text) of every record.

    The message is formatted here, once, and the arguments dropped, so that no handler or formatter can
    later re-insert a value from `record.args`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not take the log line with it
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_my_numbers(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_my_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_my_numbers(record.stack_info)
        return True
