"""The Django side of the form engine: messages for its problems, My Number tokens, display of answers.

The engine (`formengine`) is pure and knows nothing of the vault or of languages. Here:
- `clean` runs the engine and then replaces every My Number answer with a vault token, so that no My Number is
  ever kept in a draft, a session, a submission or a signature (the signed canonical bytes carry the token);
  in a zone that may not use the vault (Internet) it becomes a sealed token (`vault/sealing.py`) instead,
  if the My Number zone's public key is configured, and `madoguchi procedures unseal` hands it over later;
- `problem_message` turns a Problem into a Japanese/English sentence;
- `display_rows` renders cleaned answers for the check-your-answers page, staff and PDFs (My Number masked,
  dates in 和暦 and 西暦, choices by their labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.core.wareki import format_wareki
from madoguchi.procedures.formengine import FormDefinition, Problem, clean_answers, visible_fields
from madoguchi.vault.sealing import is_sealed, seal
from madoguchi.vault.selectors import MASK

TOKEN_PREFIX = "mn_"  # noqa: S105 (the vault token prefix, not a secret)


def is_my_number_token(value: Any) -> bool:
    """A My Number answer as kept: a vault token (`mn_…`) or a sealed token (`mns1_…`), never a number."""
    return isinstance(value, str) and (value.startswith(TOKEN_PREFIX) or is_sealed(value))


def sealing_context(municipality) -> str:
    """The associated data a sealed My Number is bound to: the municipality it was typed for.

    Not the procedure or the field: a life-event bundle cleans one shared answer and files it into several
    procedures under their own keys, and the sealed token must open for each of them.
    """
    code = getattr(municipality, "code", "") or "-"
    return f"madoguchi/mynumber/{code}"


class MyNumberUnavailable(Exception):
    """This process may not store My Numbers (Internet zone): the procedure is applied for at the counter."""


def text_of(value: Any, language: str | None = None) -> str:
    """A Text dict {"ja": …, "en": …} in the current language (falls back to Japanese)."""
    if isinstance(value, str):
        return value
    if not value:
        return ""
    language = (language or get_language() or "ja")[:2]
    return value.get(language) or value.get("ja") or ""


def _mynumber_keys(definition: FormDefinition) -> list[str]:
    return [f.key for f in definition.fields_in_order if f.type == "mynumber"]


def clean(
    definition: FormDefinition,
    raw: dict[str, Any],
    *,
    page: str | None = None,
    actor: Any = None,
    municipality=None,
    today: date | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate `raw` (a page's POST or earlier answers); My Number answers come back as vault tokens.

    A value that already is a vault or sealed token (from an earlier page) is kept as it is. In a zone that
    may not use the vault, a typed My Number becomes a sealed token if a sealing key is configured.
    """
    raw = dict(raw)
    tokens: dict[str, str] = {}
    for key in _mynumber_keys(definition):
        value = raw.get(key)
        if is_my_number_token(value):
            tokens[key] = raw.pop(key)
    cleaned, problems = clean_answers(definition, raw, page=page, today=today)
    problems = [p for p in problems if not (p.path in tokens and p.code == "required")]
    visible = {f.key for f in visible_fields(definition, {**cleaned, **tokens})}
    for key, token in tokens.items():
        if key in visible:
            cleaned[key] = token
    for key in _mynumber_keys(definition):
        value = cleaned.get(key)
        if isinstance(value, str) and not is_my_number_token(value) and not problems:
            cleaned[key] = store_my_number(value, actor=actor, municipality=municipality)
        elif isinstance(value, str) and not is_my_number_token(value):
            # Other problems on the page: do not keep the number anywhere; the applicant types it again.
            cleaned.pop(key, None)
    return cleaned, problems


def store_my_number(value: str, *, actor: Any, municipality=None) -> str:
    from madoguchi.vault.services import Purpose, my_number_store

    if not settings.MADOGUCHI_ZONE.may_read_vault:
        public_key = getattr(settings, "MYNUMBER_SEALING_PUBLIC_KEY", "")
        if public_key:
            # Validated by the engine (12 digits, check digit); only the My Number zone can open it.
            return seal(value, public_key, sealing_context(municipality))
        raise MyNumberUnavailable(
            _("This service cannot take a My Number here. Please apply at the counter of your municipality.")
        )
    if actor is None or getattr(actor, "is_anonymous", False):
        actor = audit.Actor("applicant", "", "applicant")
    elif not isinstance(actor, audit.Actor):
        # Residents act as applicants: recorded by user id, without the staff-only two-step requirement.
        actor = audit.Actor("applicant", str(actor.pk), actor.get_username())
    return my_number_store(
        value=value, actor=actor, purpose=Purpose.SOCIAL_SECURITY, municipality=municipality
    )


