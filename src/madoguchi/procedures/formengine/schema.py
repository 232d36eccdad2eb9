"""Form definitions: parsing and validation of the JSON document (docs/procedures-form-schema.md) into
immutable objects, with every show-if condition compiled once, here."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .canonical import canonical_json_trusted
from .cleaners import FILE_TYPES
from .conditions import Condition, Target, check_condition, compile_condition, condition_fields
from .problems import DefinitionError, Problem

__all__ = [
    "FIELD_TYPES",
    "MAX_FIELDS",
    "MAX_PATTERN_LENGTH",
    "PREFILL_SOURCES",
    "Field",
    "FormDefinition",
    "Option",
    "Page",
    "field_summary",
    "parse_definition",
]

KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_FIELDS = 1000
MAX_PATTERN_LENGTH = 200
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
WIDGETS = ("radio", "select", "checkboxes")
FIELD_TYPES = (
    "text", "textarea", "kana", "number", "date", "choice", "email", "phone", "postcode", "mynumber",
    "file", "group", "declaration",
)  # fmt: skip
COMMON_KEYS = ("key", "type", "label", "help", "required", "show_if", "prefill", "shared")
#: Each type's own keys, in the order to_json writes them.
TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "text": ("min_length", "max_length", "pattern"),
    "textarea": ("min_length", "max_length"),
    "kana": ("min_length", "max_length"),
    "number": ("min", "max", "unit"),
    "date": ("min", "max"),
    "choice": ("widget", "options", "min_choices", "max_choices"),
    "email": ("max_length",),
    "phone": (),
    "postcode": ("address_field",),
    "mynumber": (),
    "file": ("accept", "max_bytes", "max_files"),
    "group": ("fields", "min_items", "max_items", "item_label"),
    "declaration": ("text",),
}
ALLOWED_KEYS = {kind: frozenset(COMMON_KEYS + own) for kind, own in TYPE_KEYS.items()}
DEFAULT_MAX_LENGTH = {"text": 200, "textarea": 2000, "kana": 100, "email": 254}
#: prefill source → field types it can fill.
PREFILL_SOURCES: dict[str, frozenset[str]] = {
    "basic4.name": frozenset({"text"}),
    "basic4.name_kana": frozenset({"kana"}),
    "basic4.address": frozenset({"text", "textarea"}),
    "basic4.date_of_birth": frozenset({"date"}),
    "basic4.sex": frozenset({"choice", "text"}),
    "profile.email": frozenset({"email"}),
    "profile.phone": frozenset({"phone"}),
    "profile.postcode": frozenset({"postcode"}),
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts and lists)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "label": dict(self.label)}


@dataclass(frozen=True, slots=True)
class Field:
    """One field. Attributes that do not apply to its type are None (or empty). ``position`` is its index in
    ``FormDefinition.fields_in_order``; ``group`` the key of the group it belongs to (None at top level)."""

    key: str
    type: str
    label: dict[str, str] | None
    help: dict[str, str] | None = None
    required: bool = False
    show_if: dict | None = None
    prefill: str | None = None
    shared: str | None = None
    page: str = ""
    group: str | None = None
    position: int = 0
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: int | str | None = None  # int for number, ISO date or "today" for date
    max: int | str | None = None
    unit: dict[str, str] | None = None
    widget: str | None = None
    options: tuple[Option, ...] = ()
    min_choices: int | None = None
    max_choices: int | None = None
    address_field: str | None = None
    accept: tuple[str, ...] = ()
    max_bytes: int | None = None
    max_files: int | None = None
    children: tuple[Field, ...] = ()
    min_items: int | None = None
    max_items: int | None = None
    item_label: dict[str, str] | None = None
    text: dict[str, str] | None = None
    # Compiled at parse time:
    condition: Condition | None = field(default=None, compare=False, repr=False)
    pattern_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    option_values: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __hash__(self) -> int:
        return hash((self.key, self.type, self.position))

    @property
    def multiple(self) -> bool:
        """Whether a form posts several values under this key (checkboxes)."""
        return self.type == "choice" and self.widget == "checkboxes"

    def to_json(self) -> dict[str, Any]:
        return self._json(copy=True)

    def _json(self, *, copy: bool) -> dict[str, Any]:
        # copy=False shares the condition dicts: only for hashing, never handed out.
        out: dict[str, Any] = {"key": self.key, "type": self.type}
        if self.label is not None:
            out["label"] = dict(self.label)
        if self.help is not None:
            out["help"] = dict(self.help)
        out["required"] = self.required
        if self.show_if is not None:
            out["show_if"] = _copy(self.show_if) if copy else self.show_if
        if self.prefill is not None:
            out["prefill"] = self.prefill
        if self.shared is not None:
            out["shared"] = self.shared
        for name in TYPE_KEYS[self.type]:
            if name == "fields":
                out["fields"] = [c._json(copy=copy) for c in self.children]
                continue
            value = getattr(self, name)
            if value is None:
                continue
            if name == "options":
                value = [o.to_json() for o in value]
            elif name == "accept":
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    title: dict[str, str]
    show_if: dict | None
    fields: tuple[Field, ...]
    index: int = 0
    condition: Condition | None = field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:
        return hash((self.key, self.index))

    def to_json(self) -> dict[str, Any]:
        return self._json(copy=True)

    def _json(self, *, copy: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "title": dict(self.title)}
        if self.show_if is not None:
            out["show_if"] = _copy(self.show_if) if copy else self.show_if
        out["fields"] = [f._json(copy=copy) for f in self.fields]
        return out


@dataclass(frozen=True, slots=True)
class FormDefinition:
    """A parsed definition. Build it with ``parse_definition``; ``to_json()`` gives the normalised document
    (defaults filled in) and ``sha256`` is the hex SHA-256 of its canonical JSON."""

    title: dict[str, str]
    one_question_per_page: bool
    pages: tuple[Page, ...]
    fields_in_order: tuple[Field, ...]
    sha256: str = ""
    by_key: Mapping[str, Field] = field(default_factory=dict, compare=False, repr=False)
    page_by_key: Mapping[str, Page] = field(default_factory=dict, compare=False, repr=False)
    #: Keys that some condition reads: only their answers are cleaned to evaluate conditions.
    referenced: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __hash__(self) -> int:
        return hash(self.sha256)

    def field(self, key: str) -> Field:
        """The field (top-level or inside a group) with this key; KeyError if there is none."""
        return self.by_key[key]

    def page(self, key: str) -> Page:
        return self.page_by_key[key]

    def to_json(self) -> dict[str, Any]:
        return self._json(copy=True)

    def _json(self, *, copy: bool) -> dict[str, Any]:
        return {
            "schema": 1,
            "title": dict(self.title),
            "one_question_per_page": self.one_question_per_page,
            "pages": [p._json(copy=copy) for p in self.pages],
        }


def field_summary(definition: FormDefinition) -> list[dict[str, Any]]:
    """One row per field (sub-fields after their group) for the builder's tables."""
    rows = []
    for f in definition.fields_in_order:
        label = f.label or f.text or {}
        rows.append(
            {
                "key": f.key,
                "type": f.type,
                "label_ja": label.get("ja", ""),
                "required": f.required,
                "page": f.page,
                "group": f.group,
                "has_condition": f.show_if is not None,
            }
        )
    return rows


