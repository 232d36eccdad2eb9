"""Answers: which fields are visible, and cleaning/validation of what an applicant posted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from .cleaners import CLEANERS, is_blank, japan_today
from .problems import Problem
from .schema import Field, FormDefinition

__all__ = ["clean_answers", "visible_fields"]

_INDEX = re.compile(r"0|[1-9][0-9]{0,3}")


def _get(raw: Mapping[str, Any], key: str, multiple: bool) -> Any:
    # A Django QueryDict (or anything with getlist) gives every posted value of a checkboxes field.
    if multiple:
        getlist = getattr(raw, "getlist", None)
        if getlist is not None:
            return getlist(key)
    return raw.get(key)


def _clean_value(f: Field, value: Any, today: date) -> tuple[Any, tuple[str, dict] | None]:
    """Clean one non-group answer, including the required check. Returns (cleaned or None, problem)."""
    if isinstance(value, (list, tuple)) and not (f.multiple or f.type == "file"):
        if len(value) > 1:
            return None, ("bad_value", {})
        value = value[0] if value else None
    cleaned = None
    if not is_blank(value):
        cleaned, problem = CLEANERS[f.type](f, value, today)
        if problem is not None:
            return None, problem
    if cleaned is None and f.required:
        return None, ("must_declare" if f.type == "declaration" else "required", {})
    return cleaned, None


def _group_items(f: Field, raw: Mapping[str, Any]) -> list[tuple[str, Any]] | None:
    """(index label, item) pairs from a list of dicts or from flattened keys ``group.0.sub``; None when the
    answer is neither."""
    direct = raw.get(f.key)
    if not is_blank(direct):
        if not isinstance(direct, (list, tuple)):
            return None
        return [(str(i), item) for i, item in enumerate(direct)]
    prefix = f.key + "."
    subs = {c.key: c for c in f.children}
    items: dict[int, dict[str, Any]] = {}
    for name in raw:
        if not isinstance(name, str) or not name.startswith(prefix):
            continue
        index, _, sub = name[len(prefix) :].partition(".")
        child = subs.get(sub)
        if child is not None and _INDEX.fullmatch(index):
            items.setdefault(int(index), {})[sub] = _get(raw, name, child.multiple)
    return [(str(i), items[i]) for i in sorted(items)]


def _clean_group(
    f: Field, raw: Mapping[str, Any], env: Mapping[str, Any], referenced: frozenset[str], today: date
) -> tuple[list[dict] | None, list[Problem]]:
    problems: list[Problem] = []
    pairs = _group_items(f, raw)
    if pairs is None:
        return None, [Problem("bad_value", f.key, {})]
    inner_refs = any(c.key in referenced for c in f.children)
    kept: list[dict] = []
    for label, item in pairs:
        if not isinstance(item, Mapping):
            problems.append(Problem("bad_value", f"{f.key}.{label}", {}))
            continue
        if all(is_blank(item.get(c.key)) for c in f.children):
            continue  # an empty row the form rendered: no item
        item_env = dict(env) if inner_refs else env
        out: dict[str, Any] = {}
        for c in f.children:
            if c.condition is not None and not c.condition(item_env):
                continue
            value, problem = _clean_value(c, item.get(c.key), today)
            if problem is not None:
                problems.append(Problem(problem[0], f"{f.key}.{label}.{c.key}", problem[1]))
            elif value is not None:
                out[c.key] = value
                if inner_refs and c.key in referenced:
                    item_env[c.key] = value  # type: ignore[index]
        kept.append(out)
    if not kept:
        if f.required and not problems:
            problems.append(Problem("required", f.key, {}))
        return None, problems
    if len(kept) < (f.min_items or 0):
        problems.append(Problem("too_few_items", f.key, {"min": f.min_items}))
    if f.max_items is not None and len(kept) > f.max_items:
        problems.append(Problem("too_many_items", f.key, {"max": f.max_items}))
    return kept, problems


def _field_answer(
    f: Field, raw: Mapping[str, Any], env: Mapping[str, Any], referenced: frozenset[str], today: date
) -> tuple[Any, list[Problem]]:
    if f.type == "group":
        return _clean_group(f, raw, env, referenced, today)
    value, problem = _clean_value(f, _get(raw, f.key, f.multiple), today)
    if problem is not None:
        return None, [Problem(problem[0], f.key, problem[1])]
    return value, []


def _walk(
    definition: FormDefinition, raw: Mapping[str, Any], page: str | None, today: date | None, collect: bool
) -> tuple[list[Field], dict[str, Any], list[Problem]]:
    target = definition.page(page).index if page is not None else None
    today = today or japan_today()
    referenced = definition.referenced
    env: dict[str, Any] = {}  # cleaned answers of visible, validly answered fields that conditions read
    visible: list[Field] = []
    cleaned: dict[str, Any] = {}
    problems: list[Problem] = []
    for p in definition.pages:
        if target is not None and p.index > target:
            break
        in_scope = target is None or p.index == target
        if p.condition is not None and not p.condition(env):
            continue
        for f in p.fields:
            if f.condition is not None and not f.condition(env):
                continue
            if in_scope:
                visible.append(f)
            needed = f.key in referenced
            if not (needed or (collect and in_scope)):
                continue
            value, found = _field_answer(f, raw, env, referenced, today)
            if collect and in_scope:
                problems.extend(found)
                if value is not None:
                    cleaned[f.key] = value
            if needed and value is not None and not found:
                env[f.key] = value
    return visible, cleaned, problems


def visible_fields(
    definition: FormDefinition,
    answers: Mapping[str, Any],
    *,
    page: str | None = None,
    today: date | None = None,
) -> list[Field]:
    """Top-level fields visible with these answers (raw or cleaned), in order; with ``page``, only that
    page's fields (conditions on earlier pages still count). A group is one field here; its sub-fields'
    conditions are evaluated per item by ``clean_answers``. An answer that does not validate counts as no
    answer for conditions."""
    return _walk(definition, answers, page, today, collect=False)[0]


def clean_answers(
    definition: FormDefinition,
    raw: Mapping[str, Any],
    *,
    page: str | None = None,
    today: date | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate ``raw`` (a form's post or earlier cleaned answers) and return (cleaned answers, problems).

    ``page=None`` validates the whole document (submission); ``page="key"`` only that page's fields, with the
    show-if conditions evaluated against ``raw`` on every page up to it. Hidden fields are never required and
    their answers are dropped, as are keys the definition does not know. ``today`` (default: today in Japan)
    resolves ``"today"`` in date bounds. Raises KeyError for an unknown page.
    """
    _visible, cleaned, problems = _walk(definition, raw, page, today, collect=True)
    return cleaned, problems