# --- Messages -----------------------------------------------------------------------------------------------
def problem_message(problem: Problem) -> str:
    p = problem.params or {}
    messages = {
        "required": _("Enter an answer."),
        "too_short": _("Enter at least %(min)s characters."),
        "too_long": _("Enter at most %(max)s characters."),
        "pattern": _("The format is not right."),
        "not_kana": _("Enter in katakana (カタカナ)."),
        "not_integer": _("Enter a whole number."),
        "too_small": _("Enter %(min)s or more."),
        "too_large": _("Enter %(max)s or less."),
        "bad_date": _("Enter a real date, e.g. 2026-04-01 or 令和8年4月1日."),
        "too_early": _("Enter a date on or after %(min)s."),
        "too_late": _("Enter a date on or before %(max)s."),
        "bad_choice": _("Choose one of the options."),
        "too_few_choices": _("Choose at least %(min)s."),
        "too_many_choices": _("Choose at most %(max)s."),
        "bad_email": _("Enter an e-mail address like name@example.jp."),
        "bad_phone": _("Enter a phone number of 10 or 11 digits."),
        "bad_postcode": _("Enter a postcode of 7 digits, e.g. 100-0001."),
        "bad_mynumber_length": _("A My Number has 12 digits."),
        "bad_mynumber_check_digit": _("This is not a valid My Number (check digit)."),
        "too_many_files": _("Attach at most %(max)s files."),
        "file_too_large": _("The file is too large (at most %(max)s bytes)."),
        "file_type_not_allowed": _("This type of file is not accepted here."),
        "too_few_items": _("Add at least %(min)s."),
        "too_many_items": _("Add at most %(max)s."),
        "must_declare": _("Tick the box to make the declaration."),
    }
    template = messages.get(problem.code)
    if template is None:
        return _("This answer cannot be accepted (%(code)s).") % {"code": problem.code}
    try:
        return template % p
    except (KeyError, TypeError, ValueError):
        return template


def definition_problem_message(problem: Problem) -> str:
    """Builder errors: the code and where, in words (the codes are documented in the schema doc)."""
    labels = {
        "unknown_type": _("Unknown field type"),
        "duplicate_key": _("The same key is used twice"),
        "bad_key": _("A key must start with a-z and use only a-z, 0-9 and _"),
        "missing_label": _("A Japanese label is required"),
        "unknown_field_in_condition": _("The condition refers to a field that does not exist"),
        "later_field_in_condition": _("A condition may only refer to an earlier field"),
    }
    label = labels.get(problem.code, problem.code)
    return f"{label} ({problem.path})" if problem.path else label


# --- Display ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: str
    page: str
    children: tuple[tuple[Row, ...], ...] = ()


def display_value(field, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    kind = field.type
    if kind == "mynumber":
        return f"{MASK}（{_('sealed')}）" if is_sealed(value) else MASK
    if kind == "date":
        try:
            d = date.fromisoformat(value)
        except (TypeError, ValueError):
            return str(value)
        return f"{format_wareki(d)}（{d.isoformat()}）"
    if kind == "choice":
        labels = {o["value"] if isinstance(o, dict) else o.value: o for o in field.options}
        values = value if isinstance(value, list) else [value]
        out = []
        for v in values:
            option = labels.get(v)
            label = option.get("label") if isinstance(option, dict) else getattr(option, "label", None)
            out.append(text_of(label) or str(v))
        return "、".join(out)
    if kind == "declaration":
        return _("Declared")
    if kind == "file":
        files = value if isinstance(value, list) else [value]
        return "、".join(f.get("name", "") for f in files if isinstance(f, dict))
    if kind == "number":
        unit = text_of(getattr(field, "unit", None))
        return f"{value:,}{unit}" if isinstance(value, int) else str(value)
    return str(value)


def display_rows(definition: FormDefinition, answers: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for page in definition.pages:
        for field in page.fields:
            if field.key not in answers:
                continue
            value = answers[field.key]
            if field.type == "group":
                items = []
                for item in value or []:
                    items.append(
                        tuple(
                            Row(c.key, text_of(c.label), display_value(c, item.get(c.key)), page.key)
                            for c in field.children
                            if c.key in item
                        )
                    )
                rows.append(Row(field.key, text_of(field.label), "", page.key, tuple(items)))
            else:
                rows.append(Row(field.key, text_of(field.label), display_value(field, value), page.key))
    return rows