# --- Parsing ----------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.targets: dict[str, Target] = {}
        self.position = 0
        self.page_keys: set[str] = set()
        self.field_keys: set[str] = set()
        # (spec, raw condition, path, owner position, group scope), checked once every field is known
        self.conditions: list[tuple[dict, Any, str, int, str | None]] = []
        self.addresses: list[tuple[dict, Any, str]] = []

    def add(self, code: str, path: str, **params: Any) -> None:
        self.problems.append(Problem(code, path, params))

    # Small typed readers; each reports its problem and returns the default on a bad value.
    def text(self, obj: dict, name: str, path: str, *, required: bool) -> dict[str, str] | None:
        value = obj.get(name)
        path = f"{path}/{name}"
        if value is None:
            if required:
                self.add("missing_label", path)
            return None
        if isinstance(value, str):
            value = {"ja": value}
        if not isinstance(value, dict):
            self.add("bad_text", path)
            return None
        ok = True
        for lang in value:
            if lang not in ("ja", "en"):
                self.add("unknown_key", f"{path}/{lang}", key=str(lang))
                ok = False
        ja, en = value.get("ja"), value.get("en")
        if not isinstance(ja, str) or not ja.strip():
            self.add("missing_label", f"{path}/ja")
            ok = False
        if en is not None and not isinstance(en, str):
            self.add("bad_text", f"{path}/en")
            ok = False
        if not ok:
            return None
        return {"ja": ja, "en": en} if en and en.strip() else {"ja": ja}

    def integer(self, obj: dict, name: str, path: str, *, low: int | None = None, default=None) -> int | None:
        value = obj.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
            self.add(
                "bad_value", f"{path}/{name}", expected="integer" if low is None else f"integer >= {low}"
            )
            return default
        return value

    def boolean(self, obj: dict, name: str, path: str, *, default: bool = False) -> bool:
        value = obj.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add("bad_value", f"{path}/{name}", expected="boolean")
            return default
        return value

    def bounds(self, spec: dict, low: str, high: str, path: str) -> None:
        a, b = spec.get(low), spec.get(high)
        if a is not None and b is not None and a > b:
            self.add("min_greater_than_max", f"{path}/{low}", min=a, max=b)

    def date_bound(self, obj: dict, name: str, path: str) -> str | None:
        value = obj.get(name)
        if value is None or value == "today":
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                date.fromisoformat(value)
                return value
            except ValueError:
                pass
        self.add("bad_value", f"{path}/{name}", expected="ISO date or 'today'")
        return None

    # Document structure
    def document(self, data: Any) -> dict | None:
        if not isinstance(data, dict):
            self.add("not_an_object", "")
            return None
        for name in data:
            if name not in ("schema", "title", "one_question_per_page", "pages"):
                self.add("unknown_key", f"/{name}", key=str(name))
        schema = data.get("schema")
        if isinstance(schema, bool) or schema != 1:
            self.add("bad_schema", "/schema", expected=1)
        title = self.text(data, "title", "", required=True)
        one = self.boolean(data, "one_question_per_page", "")
        pages = data.get("pages")
        if not isinstance(pages, list) or not pages:
            if pages is not None and not isinstance(pages, list):
                self.add("bad_value", "/pages", expected="list")
            else:
                self.add("no_pages", "/pages")
            return None
        count = _count_fields(pages)
        if count > MAX_FIELDS:
            self.add("too_many_fields", "/pages", max=MAX_FIELDS, count=count)
            return None
        page_specs = [self.page(p, f"/pages/{i}", i) for i, p in enumerate(pages)]
        return {"title": title, "one_question_per_page": one, "pages": page_specs}

    def page(self, obj: Any, path: str, index: int) -> dict | None:
        if not isinstance(obj, dict):
            self.add("not_an_object", path)
            return None
        for name in obj:
            if name not in ("key", "title", "show_if", "fields"):
                self.add("unknown_key", f"{path}/{name}", key=str(name))
        key = self.key(obj, path, self.page_keys)
        spec: dict[str, Any] = {
            "key": key,
            "title": self.text(obj, "title", path, required=True),
            "index": index,
        }
        spec["show_if"] = None
        if obj.get("show_if") is not None:
            self.conditions.append((spec, obj["show_if"], f"{path}/show_if", self.position, None))
        fields = obj.get("fields")
        if not isinstance(fields, list):
            self.add("missing_key" if fields is None else "bad_value", f"{path}/fields", key="fields")
            fields = []
        elif not fields:
            self.add("empty_page", f"{path}/fields")
        spec["fields"] = [self.field(f, f"{path}/fields/{i}", key, None) for i, f in enumerate(fields)]
        return spec

    def key(self, obj: dict, path: str, seen: set[str]) -> str | None:
        key = obj.get("key")
        if key is None:
            self.add("missing_key", f"{path}/key", key="key")
            return None
        if not isinstance(key, str) or not KEY_RE.fullmatch(key):
            self.add("bad_key", f"{path}/key", key=str(key))
            return None
        if key in seen:
            self.add("duplicate_key", f"{path}/key", key=key)
            return None
        seen.add(key)
        return key

    def field(self, obj: Any, path: str, page_key: str | None, group: str | None) -> dict | None:
        if not isinstance(obj, dict):
            self.add("not_an_object", path)
            return None
        position = self.position
        self.position += 1
        key = self.key(obj, path, self.field_keys)
        kind = obj.get("type")
        if kind is None:
            self.add("missing_key", f"{path}/type", key="type")
        elif kind not in FIELD_TYPES:
            self.add("unknown_type", f"{path}/type", type=str(kind))
            kind = None
        if kind is not None:
            allowed = ALLOWED_KEYS[kind]
            for name in obj:
                if name not in allowed:
                    self.add("unknown_key", f"{path}/{name}", key=str(name))
        spec: dict[str, Any] = {
            "key": key,
            "type": kind,
            "page": page_key,
            "group": group,
            "position": position,
        }
        spec["label"] = self.text(obj, "label", path, required=kind != "declaration")
        spec["help"] = self.text(obj, "help", path, required=False)
        spec["required"] = self.boolean(obj, "required", path)
        if kind == "declaration":
            if obj.get("required") is not None and obj.get("required") is not True:
                self.add("declaration_always_required", f"{path}/required")
            spec["required"] = True
        prefill = obj.get("prefill")
        if prefill is not None:
            if not isinstance(prefill, str) or prefill not in PREFILL_SOURCES:
                self.add("unknown_prefill", f"{path}/prefill", value=str(prefill))
            elif kind is not None and kind not in PREFILL_SOURCES[prefill]:
                self.add("prefill_type_mismatch", f"{path}/prefill", source=prefill, type=kind)
            else:
                spec["prefill"] = prefill
        shared = obj.get("shared")
        if shared is not None:
            if not isinstance(shared, str) or not KEY_RE.fullmatch(shared):
                self.add("bad_value", f"{path}/shared", expected="key")
            else:
                spec["shared"] = shared
        if kind is not None:
            getattr(self, f"type_{kind}")(obj, spec, path)
        if key is not None and kind is not None:
            self.targets[key] = Target(
                key, kind, position, group, spec.get("widget"),
                frozenset(o.value for o in spec["options"]) if spec.get("options") else None,
            )  # fmt: skip
        spec["show_if"] = None
        if obj.get("show_if") is not None:
            self.conditions.append((spec, obj["show_if"], f"{path}/show_if", position, group))
        if kind == "group" and group is None:
            children = obj.get("fields")
            if not isinstance(children, list) or not children:
                self.add("empty_group", f"{path}/fields")
                children = children if isinstance(children, list) else []
            spec["children"] = [
                self.field(c, f"{path}/fields/{i}", page_key, key or "") for i, c in enumerate(children)
            ]
        return spec

    # Type-specific keys: each reads obj and fills spec.
    def _lengths(self, obj, spec, path, kind):
        spec["min_length"] = self.integer(obj, "min_length", path, low=0)
        spec["max_length"] = self.integer(obj, "max_length", path, low=1, default=DEFAULT_MAX_LENGTH[kind])
        self.bounds(spec, "min_length", "max_length", path)

    def type_text(self, obj, spec, path):
        self._lengths(obj, spec, path, "text")
        pattern = obj.get("pattern")
        if pattern is None:
            return
        if not isinstance(pattern, str):
            self.add("bad_value", f"{path}/pattern", expected="string")
        elif len(pattern) > MAX_PATTERN_LENGTH:
            self.add("pattern_too_long", f"{path}/pattern", max=MAX_PATTERN_LENGTH, length=len(pattern))
        else:
            try:
                spec["pattern_re"] = re.compile(pattern)
                spec["pattern"] = pattern
            except (re.error, RecursionError, OverflowError) as exc:
                self.add("bad_pattern", f"{path}/pattern", error=str(exc))

    def type_textarea(self, obj, spec, path):
        self._lengths(obj, spec, path, "textarea")

    def type_kana(self, obj, spec, path):
        self._lengths(obj, spec, path, "kana")

    def type_email(self, obj, spec, path):
        spec["max_length"] = self.integer(obj, "max_length", path, low=1, default=DEFAULT_MAX_LENGTH["email"])

    def type_number(self, obj, spec, path):
        spec["min"] = self.integer(obj, "min", path)
        spec["max"] = self.integer(obj, "max", path)
        self.bounds(spec, "min", "max", path)
        spec["unit"] = self.text(obj, "unit", path, required=False)

    def type_date(self, obj, spec, path):
        spec["min"] = self.date_bound(obj, "min", path)
        spec["max"] = self.date_bound(obj, "max", path)
        if "today" not in (spec["min"], spec["max"]):
            self.bounds(spec, "min", "max", path)

    def type_choice(self, obj, spec, path):
        widget = obj.get("widget") or "radio"
        if widget not in WIDGETS:
            self.add("bad_widget", f"{path}/widget", widget=str(widget))
            widget = "radio"
        spec["widget"] = widget
        options = obj.get("options")
        if not isinstance(options, list) or not options:
            self.add("no_options", f"{path}/options")
            options = []
        parsed: list[Option] = []
        seen: set[str] = set()
        for i, opt in enumerate(options):
            opath = f"{path}/options/{i}"
            if not isinstance(opt, dict):
                self.add("not_an_object", opath)
                continue
            for name in opt:
                if name not in ("value", "label"):
                    self.add("unknown_key", f"{opath}/{name}", key=str(name))
            value = opt.get("value")
            label = self.text(opt, "label", opath, required=True)
            if not isinstance(value, str) or not value or value != value.strip() or len(value) > 100:
                self.add("bad_value", f"{opath}/value", expected="option value")
            elif value in seen:
                self.add("duplicate_option", f"{opath}/value", value=value)
            elif label is not None:
                seen.add(value)
                parsed.append(Option(value, label))
        spec["options"] = tuple(parsed)
        spec["option_values"] = frozenset(seen)
        for name in ("min_choices", "max_choices"):
            if obj.get(name) is not None and widget != "checkboxes":
                self.add("key_not_allowed", f"{path}/{name}", key=name, widget=widget)
        if widget == "checkboxes":
            spec["min_choices"] = self.integer(obj, "min_choices", path, low=0)
            spec["max_choices"] = self.integer(obj, "max_choices", path, low=1)
            self.bounds(spec, "min_choices", "max_choices", path)
            if options and spec["min_choices"] is not None and spec["min_choices"] > len(options):
                self.add(
                    "min_choices_exceeds_options", f"{path}/min_choices",
                    min=spec["min_choices"], options=len(options),
                )  # fmt: skip

    def type_phone(self, obj, spec, path):
        pass

    def type_mynumber(self, obj, spec, path):
        pass

    def type_postcode(self, obj, spec, path):
        if obj.get("address_field") is not None:
            self.addresses.append((spec, obj["address_field"], f"{path}/address_field"))

    def type_file(self, obj, spec, path):
        accept = obj.get("accept")
        if accept is None:
            spec["accept"] = tuple(FILE_TYPES)
        elif not isinstance(accept, list) or not accept:
            self.add("bad_value", f"{path}/accept", expected="non-empty list")
        else:
            kinds: list[str] = []
            for i, a in enumerate(accept):
                if not isinstance(a, str) or a not in FILE_TYPES:
                    self.add("unknown_file_type", f"{path}/accept/{i}", value=str(a))
                elif a not in kinds:
                    kinds.append(a)
            spec["accept"] = tuple(kinds)
        spec["max_bytes"] = self.integer(obj, "max_bytes", path, low=1, default=DEFAULT_MAX_BYTES)
        spec["max_files"] = self.integer(obj, "max_files", path, low=1, default=1)

    def type_group(self, obj, spec, path):
        if spec["group"] is not None:
            self.add("group_in_group", path)
            return
        spec["min_items"] = self.integer(obj, "min_items", path, low=0, default=0)
        spec["max_items"] = self.integer(obj, "max_items", path, low=1, default=10)
        self.bounds(spec, "min_items", "max_items", path)
        spec["item_label"] = self.text(obj, "item_label", path, required=False)

    def type_declaration(self, obj, spec, path):
        spec["text"] = self.text(obj, "text", path, required=True)

    # Cross-field checks, once every key is known.
    def cross_checks(self) -> None:
        for spec, raw, path, position, scope in self.conditions:
            spec["show_if"] = check_condition(
                raw, path, position=position, scope=scope, targets=self.targets, add=self.add
            )
        for spec, key, path in self.addresses:
            target = self.targets.get(key) if isinstance(key, str) else None
            if (
                target is None
                or target.type != "text"
                or target.position <= spec["position"]
                or target.group != spec["group"]
            ):
                self.add("bad_address_field", path, key=str(key))
            else:
                spec["address_field"] = key


