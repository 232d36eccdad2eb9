"""Cleaning one answer of one field: from what a form posts (or an earlier cleaned answer) to the cleaned
value of docs/procedures-form-schema.md, or a problem code.

Each cleaner takes a non-blank value and returns ``(cleaned, None)``, ``(None, None)`` when the value turns
out to be blank after normalisation (an unticked box, a list of empty strings), or ``(None, (code, params))``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from madoguchi.core.checkdigits import is_valid_my_number, my_number_check_digit  # pure, no Django
from madoguchi.core.wareki import parse_wareki  # pure module: imports no Django

from .text import join_voicing_marks, to_katakana

if TYPE_CHECKING:
    from .schema import Field

__all__ = [
    "FILE_TYPES",
    "CLEANERS",
    "is_blank",
    "japan_today",
    "my_number_check_digit",
    "is_valid_my_number",
]

Outcome = tuple[Any, tuple[str, dict[str, Any]] | None]

JST = timezone(timedelta(hours=9), "JST")  # Japan has no daylight saving time

#: accept value → content types the Django layer reports after sanitising (無害化).
FILE_TYPES: dict[str, frozenset[str]] = {
    "pdf": frozenset({"application/pdf"}),
    "jpeg": frozenset({"image/jpeg", "image/pjpeg"}),
    "png": frozenset({"image/png"}),
    "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    "xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
}

_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"), "-")
_TEXT_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXTAREA_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_KANA_OK = re.compile("[\u30a1-\u30fa\u30fb\u30fc\u30fd\u30fe\u3000]*")
_INTEGER = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)")
_WESTERN_DATE = re.compile(
    r"(?P<y>[0-9]{4})(?:\s*(?P<sep>[-/.])\s*(?P<m>[0-9]{1,2})\s*(?P=sep)\s*(?P<d>[0-9]{1,2})"
    r"|\s*年\s*(?P<m2>[0-9]{1,2})\s*月\s*(?P<d2>[0-9]{1,2})\s*日|(?P<m3>[0-9]{2})(?P<d3>[0-9]{2}))"
)
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")  # dots as Japanese carriers allow
_EMAIL_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})")
_PHONE = re.compile(r"0[0-9-]*")
_POSTCODE = re.compile(r"([0-9]{3})-?([0-9]{4})")
_VAULT_TOKEN = re.compile(r"mn_[A-Za-z0-9_-]{16,64}")
_TRUE = frozenset({"on", "true", "1", "yes", "y", "checked"})
_FALSE = frozenset({"off", "false", "0", "no", "n"})


def japan_today() -> date:
    return datetime.now(JST).date()


def is_blank(value: Any) -> bool:
    """No answer: None, False, a string of whitespace, an empty list/tuple/dict."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _lengths(field: Field, s: str) -> tuple[str, dict[str, Any]] | None:
    if field.min_length is not None and len(s) < field.min_length:
        return "too_short", {"min": field.min_length}
    if field.max_length is not None and len(s) > field.max_length:
        return "too_long", {"max": field.max_length}
    return None


def _clean_text(field: Field, value: Any, today: date) -> Outcome:
    if not isinstance(value, str):
        return None, ("bad_value", {})
    if field.type == "textarea":
        s = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        bad = _TEXTAREA_BAD.search(s)
    else:
        s = value.strip()
        bad = _TEXT_BAD.search(s)
    if bad:
        return None, ("bad_characters", {})
    s = unicodedata.normalize("NFC", s)
    problem = _lengths(field, s)
    if problem:
        return None, problem
    if field.pattern_re is not None and not field.pattern_re.fullmatch(s):
        return None, ("pattern", {})
    return s, None


def clean_kana(value: str) -> str | None:
    """Full-width katakana with single full-width spaces, or None when other characters remain."""
    s = to_katakana(join_voicing_marks(unicodedata.normalize("NFKC", value)))
    s = "\u3000".join(s.split())
    return s if _KANA_OK.fullmatch(s) else None


