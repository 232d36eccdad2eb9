"""Django forms: the applicant's step forms (built from a form definition) and the staff forms.

`StepForm` renders the fields of one step with Django's accessible markup (labels, help and errors tied to the
widget with aria-describedby, aria-invalid, fieldsets for groups of choices) but validates with the form
engine, so the rules live in one place. Repeating groups become fields named `group.N.sub`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.forms.utils import ErrorDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.core.wareki import format_wareki
from madoguchi.procedures.answers import clean, is_my_number_token, problem_message, text_of
from madoguchi.procedures.formengine import Field, FormDefinition
from madoguchi.procedures.models import Category, LifeEvent, Procedure, Submission

INPUT_ATTRS: dict[str, dict[str, str]] = {
    "text": {"autocomplete": "off"},
    "kana": {"autocomplete": "off", "lang": "ja"},
    "number": {"inputmode": "numeric"},
    "date": {"autocomplete": "off", "placeholder": "2026-04-01"},
    "email": {"autocomplete": "email", "inputmode": "email"},
    "phone": {"autocomplete": "tel", "inputmode": "tel"},
    "postcode": {"autocomplete": "postal-code", "inputmode": "numeric", "data-postcode": "1"},
    "mynumber": {"autocomplete": "off", "inputmode": "numeric", "spellcheck": "false"},
}
PREFILL_AUTOCOMPLETE = {
    "basic4.name": "name",
    "basic4.address": "street-address",
    "basic4.date_of_birth": "bday",
}


def _help(field: Field) -> str:
    parts = [text_of(field.help)]
    if field.type == "date":
        parts.append(_("Western (2026-04-01) or Japanese era (令和8年4月1日) dates are both fine."))
    if field.type == "kana":
        parts.append(_("In katakana; hiragana is converted for you."))
    if field.type == "mynumber":
        parts.append(_("Your 12-digit My Number. It is stored encrypted and shown masked afterwards."))
    if field.type == "file":
        accept = "、".join(a.upper() for a in field.accept) if field.accept else "PDF, JPEG, PNG"
        parts.append(
            _("Accepted: %(types)s. Files are checked and cleaned before staff see them.") % {"types": accept}
        )
    return " ".join(p for p in parts if p)


def _django_field(field: Field, *, initial: Any = None) -> forms.Field:
    label = text_of(field.label) or text_of(field.text) or field.key
    common = {"label": label, "required": field.required, "help_text": _help(field), "initial": initial}
    attrs = dict(INPUT_ATTRS.get(field.type, {}))
    if field.prefill in PREFILL_AUTOCOMPLETE:
        attrs["autocomplete"] = PREFILL_AUTOCOMPLETE[field.prefill]
    if field.type == "postcode" and field.address_field:
        attrs["data-address-field"] = field.address_field
    if field.type == "textarea":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), **common)
    if field.type == "choice":
        choices = [(o.value, text_of(o.label)) for o in field.options]
        if field.widget == "checkboxes":
            return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)
        if field.widget == "select":
            return forms.ChoiceField(choices=[("", _("Choose"))] + choices, **common)
        return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)
    if field.type == "declaration":
        common["label"] = text_of(field.text) or label
        common["required"] = True
        return forms.BooleanField(**common)
    if field.type == "file":
        widget = forms.ClearableFileInput(attrs={"accept": ",".join(_accept(field))})
        if (field.max_files or 1) > 1:
            widget.allow_multiple_selected = True
            widget.attrs["multiple"] = True
        return forms.FileField(widget=widget, **common)
    if field.type == "email":
        return forms.CharField(widget=forms.EmailInput(attrs=attrs), **common)
    if field.type == "phone":
        return forms.CharField(widget=forms.TextInput(attrs={**attrs, "type": "tel"}), **common)
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


def _accept(field: Field) -> list[str]:
    mapping = {"pdf": ".pdf", "jpeg": ".jpg,.jpeg", "png": ".png", "docx": ".docx", "xlsx": ".xlsx"}
    return [mapping.get(a, "") for a in (field.accept or ("pdf", "jpeg", "png"))]


class StepForm(forms.Form):
    """One step of an application. Bound with the POST, validated by the engine for this page only."""

    def __init__(
        self,
        *args,
        definition: FormDefinition,
        fields: list[Field],
        page_key: str,
        answers: dict,
        group_items: dict[str, int] | None = None,
        actor=None,
        municipality=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.definition = definition
        self.engine_fields = fields
        self.page_key = page_key
        self.answers = answers
        self.actor = actor
        self.municipality = municipality
        self.group_items = group_items or {}
        self.groups: list[dict] = []
        self.cleaned_answers: dict = {}
        self.file_fields: list[Field] = []
        for field in fields:
            if field.type == "group":
                items = answers.get(field.key) or []
                count = max(self.group_items.get(field.key, len(items)), field.min_items or 0, 1)
                count = min(count, field.max_items or 10)
                self.group_items[field.key] = count
                group = {"field": field, "legend": text_of(field.label), "items": []}
                for index in range(count):
                    item = items[index] if index < len(items) else {}
                    names = []
                    for child in field.children:
                        name = f"{field.key}.{index}.{child.key}"
                        self.fields[name] = _django_field(child, initial=_initial(child, item.get(child.key)))
                        names.append(name)
                    group["items"].append(
                        {"number": index + 1, "label": text_of(field.item_label) or text_of(field.label),
                         "names": names}
                    )  # fmt: skip
                self.groups.append(group)
                continue
            if field.type == "file":
                self.file_fields.append(field)
            if field.type == "mynumber" and is_my_number_token(answers.get(field.key)):
                self.fields[field.key] = _django_field(field)
                self.fields[field.key].help_text = _(
                    "A My Number is already stored for this application (shown masked). Leave empty to keep it."
                )
                self.fields[field.key].required = False
                continue
            self.fields[field.key] = _django_field(field, initial=_initial(field, answers.get(field.key)))

    def rows(self):
        """Fields and groups in definition order, for the template."""
        out = []
        for field in self.engine_fields:
            if field.type == "group":
                group = next(g for g in self.groups if g["field"].key == field.key)
                out.append({"group": group, "items": [
                    {"number": item["number"], "label": item["label"], "fields": [self[n] for n in item["names"]]}
                    for item in group["items"]
                ]})  # fmt: skip
            else:
                out.append({"field": self[field.key], "engine": field})
        return out

    def raw(self) -> dict[str, Any]:
        """What the page posted, in the engine's input shape (files are handled by the view)."""
        data: dict[str, Any] = {}
        for field in self.engine_fields:
            if field.type == "group":
                items = []
                for index in range(self.group_items.get(field.key, 1)):
                    item = {}
                    for child in field.children:
                        name = f"{field.key}.{index}.{child.key}"
                        item[child.key] = self._value(child, name)
                    if any(v not in (None, "", [], False) for v in item.values()):
                        items.append(item)
                data[field.key] = items
            elif field.type == "file":
                continue
            elif field.type == "mynumber":
                value = self._value(field, field.key)
                existing = self.answers.get(field.key)
                data[field.key] = value if value else existing
            else:
                data[field.key] = self._value(field, field.key)
        return data

    def _value(self, field: Field, name: str):
        if field.type == "choice" and field.widget == "checkboxes":
            return self.data.getlist(name) if hasattr(self.data, "getlist") else self.data.get(name, [])
        if field.type == "declaration":
            return True if self.data.get(name) in ("on", "true", "1", True) else None
        return self.data.get(name, "")

    def full_clean(self):
        self._errors = ErrorDict()
        self.cleaned_data = {}
        if not self.is_bound:
            return
        raw = {**self.answers, **self.raw(), **self.extra_answers}
        cleaned, problems = clean(
            self.definition, raw, page=self.page_key, actor=self.actor, municipality=self.municipality
        )
        on_this_step = {f.key for f in self.engine_fields}
        for problem in problems:
            name = problem.path
            top = name.split(".")[0]
            if top not in on_this_step:
                continue
            if name not in self.fields:
                name = top if top in self.fields else None
            if name is None:  # a group-level problem (too few items): shown on the group
                self.add_non_field(problem_message(problem))
                continue
            self._errors.setdefault(
                name, self.error_class(field_id=self[name].auto_id, renderer=self.renderer)
            )
            self._errors[name].append(problem_message(problem))
        self.cleaned_answers = cleaned

    extra_answers: dict = {}

    def add_upload_error(self, key: str, message: str) -> None:
        """A refused upload, shown on its field like any other error (after `is_valid`)."""
        if key not in self.fields:
            self.add_non_field(message)
            return
        self._errors.setdefault(key, self.error_class(field_id=self[key].auto_id, renderer=self.renderer))
        self._errors[key].append(message)

    def add_non_field(self, message: str) -> None:
        self._errors.setdefault(forms.forms.NON_FIELD_ERRORS, self.error_class(error_class="nonfield"))
        self._errors[forms.forms.NON_FIELD_ERRORS].append(message)


