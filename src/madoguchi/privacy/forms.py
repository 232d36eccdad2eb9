"""Forms of the privacy workflow (rendered with web/includes/field.html)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from madoguchi.privacy.models import ITEM_ROLES, Contract, DataSubjectRequest, LeakReport, PersonalInfoFile
from madoguchi.privacy.services import DEFAULT_FEE_TABLE, DISQUALIFICATIONS, REVIEW_CHECKS, upload_max_bytes

DATE = forms.DateInput(attrs={"type": "date"})


class ProposalForm(forms.Form):
    file = forms.ModelChoiceField(
        label=_("Personal information file"), queryset=PersonalInfoFile.objects.none()
    )
    items_wanted = forms.MultipleChoiceField(label=_("Items you need"), widget=forms.CheckboxSelectMultiple)
    purpose = forms.CharField(
        label=_("Purpose and the business it serves"), widget=forms.Textarea, max_length=5000
    )
    processing_method = forms.CharField(label=_("Processing method you propose"), widget=forms.Textarea,
                                        max_length=5000)  # fmt: skip
    safeguards = forms.CharField(label=_("Safeguards (安全管理措置)"), widget=forms.Textarea, max_length=5000)
    period_months = forms.IntegerField(
        label=_("Period of use (months)"), min_value=1, max_value=60, initial=12
    )

    def __init__(self, *args, call, **kwargs):
        super().__init__(*args, **kwargs)
        files = call.files.filter(open_to_proposals=True)
        self.fields["file"].queryset = files
        names = []
        for f in files:
            names += [
                (i["name"], i.get("label") or i["name"])
                for i in f.items
                if (i["name"], i.get("label") or i["name"]) not in names
            ]
        self.fields["items_wanted"].choices = names
        for key, label in DISQUALIFICATIONS:
            self.fields[f"declare_{key}"] = forms.BooleanField(label=label, required=False)

    def declarations(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(f"declare_{key}")) for key, _label in DISQUALIFICATIONS}


class ExistingProposalForm(forms.Form):
    """A proposal to use anonymized information already created (法第118条): no items or processing method."""

    purpose = forms.CharField(
        label=_("Purpose and the business it serves"), widget=forms.Textarea, max_length=5000
    )
    safeguards = forms.CharField(label=_("Safeguards (安全管理措置)"), widget=forms.Textarea, max_length=5000)
    period_months = forms.IntegerField(
        label=_("Period of use (months)"), min_value=1, max_value=60, initial=12
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in DISQUALIFICATIONS:
            self.fields[f"declare_{key}"] = forms.BooleanField(label=label, required=False)

    def declarations(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(f"declare_{key}")) for key, _label in DISQUALIFICATIONS}


class ReviewForm(forms.Form):
    note = forms.CharField(label=_("Review note"), widget=forms.Textarea, required=False, max_length=5000)

    def __init__(self, *args, checks=REVIEW_CHECKS, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in DISQUALIFICATIONS:
            self.fields[f"disq_{key}"] = forms.BooleanField(label=_("Confirmed: ") + label, required=False)
        for key, label in checks:
            self.fields[key] = forms.BooleanField(label=label, required=False)


class CancelForm(forms.Form):
    """契約の解除 (法第120条)."""

    ground = forms.ChoiceField(label=_("Ground of the cancellation (Article 120)"), choices=Contract.Ground.choices,
                               widget=forms.RadioSelect)  # fmt: skip
    reason = forms.CharField(
        label=_("Reason (what happened, and when)"), widget=forms.Textarea, max_length=5000
    )
    cancelled_on = forms.DateField(label=_("Cancelled on"), widget=DATE, required=False,
                                   help_text=_("Empty: today."))  # fmt: skip


class ContractForm(forms.Form):
    hours = forms.IntegerField(label=_("Hours of work"), min_value=0, max_value=10_000)
    outsourcing_cost = forms.IntegerField(
        label=_("Outsourcing cost (yen)"), min_value=0, initial=0, required=False
    )
    contract_date = forms.DateField(label=_("Contract date"), widget=DATE, required=False)


class PaidForm(forms.Form):
    paid_on = forms.DateField(label=_("Fee paid on"), widget=DATE, required=False)


METRIC_CHOICES = [
    ("entropy", _("Non-uniform entropy (情報損失: エントロピー)")),
    ("loss", _("Generalization loss (一般化による損失)")),
    ("precision", _("Precision (精度)")),
    ("discernibility", _("Discernibility (識別性)")),
    ("aecs", _("Average equivalence-class size (平均同値クラスサイズ)")),
]


class JobForm(forms.Form):
    """The creation job's parameters: the privacy model (施行規則第34条第5号), the utility metric the search
    optimises, and the peculiar-value steps (第4号: top-coding, rare categories grouped)."""

    k = forms.IntegerField(label="k", min_value=2, max_value=1000, initial=5)
    l = forms.FloatField(label=_("ℓ (ℓ-diversity; optional)"), min_value=1, required=False)  # noqa: E741
    l_variant = forms.ChoiceField(label=_("Kind of ℓ-diversity"), initial="distinct", required=False, choices=[
        ("distinct", _("distinct ℓ-diversity")), ("entropy", _("entropy ℓ-diversity"))])  # fmt: skip
    t = forms.FloatField(label=_("t (t-closeness; optional, 0–1)"), min_value=0, max_value=1, required=False)
    t_measure = forms.ChoiceField(label=_("Distance of t-closeness"), initial="equal", required=False, choices=[
        ("equal", _("equal distance (EMD)")),
        ("hierarchical", _("hierarchical distance (EMD over the sensitive item's hierarchy)"))])  # fmt: skip
    suppression = forms.IntegerField(label=_("Suppression limit (%)"), min_value=0, max_value=50, initial=0)
    metric = forms.ChoiceField(
        label=_("Utility metric to optimise"), choices=METRIC_CHOICES, initial="entropy", required=False
    )
    top_code_column = forms.ChoiceField(label=_("Top-coding: item (e.g. age; optional)"), required=False)
    top_code_threshold = forms.FloatField(
        label=_("Top-coding: values at or above this become one value (e.g. 100 → 100+)"), required=False
    )
    rare_columns = forms.MultipleChoiceField(label=_("Rare categories: items (optional)"), required=False,
                                             widget=forms.CheckboxSelectMultiple)  # fmt: skip
    rare_min_count = forms.IntegerField(
        label=_("Rare categories: values held by fewer records than this are grouped as 「その他」"),
        min_value=2,
        required=False,
    )

    def __init__(self, *args, columns: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["top_code_column"].choices = [("", "—"), *columns]
        self.fields["rare_columns"].choices = list(columns)

    def clean(self):
        d = super().clean()
        if d.get("top_code_column") and d.get("top_code_threshold") is None:
            self.add_error("top_code_threshold", _("Give the threshold of the top-coding."))
        if d.get("top_code_threshold") is not None and not d.get("top_code_column"):
            self.add_error("top_code_column", _("Choose the item to top-code."))
        if d.get("rare_columns") and d.get("rare_min_count") is None:
            self.add_error("rare_min_count", _("Give the threshold for rare categories."))
        if d.get("rare_min_count") is not None and not d.get("rare_columns"):
            self.add_error("rare_columns", _("Choose the items whose rare categories are grouped."))
        return d

    def job_kwargs(self) -> dict:
        """Keyword arguments of `services.creation_job_queue` (besides the proposal and the actor)."""
        d = self.cleaned_data
        tops = ([{"column": d["top_code_column"], "threshold": d["top_code_threshold"]}]
                if d.get("top_code_column") else [])  # fmt: skip
        rares = [{"column": c, "min_count": d["rare_min_count"]} for c in d.get("rare_columns") or []]
        return {"k": d["k"], "l": d["l"], "l_variant": d.get("l_variant") or "distinct", "t": d["t"],
                "t_measure": d.get("t_measure") or "equal", "suppression": d["suppression"] / 100,
                "metric": d.get("metric") or "entropy", "top_codes": tops, "rare_categories": rares}  # fmt: skip


class ProvisionForm(forms.Form):
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=90)
    max_downloads = forms.IntegerField(label=_("Maximum downloads"), min_value=1, max_value=10, initial=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.PRIVACY_PROVISION_DAYS


class CallForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    starts_on = forms.DateField(label=_("Start of the period"), widget=DATE)
    ends_on = forms.DateField(label=_("End of the period"), widget=DATE)
    files = forms.ModelMultipleChoiceField(label=_("Files offered"), queryset=PersonalInfoFile.objects.none(),
                                           widget=forms.CheckboxSelectMultiple)  # fmt: skip
    fee_base = forms.IntegerField(label=_("Fee: base (yen)"), min_value=0, initial=DEFAULT_FEE_TABLE["base"])
    fee_per_hour = forms.IntegerField(label=_("Fee: per hour of work (yen)"), min_value=0,
                                      initial=DEFAULT_FEE_TABLE["per_hour"])  # fmt: skip
    fee_basis = forms.CharField(label=_("Basis of the fee (ordinance)"), max_length=300,
                                initial=DEFAULT_FEE_TABLE["basis"])  # fmt: skip
    guidance = forms.CharField(label=_("Guidance"), widget=forms.Textarea, required=False, max_length=10000)

    def __init__(self, *args, municipality, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].queryset = PersonalInfoFile.objects.filter(municipality=municipality)

    def fee_table(self) -> dict:
        d = self.cleaned_data
        return {
            "base": d["fee_base"],
            "per_hour": d["fee_per_hour"],
            "outsourcing": True,
            "basis": d["fee_basis"],
        }


class LeakForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    discovered_on = forms.DateField(label=_("Known on (知った日)"), widget=DATE)
    occurred_on = forms.DateField(label=_("Occurred on"), widget=DATE, required=False)
    affected_count = forms.IntegerField(label=_("People affected"), min_value=0, initial=0)
    kinds = forms.MultipleChoiceField(label=_("Cases that make a report required (規則第43条)"),
                                      choices=LeakReport.Kind.choices, widget=forms.CheckboxSelectMultiple,
                                      required=False)  # fmt: skip
    description = forms.CharField(
        label=_("What happened"), widget=forms.Textarea, required=False, max_length=10000
    )


class LeakUpdateForm(forms.Form):
    preliminary_reported_on = forms.DateField(
        label=_("Preliminary report sent on"), widget=DATE, required=False
    )
    final_reported_on = forms.DateField(label=_("Final report sent on"), widget=DATE, required=False)
    persons_notified_on = forms.DateField(label=_("Persons notified on"), widget=DATE, required=False)


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=DataSubjectRequest.Kind.choices)
    received_on = forms.DateField(label=_("Received on"), widget=DATE)
    requester = forms.CharField(label=_("Requester"), max_length=200)
    file = forms.ModelChoiceField(label=_("Personal information file"), queryset=PersonalInfoFile.objects.none(),
                                  required=False)  # fmt: skip
    details = forms.CharField(
        label=_("What is requested"), widget=forms.Textarea, required=False, max_length=10000
    )

    def __init__(self, *args, municipality, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].queryset = PersonalInfoFile.objects.filter(municipality=municipality)


class RequestActionForm(forms.Form):
    reason = forms.CharField(label=_("Reason for the extension"), widget=forms.Textarea, required=False)
    days = forms.IntegerField(label=_("Days spent on 補正 (not counted)"), min_value=0, max_value=365,
                              required=False)  # fmt: skip
    decision = forms.ChoiceField(label=_("Decision"), choices=[("", "—"), *DataSubjectRequest.Decision.choices],
                                 required=False)  # fmt: skip
    answer = forms.CharField(label=_("Answer"), widget=forms.Textarea, required=False)
    answered_on = forms.DateField(label=_("Answered on"), widget=DATE, required=False)


ROLE_HELP = "; ".join(f"{value} = {label}" for value, label in ITEM_ROLES)


class FileForm(forms.Form):
    """A 個人情報ファイル as the register describes it. Items: one per line, `column,role,label`."""

    name = forms.CharField(label=_("File name"), max_length=200)
    purpose = forms.CharField(label=_("Purpose of use"), widget=forms.Textarea, max_length=5000)
    items = forms.CharField(
        label=_("Items (one per line: column name, role, label)"), widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20_000,
        help_text=_("Example: age,quasi_identifier,年齢. The column name must be the CSV header. Roles: %(roles)s")
        % {"roles": ROLE_HELP},
    )  # fmt: skip
    record_count = forms.IntegerField(label=_("Number of records"), min_value=0, required=False,
                                      help_text=_("Checked against the uploaded data; empty or 0: taken from "
                                                  "the data."))  # fmt: skip
    open_to_proposals = forms.BooleanField(label=_("Open to proposals"), required=False)

    @staticmethod
    def items_text(items: list[dict]) -> str:
        return "\n".join(f"{i['name']},{i.get('role', '')},{i.get('label', '')}" for i in items)

    def clean_items(self) -> list[dict]:
        import csv
        import io

        roles = {value for value, _label in ITEM_ROLES}
        found = []
        for number, row in enumerate(csv.reader(io.StringIO(self.cleaned_data["items"])), start=1):
            if not row or not "".join(row).strip():
                continue
            cells = [c.strip() for c in row]
            if len(cells) < 2 or not cells[0]:
                raise forms.ValidationError(_("Line %(line)s: write the column name and its role, separated by "
                                              "a comma.") % {"line": number})  # fmt: skip
            if cells[1] not in roles:
                raise forms.ValidationError(_("Line %(line)s: unknown role %(role)s.") % {"line": number,
                                                                                         "role": cells[1]})  # fmt: skip
            found.append({"name": cells[0], "role": cells[1], "label": ",".join(cells[2:]) or cells[0]})
        if not found:
            raise forms.ValidationError(_("Declare at least one item."))
        names = [i["name"] for i in found]
        if len(set(names)) != len(names):
            raise forms.ValidationError(_("Each column name may appear only once."))
        return found


ENCODING_CHOICES = [("auto", _("Detect (UTF-8, else Shift_JIS)")), ("utf-8", "UTF-8"),
                    ("cp932", "Shift_JIS (cp932)")]  # fmt: skip
SEPARATOR_CHOICES = [("auto", _("Detect")), (",", _("comma (,)")), (";", _("semicolon (;)")), ("\t", _("tab")),
                     ("|", _("vertical bar (|)"))]  # fmt: skip


class DataUploadForm(forms.Form):
    data = forms.FileField(label=_("Data (CSV)"), help_text=_("First line: the column names of the items. "
                                                               "At most %(mb)s MB."))  # fmt: skip
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, initial="auto")
    separator = forms.ChoiceField(label=_("Separator"), choices=SEPARATOR_CHOICES, initial="auto")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data"].help_text = self.fields["data"].help_text % {
            "mb": f"{upload_max_bytes() / 1024 / 1024:g}"
        }


class HierarchyForm(forms.Form):
    """A quasi-identifier's hierarchy: an uploaded `value;level1;…;*` file, or a rule."""

    KINDS = [("file", _("Upload a hierarchy file")), ("interval", _("Rule: numeric intervals (widths, e.g. 5,10,20)")),
             ("date", _("Rule: date truncation (steps, e.g. month,year)")),
             ("prefix", _("Rule: prefix masking of codes (digits kept, e.g. 5,3,1)"))]  # fmt: skip

    column = forms.ChoiceField(label=_("Item"))
    kind = forms.ChoiceField(label=_("Hierarchy"), choices=KINDS, widget=forms.RadioSelect, initial="file")
    data = forms.FileField(label=_("Hierarchy file (CSV: value;level 1;…;*)"), required=False)
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODING_CHOICES, initial="auto")
    separator = forms.ChoiceField(label=_("Separator"), choices=SEPARATOR_CHOICES[1:], initial=";")
    parameters = forms.CharField(label=_("Rule parameters (comma-separated)"), required=False, max_length=200)

    def __init__(self, *args, columns: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["column"].choices = columns

    def clean(self):
        d = super().clean()
        kind = d.get("kind")
        if kind == "file" and not d.get("data"):
            self.add_error("data", _("Choose the hierarchy file."))
        if kind in ("interval", "date", "prefix"):
            params = [
                p.strip() for p in (d.get("parameters") or "").replace("、", ",").split(",") if p.strip()
            ]
            if not params:
                self.add_error("parameters", _("Write the rule's parameters."))
            d["params"] = params
        return d


class ParticipationForm(forms.Form):
    """Whether the municipality takes proposals (participation.py), for its administrators."""

    CHOICES = [("in", _("Take proposals: publish calls and receive proposals (opt in)")),
               ("out", _("Do not take proposals: no new calls or proposals (opt out)"))]  # fmt: skip

    choice = forms.ChoiceField(
        label=_("Proposals for anonymized information"), choices=CHOICES, widget=forms.RadioSelect,
        help_text=_("Opting out refuses new calls and new proposals only: proposals, contracts, creation jobs "
                    "and provisions already under way go on, and the public registers stay published."),
    )  # fmt: skip
