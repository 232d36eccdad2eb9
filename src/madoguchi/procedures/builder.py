"""The no-code form builder's edits: small, pure changes to a definition document (a dict).

Every edit returns a new document; the view saves it with `services.form_draft_save`, which parses it with the
engine, so an edit that would break the form (a condition on a later field, a duplicate key…) is refused with
the engine's explanation and nothing is saved.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.procedures.formengine import FIELD_TYPES

TYPE_LABELS = {
    "text": _("Text (one line)"),
    "textarea": _("Long text"),
    "kana": _("Kana (katakana)"),
    "number": _("Whole number"),
    "date": _("Date (和暦 and 西暦)"),
    "choice": _("Choice (radio, list or checkboxes)"),
    "email": _("E-mail address"),
    "phone": _("Phone number"),
    "postcode": _("Postcode with address lookup"),
    "mynumber": _("My Number (kept in the vault)"),
    "file": _("File upload (cleaned before use)"),
    "group": _("Repeating group"),
    "declaration": _("Declaration (tick box)"),
}
OPS = [
    ("eq", _("is")), ("ne", _("is not")), ("in", _("is one of (comma-separated)")),
    ("answered", _("is answered")), ("not_answered", _("is not answered")),
    ("contains", _("contains (checkboxes)")), ("gt", _("is greater than")), ("lt", _("is less than")),
]  # fmt: skip
PREFILLS = [
    ("", _("None")),
    ("basic4.name", _("Name from the card")),
    ("basic4.name_kana", _("Name kana from the card")),
    ("basic4.address", _("Address from the card")),
    ("basic4.date_of_birth", _("Date of birth from the card")),
    ("profile.email", _("E-mail given before")),
    ("profile.phone", _("Phone given before")),
    ("profile.postcode", _("Postcode given before")),
]
ACCEPT = [("pdf", "PDF"), ("jpeg", "JPEG"), ("png", "PNG"), ("docx", "Word (docx)"), ("xlsx", "Excel (xlsx)")]


def _text(ja: str, en: str) -> dict[str, str]:
    out = {"ja": ja.strip()}
    if en.strip():
        out["en"] = en.strip()
    return out


# --- Walking the document -----------------------------------------------------------------------------------
def _containers(doc: dict) -> list[tuple[str, list]]:
    """(parent key, list of fields) for each page and each group, in document order."""
    out = []
    for page in doc.get("pages", []):
        out.append((page["key"], page.setdefault("fields", [])))
        for field in page["fields"]:
            if field.get("type") == "group":
                out.append((field["key"], field.setdefault("fields", [])))
    return out


def find(doc: dict, key: str) -> tuple[str, list, int] | None:
    for parent, fields in _containers(doc):
        for index, field in enumerate(fields):
            if field.get("key") == key:
                return parent, fields, index
    return None


def parents(doc: dict) -> list[tuple[str, str]]:
    """Choices for "put the field in": pages, then groups."""
    out = []
    for page in doc.get("pages", []):
        out.append((page["key"], f"{_('Page')}: {page.get('title', {}).get('ja', page['key'])}"))
        for field in page.get("fields", []):
            if field.get("type") == "group":
                out.append((field["key"], f"{_('Group')}: {field.get('label', {}).get('ja', field['key'])}"))
    return out


def all_keys(doc: dict) -> list[str]:
    return [f["key"] for _p, fields in _containers(doc) for f in fields]


# --- Edits --------------------------------------------------------------------------------------------------
def add_page(doc: dict, *, key: str, title_ja: str, title_en: str = "") -> dict:
    doc = copy.deepcopy(doc)
    doc.setdefault("pages", []).append({"key": key, "title": _text(title_ja, title_en), "fields": []})
    return doc


def put_field(doc: dict, *, parent: str, field: dict, replace: str | None = None) -> dict:
    """Add `field` at the end of `parent` (a page or group), or replace the field `replace` where it is
    (moving it to `parent` if that changed). A group keeps its sub-fields when edited."""
    doc = copy.deepcopy(doc)
    if replace is not None:
        found = find(doc, replace)
        if found is None:
            raise KeyError(replace)
        old_parent, fields, index = found
        old = fields[index]
        if old.get("type") == "group" and field.get("type") == "group":
            field["fields"] = old.get("fields", [])
        if old_parent == parent:
            fields[index] = field
            return doc
        del fields[index]
    for key, fields in _containers(doc):
        if key == parent:
            fields.append(field)
            return doc
    raise KeyError(parent)


def delete_field(doc: dict, key: str) -> dict:
    doc = copy.deepcopy(doc)
    found = find(doc, key)
    if found is not None:
        del found[1][found[2]]
    return doc


def move_field(doc: dict, key: str, step: int) -> dict:
    """Up (-1) or down (+1) within its page or group."""
    doc = copy.deepcopy(doc)
    found = find(doc, key)
    if found is None:
        return doc
    _parent, fields, index = found
    target = index + step
    if 0 <= target < len(fields):
        fields[index], fields[target] = fields[target], fields[index]
    return doc


def delete_page(doc: dict, key: str) -> dict:
    doc = copy.deepcopy(doc)
    doc["pages"] = [p for p in doc.get("pages", []) if p["key"] != key]
    return doc


# --- The field form -----------------------------------------------------------------------------------------
class FieldForm(forms.Form):
    """One field's settings, in words staff use. `to_field()` gives the definition's JSON."""

    parent = forms.ChoiceField(label=_("Put it in"))
    key = forms.RegexField(
        label=_("Key (a-z, 0-9, _)"), regex=r"^[a-z][a-z0-9_]{0,62}$", max_length=63,
        help_text=_("Used in exports and conditions; it cannot contain spaces."),
    )  # fmt: skip
    type = forms.ChoiceField(label=_("Type"), choices=[(t, TYPE_LABELS.get(t, t)) for t in FIELD_TYPES])
    label_ja = forms.CharField(label=_("Label (Japanese)"), max_length=200, required=False)
    label_en = forms.CharField(label=_("Label (English)"), max_length=200, required=False)
    help_ja = forms.CharField(label=_("Help text (Japanese)"), max_length=500, required=False)
    help_en = forms.CharField(label=_("Help text (English)"), max_length=500, required=False)
    required = forms.BooleanField(label=_("Required"), required=False)
    min_length = forms.IntegerField(label=_("Minimum length"), min_value=0, required=False)
    max_length = forms.IntegerField(label=_("Maximum length"), min_value=1, max_value=10000, required=False)
    minimum = forms.CharField(
        label=_("Minimum (number, or date as YYYY-MM-DD or today)"), max_length=20, required=False
    )
    maximum = forms.CharField(
        label=_("Maximum (number, or date as YYYY-MM-DD or today)"), max_length=20, required=False
    )
    widget = forms.ChoiceField(
        label=_("Choice shown as"), required=False,
        choices=[("radio", _("Radio buttons")), ("select", _("Drop-down list")), ("checkboxes", _("Checkboxes"))],
    )  # fmt: skip
    options = forms.CharField(
        label=_("Options, one per line: value|Japanese|English"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    declaration_ja = forms.CharField(label=_("Declaration text (Japanese)"), required=False, max_length=1000)
    declaration_en = forms.CharField(label=_("Declaration text (English)"), required=False, max_length=1000)
    accept = forms.MultipleChoiceField(
        label=_("File types accepted"), choices=ACCEPT, required=False, widget=forms.CheckboxSelectMultiple
    )
    max_files = forms.IntegerField(label=_("Files at most"), min_value=1, max_value=20, required=False)
    max_items = forms.IntegerField(
        label=_("Items at most (group)"), min_value=1, max_value=100, required=False
    )
    address_field = forms.CharField(
        label=_("Key of the address field the postcode fills"), max_length=63, required=False
    )
    prefill = forms.ChoiceField(
        label=_("Fill in from what the platform holds"), choices=PREFILLS, required=False
    )
    show_if_field = forms.ChoiceField(label=_("Show only if the answer to"), required=False)
    show_if_op = forms.ChoiceField(label=_("Condition"), choices=OPS, required=False)
    show_if_value = forms.CharField(label=_("Value"), max_length=200, required=False)

    def __init__(self, *args, doc: dict, editing: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = parents(doc)
        keys = [k for k in all_keys(doc) if k != editing]
        self.fields["show_if_field"].choices = [("", _("(always shown)"))] + [(k, k) for k in keys]

    @classmethod
    def initial_for(cls, doc: dict, key: str) -> dict[str, Any]:
        found = find(doc, key)
        if found is None:
            return {}
        parent, fields, index = found
        f = fields[index]
        cond = f.get("show_if") or {}
        options = "\n".join(
            "|".join([o["value"], o.get("label", {}).get("ja", ""), o.get("label", {}).get("en", "")])
            for o in f.get("options", [])
        )
        return {
            "parent": parent, "key": f["key"], "type": f["type"],
            "label_ja": (f.get("label") or {}).get("ja", ""), "label_en": (f.get("label") or {}).get("en", ""),
            "help_ja": (f.get("help") or {}).get("ja", ""), "help_en": (f.get("help") or {}).get("en", ""),
            "required": f.get("required", False), "min_length": f.get("min_length"),
            "max_length": f.get("max_length"), "minimum": f.get("min", ""), "maximum": f.get("max", ""),
            "widget": f.get("widget", "radio"), "options": options,
            "declaration_ja": (f.get("text") or {}).get("ja", ""), "declaration_en": (f.get("text") or {}).get("en", ""),
            "accept": f.get("accept", []), "max_files": f.get("max_files"), "max_items": f.get("max_items"),
            "address_field": f.get("address_field", ""), "prefill": f.get("prefill", ""),
            "show_if_field": cond.get("field", ""), "show_if_op": cond.get("op", "eq"),
            "show_if_value": ",".join(cond["value"]) if isinstance(cond.get("value"), list) else cond.get("value", ""),
        }  # fmt: skip

    def clean(self):
        data = super().clean()
        kind = data.get("type")
        if kind != "declaration" and not (data.get("label_ja") or "").strip():
            self.add_error("label_ja", _("A Japanese label is required."))
        if kind == "choice":
            try:
                data["parsed_options"] = self._options(data.get("options") or "")
            except ValueError as exc:
                self.add_error("options", str(exc))
        if kind == "declaration" and not (data.get("declaration_ja") or "").strip():
            self.add_error("declaration_ja", _("Write the statement the applicant declares."))
        return data

    @staticmethod
    def _options(text: str) -> list[dict]:
        out = []
        for line in text.splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            value = parts[0]
            ja = parts[1] if len(parts) > 1 and parts[1] else value
            option = {"value": value, "label": {"ja": ja}}
            if len(parts) > 2 and parts[2]:
                option["label"]["en"] = parts[2]
            out.append(option)
        if not out:
            raise ValueError(_("Give at least one option."))
        return out

    def to_field(self) -> dict:
        d = self.cleaned_data
        kind = d["type"]
        field: dict[str, Any] = {"key": d["key"], "type": kind}
        if d.get("label_ja"):
            field["label"] = _text(d["label_ja"], d.get("label_en") or "")
        if d.get("help_ja"):
            field["help"] = _text(d["help_ja"], d.get("help_en") or "")
        if d.get("required") and kind != "declaration":
            field["required"] = True
        if kind in ("text", "textarea", "kana"):
            for name in ("min_length", "max_length"):
                if d.get(name) is not None:
                    field[name] = d[name]
        if kind in ("number", "date"):
            for name, source in (("min", "minimum"), ("max", "maximum")):
                value = (d.get(source) or "").strip()
                if value:
                    field[name] = int(value) if kind == "number" and value.lstrip("-").isdigit() else value
        if kind == "choice":
            field["widget"] = d.get("widget") or "radio"
            field["options"] = d.get("parsed_options", [])
        if kind == "declaration":
            field["text"] = _text(d["declaration_ja"], d.get("declaration_en") or "")
        if kind == "file":
            field["accept"] = d.get("accept") or ["pdf", "jpeg", "png"]
            if d.get("max_files"):
                field["max_files"] = d["max_files"]
        if kind == "group":
            field["fields"] = []
            if d.get("max_items"):
                field["max_items"] = d["max_items"]
        if kind == "postcode" and d.get("address_field"):
            field["address_field"] = d["address_field"]
        if d.get("prefill"):
            field["prefill"] = d["prefill"]
        if d.get("show_if_field"):
            op = d.get("show_if_op") or "eq"
            condition: dict[str, Any] = {"field": d["show_if_field"], "op": op}
            value = d.get("show_if_value") or ""
            if op in ("in", "not_in"):
                condition["value"] = [v.strip() for v in value.split(",") if v.strip()]
            elif op in ("gt", "gte", "lt", "lte") and value.lstrip("-").isdigit():
                condition["value"] = int(value)
            elif op not in ("answered", "not_answered"):
                condition["value"] = value
            field["show_if"] = condition
        return field


class PageForm(forms.Form):
    key = forms.RegexField(label=_("Page key (a-z, 0-9, _)"), regex=r"^[a-z][a-z0-9_]{0,62}$", max_length=63)
    title_ja = forms.CharField(label=_("Title (Japanese)"), max_length=200)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200, required=False)


class ImportForm(forms.Form):
    definition = forms.FileField(label=_("Form definition (JSON)"))