def _initial(field: Field, value: Any) -> Any:
    if value in (None, ""):
        return None
    if field.type == "mynumber":
        return None  # never sent back to the browser
    if field.type == "file":
        return None
    return value


def wareki_hint(value: str) -> str:
    try:
        return format_wareki(date.fromisoformat(value))
    except (TypeError, ValueError):
        return ""


# --- Applicant side: small forms ----------------------------------------------------------------------------
class CatalogueSearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Keyword"), required=False, max_length=100,
                        help_text=gettext_lazy("Kanji, kana or English, e.g. 児童手当, じどうてあて, ｼﾞﾄﾞｳ, dog."))  # fmt: skip
    life_event = forms.ChoiceField(
        label=gettext_lazy("Life event"), required=False,
        choices=[("", gettext_lazy("Any"))] + list(LifeEvent.choices),
    )  # fmt: skip
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        required=False,
        choices=[("", gettext_lazy("Any"))] + list(Category.choices),
    )
    municipality = forms.CharField(
        label=gettext_lazy("Municipality code (6 digits)"), required=False, max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )  # fmt: skip


class StatusLookupForm(forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Reference number"), max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy("As shown after you applied, e.g. 13101-4K7QX-9PTRV."),
    )  # fmt: skip
    secret = forms.CharField(
        label=gettext_lazy("Status code"), max_length=20,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=gettext_lazy("The 10-character code shown once after you applied."),
    )  # fmt: skip


