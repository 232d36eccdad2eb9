"""Forms of the subsidy pages. The call's own questions come from the procedures form engine (StepForm)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from madoguchi.grants.models import BusinessProfile


class ProjectForm(forms.Form):
    project_title = forms.CharField(label=_("Project title"), max_length=200)
    planned_cost = forms.IntegerField(
        label=_("Planned eligible cost (yen)"), min_value=1, max_value=10**12,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text=_("Whole yen. The amount applied for is this × the subsidy rate, within the upper limit."),
    )  # fmt: skip
    project_end = forms.DateField(
        label=_("Project ends on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ExpenseForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"))
    description = forms.CharField(label=_("What"), max_length=200)
    amount = forms.IntegerField(label=_("Amount (yen)"), min_value=1, max_value=10**12)

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c["code"], c["name"]) for c in categories]


class BaseExpenseFormSet(forms.BaseFormSet):
    def __init__(self, *args, categories=(), **kwargs):
        self.categories = categories
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {"categories": self.categories}


ExpenseFormSet = forms.formset_factory(
    ExpenseForm, formset=BaseExpenseFormSet, extra=4, max_num=50, validate_max=True
)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = BusinessProfile
        fields = ["employees", "industry", "prefecture", "keywords", "notify"]


class DecisionForm(forms.Form):
    amount = forms.IntegerField(label=_("Amount (yen)"), min_value=1, max_value=10**12, required=False)
    note = forms.CharField(label=_("Reason or message"), required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    on = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class CallForm(forms.Form):
    programme = forms.ChoiceField(label=_("Programme"))
    round = forms.IntegerField(label=_("Round"), min_value=1, max_value=99, initial=1)
    name = forms.CharField(label=_("Short name"), max_length=100)
    title = forms.CharField(label=_("Title"), max_length=300)
    catch_phrase = forms.CharField(label=_("Catch phrase"), max_length=300, required=False)
    detail = forms.CharField(label=_("Details"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    use_purpose = forms.CharField(label=_('Purposes (separate with " / ")'), max_length=500, required=False)
    industry = forms.CharField(label=_('Industries (separate with " / ")'), max_length=500, required=False)
    target_area_search = forms.CharField(
        label=_('Target areas (separate with " / ")'), max_length=500, initial="全国"
    )
    target_number_of_employees = forms.CharField(label=_("Target employees"), max_length=100, required=False)
    subsidy_max_limit = forms.IntegerField(label=_("Upper limit (yen)"), min_value=1, required=False)
    acceptance_start_datetime = forms.DateTimeField(
        label=_("Reception opens"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    acceptance_end_datetime = forms.DateTimeField(
        label=_("Reception closes"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    project_end_deadline = forms.DateField(
        label=_("Project must end by"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    is_enable_multiple_request = forms.BooleanField(
        label=_("Several applications per applicant"), required=False
    )
    form_file = forms.FileField(
        label=_("Application form (JSON from the form builder)"),
        required=False,
        help_text=_("Leave empty for the standard form (contact, plan, declaration)."),
    )
    publish = forms.BooleanField(label=_("Publish now (and tell matching businesses)"), required=False)

    def __init__(self, *args, programmes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].choices = [(p.code, p.name) for p in programmes]
