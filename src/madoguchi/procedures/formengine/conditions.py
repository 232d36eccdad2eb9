"""Show-if conditions: validation against the fields of a definition, compilation to closures, and a plain
tree-walking interpreter (the reference semantics, used by the tests and as the benchmark's baseline).

Semantics, for both the compiled and the interpreted form: ``env`` maps a field key to its cleaned answer and
holds only fields that are visible and validly answered; any other field is "no answer". ``eq``/``in`` are
false on no answer and ``ne``/``not_in`` true; ``gt``/``gte``/``lt``/``lte`` and ``contains`` are false on no
answer; ``answered`` is true when the key is in ``env``. Dates are compared as ISO strings (which order
like the dates), numbers as ints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "MAX_CONDITION_DEPTH",
    "OPS",
    "Condition",
    "Target",
    "check_condition",
    "compile_condition",
    "condition_fields",
    "evaluate_condition",
]

Condition = Callable[[Mapping[str, Any]], bool]

MAX_CONDITION_DEPTH = 20
OPS = frozenset(
    {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "answered", "not_answered", "contains"}
)
_NO_VALUE_OPS = frozenset({"answered", "not_answered"})
_LIST_OPS = frozenset({"in", "not_in"})
_ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})
# Types whose cleaned answer is one comparable scalar (mynumber is a vault token by then: no comparisons).
_SCALAR_TYPES = frozenset(
    {"text", "textarea", "kana", "number", "date", "email", "phone", "postcode", "declaration"}
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class Target:
    """What a condition needs to know about the field it refers to."""

    key: str
    type: str
    position: int  # index in document order (groups before their sub-fields)
    group: str | None = None  # the group this field is a sub-field of
    widget: str | None = None
    options: frozenset[str] | None = None


def _op_allowed(op: str, target: Target) -> bool:
    if op in _NO_VALUE_OPS:
        return True
    checkboxes = target.type == "choice" and target.widget == "checkboxes"
    if op == "contains":
        return checkboxes
    if op in _ORDER_OPS:
        return target.type in ("number", "date")
    return target.type in _SCALAR_TYPES or (target.type == "choice" and not checkboxes)


def _value_ok(value: Any, target: Target) -> str | None:
    """None when ``value`` can equal a cleaned answer of ``target``, else a problem code."""
    kind = target.type
    if kind == "number":
        return None if isinstance(value, int) and not isinstance(value, bool) else "bad_condition_value"
    if kind == "declaration":
        return None if value is True else "bad_condition_value"
    if not isinstance(value, str):
        return "bad_condition_value"
    if kind == "date":
        if not _ISO_DATE.fullmatch(value):
            return "bad_condition_value"
        try:
            date.fromisoformat(value)
        except ValueError:
            return "bad_condition_value"
        return None
    if kind == "choice" and target.options is not None and value not in target.options:
        return "unknown_option_in_condition"
    return None


def check_condition(
    cond: Any,
    path: str,
    *,
    position: int,
    scope: str | None,
    targets: Mapping[str, Target],
    add: Callable[..., None],
    depth: int = 0,
) -> dict | None:
    """Validate ``cond`` for an owner at ``position`` (document order) inside group ``scope`` (or None).

    Reports problems through ``add(code, path, **params)`` and returns the normalised condition, or None
    when it is invalid.
    """
    if depth >= MAX_CONDITION_DEPTH:
        add("condition_too_deep", path, max=MAX_CONDITION_DEPTH)
        return None
    if not isinstance(cond, dict):
        add("bad_condition", path)
        return None
    for combinator in ("all", "any"):
        if combinator in cond:
            ok = True
            for extra in cond.keys() - {combinator}:
                add("unknown_key", f"{path}/{extra}", key=str(extra))
                ok = False
            items = cond[combinator]
            if not isinstance(items, list):
                add("bad_value", f"{path}/{combinator}", expected="list")
                return None
            if not items:
                add("empty_condition_list", f"{path}/{combinator}")
                return None
            out = []
            for i, item in enumerate(items):
                sub = check_condition(
                    item, f"{path}/{combinator}/{i}", position=position, scope=scope, targets=targets,
                    add=add, depth=depth + 1,
                )  # fmt: skip
                ok = ok and sub is not None
                out.append(sub)
            return {combinator: out} if ok else None
    if "not" in cond:
        ok = True
        for extra in cond.keys() - {"not"}:
            add("unknown_key", f"{path}/{extra}", key=str(extra))
            ok = False
        sub = check_condition(
            cond["not"], f"{path}/not", position=position, scope=scope, targets=targets, add=add,
            depth=depth + 1,
        )  # fmt: skip
        return {"not": sub} if ok and sub is not None else None
    if "field" not in cond:
        add("bad_condition", path)
        return None
    return _check_leaf(cond, path, position=position, scope=scope, targets=targets, add=add)


def _check_leaf(cond: dict, path: str, *, position, scope, targets, add) -> dict | None:
    ok = True
    if len(cond) > 2 + ("value" in cond):
        for extra in sorted(map(str, cond.keys() - {"field", "op", "value"})):
            add("unknown_key", f"{path}/{extra}", key=extra)
            ok = False
    key = cond["field"]
    target = targets.get(key) if isinstance(key, str) else None
    if target is None:
        add("unknown_field_in_condition", f"{path}/field", field=str(key))
        ok = False
    elif target.position >= position:
        add("later_field_in_condition", f"{path}/field", field=key)
        ok = False
    elif target.group is not None and target.group != scope:
        add("condition_crosses_group", f"{path}/field", field=key)
        ok = False
    elif target.type == "group" and target.key == scope:
        add("condition_on_own_group", f"{path}/field", field=key)
        ok = False
    if "op" not in cond:
        add("missing_key", f"{path}/op", key="op")
        return None
    op = cond["op"]
    if not isinstance(op, str) or op not in OPS:
        add("bad_op", f"{path}/op", op=str(op))
        return None
    if not ok:
        return None
    if not _op_allowed(op, target):
        add("op_not_allowed_for_type", f"{path}/op", op=op, type=target.type)
        return None
    if op in _NO_VALUE_OPS:
        if cond.get("value") is not None:
            add("unexpected_value", f"{path}/value", op=op)
            return None
        return {"field": key, "op": op}
    if "value" not in cond or cond["value"] is None:
        add("missing_value", f"{path}/value", op=op)
        return None
    value = cond["value"]
    if op in _LIST_OPS:
        if not isinstance(value, list):
            add("value_must_be_list", f"{path}/value", op=op)
            return None
        if not value:
            add("empty_condition_list", f"{path}/value")
            return None
        values = []
        for i, v in enumerate(value):
            code = _value_ok(v, target)
            if code is not None:
                add(code, f"{path}/value/{i}", op=op, value=str(v))
                ok = False
            elif v not in values:
                values.append(v)
        return {"field": key, "op": op, "value": values} if ok else None
    if op == "contains":
        code = _value_ok(value, Target(key, "choice", target.position, options=target.options))
    else:
        code = _value_ok(value, target)
    if code is not None:
        add(code, f"{path}/value", op=op, value=str(value))
        return None
    return {"field": key, "op": op, "value": value}


def condition_fields(cond: Mapping) -> set[str]:
    """The field keys a (normalised) condition reads."""
    if "all" in cond or "any" in cond:
        out: set[str] = set()
        for sub in cond.get("all") or cond.get("any"):
            out |= condition_fields(sub)
        return out
    if "not" in cond:
        return condition_fields(cond["not"])
    return {cond["field"]}


# --- Compilation ----------------------------------------------------------------------------------------
def _leaf(key: str, op: str, value: Any) -> Condition:
    # One small closure per leaf; default arguments keep the lookups local.
    if op == "eq":
        return lambda env, k=key, v=value: env.get(k) == v
    if op == "ne":
        return lambda env, k=key, v=value: env.get(k) != v
    if op == "in":
        return lambda env, k=key, s=frozenset(value): env.get(k) in s
    if op == "not_in":
        return lambda env, k=key, s=frozenset(value): env.get(k) not in s
    if op == "answered":
        return lambda env, k=key: k in env
    if op == "not_answered":
        return lambda env, k=key: k not in env
    if op == "contains":

        def contains(env, k=key, v=value):
            x = env.get(k)
            return x is not None and v in x

        return contains
    if op == "gt":

        def gt(env, k=key, v=value):
            x = env.get(k)
            return x is not None and x > v

        return gt
    if op == "gte":

        def gte(env, k=key, v=value):
            x = env.get(k)
            return x is not None and x >= v

        return gte
    if op == "lt":

        def lt(env, k=key, v=value):
            x = env.get(k)
            return x is not None and x < v

        return lt
    if op == "lte":

        def lte(env, k=key, v=value):
            x = env.get(k)
            return x is not None and x <= v

        return lte
    raise ValueError(f"unknown op {op!r}")


def compile_condition(cond: Mapping) -> Condition:
    """A closure ``env -> bool`` for a normalised (validated) condition; built once at parse time."""
    if "all" in cond:
        parts = tuple(compile_condition(c) for c in cond["all"])
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            a, b = parts
            return lambda env: a(env) and b(env)

        def all_(env):
            for part in parts:
                if not part(env):
                    return False
            return True

        return all_
    if "any" in cond:
        parts = tuple(compile_condition(c) for c in cond["any"])
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            a, b = parts
            return lambda env: a(env) or b(env)

        def any_(env):
            for part in parts:
                if part(env):
                    return True
            return False

        return any_
    if "not" in cond:
        inner = compile_condition(cond["not"])
        return lambda env: not inner(env)
    return _leaf(cond["field"], cond["op"], cond.get("value"))


def evaluate_condition(cond: Mapping, env: Mapping[str, Any]) -> bool:
    """Interpret a condition by walking its JSON tree (no compilation). Same results as the compiled form."""
    if "all" in cond:
        return all(evaluate_condition(c, env) for c in cond["all"])
    if "any" in cond:
        return any(evaluate_condition(c, env) for c in cond["any"])
    if "not" in cond:
        return not evaluate_condition(cond["not"], env)
    key, op, value = cond["field"], cond["op"], cond.get("value")
    if op == "answered":
        return key in env
    if op == "not_answered":
        return key not in env
    x = env.get(key)
    if op == "eq":
        return x == value
    if op == "ne":
        return x != value
    if op == "in":
        return x in value
    if op == "not_in":
        return x not in value
    if x is None:
        return False
    if op == "contains":
        return value in x
    if op == "gt":
        return x > value
    if op == "gte":
        return x >= value
    if op == "lt":
        return x < value
    if op == "lte":
        return x <= value
    raise ValueError(f"unknown op {op!r}")