class SignForm(forms.Form):
    """The card simulator's signing (development); a real card reader's client posts `signature` instead."""

    card = forms.ChoiceField(label=gettext_lazy("Card"), required=False)
    password = forms.CharField(
        label=gettext_lazy("Signing password (6–16 characters)"), required=False, max_length=16,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )  # fmt: skip
    signature = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, cards=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].choices = [(c.key, c.label) for c in cards]


class DeskSendForm(SignForm):
    """At the desk: the resident's signature (as `SignForm`) and, with a fee, how it is settled."""

    CASH = "cash"
    LATER = "later"

    def __init__(self, *args, fee_yen: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if fee_yen:
            self.fields["fee"] = forms.ChoiceField(
                label=gettext_lazy("Fee of %(fee)s yen") % {"fee": f"{fee_yen:,}"},
                choices=[
                    (self.CASH, gettext_lazy("Paid in cash at the counter now (the clerk has received it)")),
                    (self.LATER, gettext_lazy("Not paid now: the resident pays online later")),
                ],
                widget=forms.RadioSelect,
                error_messages={"required": gettext_lazy("Choose how the fee is paid.")},
            )


class MessageForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )


# --- Staff --------------------------------------------------------------------------------------------------
class ProcedureSettingsForm(forms.ModelForm):
    """What staff may change: an adopted procedure only its contact, fee, period, department and time."""

    class Meta:
        model = Procedure
        fields = [
            "name", "name_en", "summary", "summary_en", "category", "signature_required", "fee_yen",
            "retention_years", "online", "department", "contact", "reception_starts_on", "reception_ends_on",
            "processing_days",
        ]  # fmt: skip
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "summary_en": forms.Textarea(attrs={"rows": 3}),
            "contact": forms.Textarea(attrs={"rows": 3}),
            "reception_starts_on": forms.DateInput(attrs={"type": "date"}),
            "reception_ends_on": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.adopted:
            for name in list(self.fields):
                if name not in {"fee_yen", "department", "contact", "reception_starts_on", "reception_ends_on",
                                "processing_days"}:  # fmt: skip
                    del self.fields[name]


class NewProcedureForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Code (letters, digits and -)"), max_length=64)
    name = forms.CharField(label=gettext_lazy("Name (Japanese)"), max_length=200)
    category = forms.ChoiceField(label=gettext_lazy("Category"), choices=Category.choices)


class TransitionForm(forms.Form):
    to = forms.ChoiceField(label=gettext_lazy("New status"))
    message = forms.CharField(
        label=gettext_lazy("Message to the applicant"), required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Required when you ask for a correction or refuse."),
    )  # fmt: skip

    def __init__(self, *args, allowed=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [(s, Submission.Status(s).label) for s in allowed]


class OfflineCaseForm(forms.Form):
    channel = forms.ChoiceField(
        label=gettext_lazy("Received"),
        choices=[(Submission.Channel.COUNTER, Submission.Channel.COUNTER.label),
                 (Submission.Channel.PAPER, Submission.Channel.PAPER.label)],
        widget=forms.RadioSelect,
    )  # fmt: skip
    received_on = forms.DateField(
        label=gettext_lazy("Received on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    applicant_name = forms.CharField(label=gettext_lazy("Applicant"), max_length=200, required=False)


class TallyForm(forms.Form):
    fiscal_year = forms.IntegerField(label=gettext_lazy("Fiscal year"), min_value=2000, max_value=2100)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        choices=[(Submission.Channel.COUNTER, Submission.Channel.COUNTER.label),
                 (Submission.Channel.PAPER, Submission.Channel.PAPER.label)],
    )  # fmt: skip
    count = forms.IntegerField(label=gettext_lazy("Cases"), min_value=0, max_value=10_000_000)


class BundleForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Code (letters, digits and -)"), max_length=64)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    life_event = forms.ChoiceField(label=gettext_lazy("Life event"), choices=LifeEvent.choices)
    procedures = forms.MultipleChoiceField(
        label=gettext_lazy("Procedures filed together"), widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("The questions they have in common are asked once."),
    )  # fmt: skip

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["procedures"].choices = choices
