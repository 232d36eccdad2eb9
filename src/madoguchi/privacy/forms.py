"""Forms of the privacy workflow (rendered with web/includes/field.html)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from madoguchi.privacy.models import DataSubjectRequest, LeakReport, PersonalInfoFile
from madoguchi.privacy.services import DEFAULT_FEE_TABLE, DISQUALIFICATIONS, REVIEW_CHECKS

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
        files = call.files.all()
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


class ReviewForm(forms.Form):
    note = forms.CharField(label=_("Review note"), widget=forms.Textarea, required=False, max_length=5000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in DISQUALIFICATIONS:
            self.fields[f"disq_{key}"] = forms.BooleanField(label=_("Confirmed: ") + label, required=False)
        for key, label in REVIEW_CHECKS:
            self.fields[key] = forms.BooleanField(label=label, required=False)


class ContractForm(forms.Form):
    hours = forms.IntegerField(label=_("Hours of work"), min_value=0, max_value=10_000)
    outsourcing_cost = forms.IntegerField(
        label=_("Outsourcing cost (yen)"), min_value=0, initial=0, required=False
    )
    contract_date = forms.DateField(label=_("Contract date"), widget=DATE, required=False)


class PaidForm(forms.Form):
    paid_on = forms.DateField(label=_("Fee paid on"), widget=DATE, required=False)


class JobForm(forms.Form):
    k = forms.IntegerField(label="k", min_value=2, max_value=1000, initial=5)
    l = forms.FloatField(label=_("ℓ (distinct ℓ-diversity; optional)"), min_value=1, required=False)  # noqa: E741
    suppression = forms.IntegerField(label=_("Suppression limit (%)"), min_value=0, max_value=50, initial=0)


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