def _count_fields(pages: list) -> int:
    count = 0
    for page in pages:
        fields = page.get("fields") if isinstance(page, dict) else None
        if not isinstance(fields, list):
            continue
        count += len(fields)
        for f in fields:
            if isinstance(f, dict) and isinstance(f.get("fields"), list):
                count += len(f["fields"])
    return count


def _build_field(spec: dict, out: list[Field], referenced: set[str]) -> Field:
    kwargs = dict(spec)
    children_specs = kwargs.pop("children", ())
    show_if = kwargs.get("show_if")
    if show_if is not None:
        kwargs["condition"] = compile_condition(show_if)
        referenced |= condition_fields(show_if)
    index = len(out)
    out.append(None)  # type: ignore[arg-type]  # keeps the group before its sub-fields
    kwargs["children"] = tuple(_build_field(c, out, referenced) for c in children_specs)
    built = Field(**kwargs)
    out[index] = built
    return built


def parse_definition(data: Mapping[str, Any] | str | bytes) -> FormDefinition:
    """Parse and validate a definition (a dict, or its JSON text). Raises DefinitionError with every
    problem found; the result is immutable and its conditions are compiled."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise DefinitionError([Problem("bad_json", "", {"error": "not UTF-8"})]) from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise DefinitionError([Problem("bad_json", "", {"error": str(exc)[:200]})]) from None
    parser = _Parser()
    doc = parser.document(data)
    if doc is not None:
        parser.cross_checks()
    if parser.problems or doc is None:
        raise DefinitionError(parser.problems)
    ordered: list[Field] = []
    referenced: set[str] = set()
    pages = []
    for p in doc["pages"]:
        fields = tuple(_build_field(f, ordered, referenced) for f in p["fields"])
        condition = None
        if p["show_if"] is not None:
            condition = compile_condition(p["show_if"])
            referenced |= condition_fields(p["show_if"])
        pages.append(Page(p["key"], p["title"], p["show_if"], fields, p["index"], condition))
    definition = FormDefinition(
        title=doc["title"],
        one_question_per_page=doc["one_question_per_page"],
        pages=tuple(pages),
        fields_in_order=tuple(ordered),
        by_key={f.key: f for f in ordered},
        page_by_key={p.key: p for p in pages},
        referenced=frozenset(referenced),
    )
    digest = hashlib.sha256(canonical_json_trusted(definition._json(copy=False))).hexdigest()
    object.__setattr__(definition, "sha256", digest)
    return definition
