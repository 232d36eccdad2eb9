"""Keep My Number values out of logs, URLs and anything else that leaves the vault.

A candidate is any run of 12 digits (ASCII or full-width, optionally grouped 4-4-4 by spaces or hyphens) that
is not part of a longer run of digits; it is redacted only when its check digit is valid, so that ordinary
12-digit numbers (order ids, phone numbers with area codes) mostly survive. A random 12-digit number has a
valid check digit about one time in ten: redacting those too is the price of never leaking a real one.
"""

import logging
import re

from madoguchi.core.codes import is_valid_my_number

REDACTED = "[個人番号]"

_DIGIT = r"[0-9０-９]"
_SEP = r"[ \-‐－\u3000]?"
_CANDIDATE = re.compile(
    rf"(?<![0-9０-９])({_DIGIT}{{4}}){_SEP}({_DIGIT}{{4}}){_SEP}({_DIGIT}{{4}})(?![0-9０-９])"
)
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _replace(match: re.Match[str]) -> str:
    digits = "".join(match.groups()).translate(_FULLWIDTH)
    return REDACTED if is_valid_my_number(digits) else match.group(0)


def redact_my_numbers(text: str) -> str:
    """Return `text` with every valid My Number replaced by REDACTED."""
    return _CANDIDATE.sub(_replace, text)


def contains_my_number(text: str) -> bool:
    return any(
        is_valid_my_number("".join(m.groups()).translate(_FULLWIDTH)) for m in _CANDIDATE.finditer(text)
    )


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