def _clean_kana(field: Field, value: Any, today: date) -> Outcome:
    if not isinstance(value, str):
        return None, ("bad_value", {})
    s = clean_kana(value)
    if s is None:
        return None, ("not_kana", {})
    problem = _lengths(field, s)
    return (None, problem) if problem else (s, None)


def _clean_number(field: Field, value: Any, today: date) -> Outcome:
    if isinstance(value, bool):
        return None, ("not_integer", {})
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        n = int(value)
    elif isinstance(value, str):
        s = _nfkc(value).replace("\u2212", "-")
        if len(s) > 40 or not _INTEGER.fullmatch(s):
            return None, ("not_integer", {})
        n = int(s.replace(",", ""))
    else:
        return None, ("not_integer", {})
    if field.min is not None and n < field.min:
        return None, ("too_small", {"min": field.min})
    if field.max is not None and n > field.max:
        return None, ("too_large", {"max": field.max})
    return n, None


def parse_date(value: Any) -> date | None:
    """A date from a date, an ISO/western string (2020-04-01, 2020/4/1, 2020年4月1日, 20200401) or a 和暦
    string (令和2年4月1日, R2.4.1); None when it is none of these or not a real day."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) > 40:
        return None
    s = _nfkc(value)
    m = _WESTERN_DATE.fullmatch(s)
    if m is not None:
        month = m["m"] or m["m2"] or m["m3"]
        day = m["d"] or m["d2"] or m["d3"]
        try:
            return date(int(m["y"]), int(month), int(day))
        except ValueError:
            return None
    try:
        return parse_wareki(s)
    except ValueError:
        return None


def resolve_date_bound(bound: str | None, today: date) -> date | None:
    if bound is None:
        return None
    return today if bound == "today" else date.fromisoformat(bound)


def _clean_date(field: Field, value: Any, today: date) -> Outcome:
    d = parse_date(value)
    if d is None:
        return None, ("bad_date", {})
    low = resolve_date_bound(field.min, today)
    if low is not None and d < low:
        return None, ("too_early", {"min": low.isoformat()})
    high = resolve_date_bound(field.max, today)
    if high is not None and d > high:
        return None, ("too_late", {"max": high.isoformat()})
    return d.isoformat(), None


def _clean_choice(field: Field, value: Any, today: date) -> Outcome:
    allowed = field.option_values
    if field.widget != "checkboxes":
        if not isinstance(value, str) or value.strip() not in allowed:
            return None, ("bad_choice", {})
        return value.strip(), None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        return None, ("bad_choice", {})
    chosen = set()
    for v in values:
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if not isinstance(v, str) or v.strip() not in allowed:
            return None, ("bad_choice", {})
        chosen.add(v.strip())
    if not chosen:
        return None, None
    if field.min_choices is not None and len(chosen) < field.min_choices:
        return None, ("too_few_choices", {"min": field.min_choices})
    if field.max_choices is not None and len(chosen) > field.max_choices:
        return None, ("too_many_choices", {"max": field.max_choices})
    return [o.value for o in field.options if o.value in chosen], None


def _clean_email(field: Field, value: Any, today: date) -> Outcome:
    if not isinstance(value, str):
        return None, ("bad_email", {})
    s = _nfkc(value)
    if field.max_length is not None and len(s) > field.max_length:
        return None, ("too_long", {"max": field.max_length})
    local, at, domain = s.rpartition("@")
    domain = domain.lower()
    if not at or not _EMAIL_LOCAL.fullmatch(local) or not _EMAIL_DOMAIN.fullmatch(domain):
        return None, ("bad_email", {})
    return f"{local}@{domain}", None


def _clean_phone(field: Field, value: Any, today: date) -> Outcome:
    if not isinstance(value, str) or len(value) > 40:
        return None, ("bad_phone", {})
    s = "".join(_nfkc(value).translate(_HYPHENS).split())
    s = re.sub("-{2,}", "-", s.replace("(", "-").replace(")", "-")).strip("-")
    digits = s.replace("-", "")
    if not _PHONE.fullmatch(s) or not digits.isascii() or not 10 <= len(digits) <= 11:
        return None, ("bad_phone", {})
    return s, None


def _clean_postcode(field: Field, value: Any, today: date) -> Outcome:
    if not isinstance(value, str) or len(value) > 40:
        return None, ("bad_postcode", {})
    s = _nfkc(value).lstrip("\u3012").translate(_HYPHENS)
    m = _POSTCODE.fullmatch("".join(s.split()))
    if m is None:
        return None, ("bad_postcode", {})
    return f"{m[1]}-{m[2]}", None


def _clean_mynumber(field: Field, value: Any, today: date) -> Outcome:
    if not isinstance(value, str) or len(value) > 80:
        return None, ("bad_mynumber_length", {})
    if _VAULT_TOKEN.fullmatch(value):  # already replaced by its vault token (Django layer)
        return value, None
    s = "".join(_nfkc(value).translate(_HYPHENS).replace("-", "").split())
    if len(s) != 12 or not s.isascii() or not s.isdigit():
        return None, ("bad_mynumber_length", {})
    if my_number_check_digit(s[:11]) != s[11]:
        return None, ("bad_mynumber_check_digit", {})
    return s, None


def _file_reference(ref: Any) -> dict | None:
    if not isinstance(ref, Mapping):
        return None
    file_id, name, size, ctype = (ref.get(k) for k in ("id", "name", "size", "content_type"))
    if isinstance(file_id, bool) or not (isinstance(file_id, int) or (isinstance(file_id, str) and file_id)):
        return None
    if not (isinstance(name, str) and name.strip()) or not isinstance(ctype, str):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return None
    out = {}
    for k, v in ref.items():  # keeps what the Django layer adds (a digest, …) when it is JSON-scalar
        if not isinstance(k, str) or not (v is None or isinstance(v, (str, int, bool))):
            return None
        out[k] = v
    return out


def _clean_file(field: Field, value: Any, today: date) -> Outcome:
    refs = [value] if isinstance(value, Mapping) else value
    if not isinstance(refs, (list, tuple)):
        return None, ("bad_file_reference", {})
    refs = [r for r in refs if not is_blank(r)]
    if not refs:
        return None, None
    if len(refs) > field.max_files:
        return None, ("too_many_files", {"max": field.max_files})
    allowed = set().union(*(FILE_TYPES[a] for a in field.accept))
    out = []
    for ref in refs:
        clean = _file_reference(ref)
        if clean is None:
            return None, ("bad_file_reference", {})
        if clean["size"] > field.max_bytes:
            return None, ("file_too_large", {"max": field.max_bytes})
        if clean["content_type"].split(";", 1)[0].strip().lower() not in allowed:
            return None, ("file_type_not_allowed", {"accept": list(field.accept)})
        out.append(clean)
    return (out[0] if field.max_files == 1 else out), None


def _clean_declaration(field: Field, value: Any, today: date) -> Outcome:
    if value is True or (type(value) is int and value == 1):
        return True, None
    if type(value) is int and value == 0:
        return None, None
    if isinstance(value, str):
        s = _nfkc(value).lower()
        if s in _TRUE:
            return True, None
        if s in _FALSE:
            return None, None
    return None, ("must_declare", {})


CLEANERS: dict[str, Callable[[Field, Any, date], Outcome]] = {
    "text": _clean_text,
    "textarea": _clean_text,
    "kana": _clean_kana,
    "number": _clean_number,
    "date": _clean_date,
    "choice": _clean_choice,
    "email": _clean_email,
    "phone": _clean_phone,
    "postcode": _clean_postcode,
    "mynumber": _clean_mynumber,
    "file": _clean_file,
    "declaration": _clean_declaration,
}
