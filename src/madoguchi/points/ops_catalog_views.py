"""マイナポイント back office for platform operators: payment providers (registration, API keys, callback secret)
and campaigns. Every change goes through points.catalog, which checks the actor again and writes the audit
record; a refusal is shown on the field it is about, with what was entered kept.

A new API key or callback secret is shown exactly once: the POST that makes it keeps it in the (server-side)
session for the page it redirects to, which takes it out again as it shows it.
"""

import unicodedata
from datetime import datetime
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from madoguchi.points import catalog
from madoguchi.points.catalog import CampaignSpec, CatalogError, ProviderSpec
from madoguchi.points.models import Campaign, Mode, PaymentProvider, ProviderApiKey
from madoguchi.points.ops_views import operator_required
from madoguchi.points.selectors import rate_percent

ONCE_SESSION_KEY = "points_catalog_once"
API_KEY, CALLBACK_SECRET = "api_key", "callback_secret"


# --- Forms -----------------------------------------------------------------------------------------------------
class WholeNumberField(forms.IntegerField):
    """A whole number as people type it: full-width digits, thousands separators and 円 are accepted."""

    widget = forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})

    def to_python(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).replace(",", "").replace("円", "").strip()
        return super().to_python(value)


class DateTimeLocalField(forms.DateTimeField):
    """A date and time in Japan time (the site's time zone), to the second."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S")


def _code_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("Identifier code"),
        max_length=catalog.CODE_MAX,
        help_text=gettext_lazy(
            "Lower-case letters, digits and hyphens, e.g. mynapoint-2020. Used in URLs, files and the API; "
            "it cannot be changed later."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


def _clean_code(code: str) -> str:
    """The code's form checked here too, so that it is reported with the form's other errors."""
    problem = catalog.code_problem(code.strip())
    if problem is not None:
        raise forms.ValidationError(problem.message, code=problem.code)
    return code.strip()


class ProviderChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: PaymentProvider) -> str:
        modes = " / ".join(str(label) for value, label in Mode.choices if value in (obj.modes or []))
        label = _("%(name)s (%(type)s) — %(modes)s") % {
            "name": obj.name,
            "type": obj.get_type_display(),
            "modes": modes,
        }
        return label if obj.active else _("%(label)s [inactive]") % {"label": label}


class ProviderForm(forms.Form):
    code = _code_field()
    name = forms.CharField(label=gettext_lazy("Name of the payment service"), max_length=100)
    type = forms.ChoiceField(
        label=gettext_lazy("Type of payment service"), choices=PaymentProvider.Type.choices
    )
    modes = forms.MultipleChoiceField(
        label=gettext_lazy("Modes offered"),
        choices=Mode.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Which of the resident's spending earns points with this service."),
    )
    callback_url = forms.CharField(
        label=gettext_lazy("Account confirmation URL"),
        max_length=300,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"}),
        help_text=gettext_lazy(
            "The platform POSTs the payment service ID and security code here, signed with the callback "
            "secret, before it accepts an application. https:// (http:// only for localhost)."
        ),
    )
    active = forms.BooleanField(
        label=gettext_lazy("Active (takes applications; its API keys work)"), required=False, initial=True
    )

    def __init__(self, *args, provider: PaymentProvider | None = None, **kwargs):
        if provider is not None:
            kwargs.setdefault("initial", {
                "name": provider.name, "type": provider.type, "modes": list(provider.modes),
                "callback_url": provider.callback_url, "active": provider.active,
            })  # fmt: skip
        super().__init__(*args, **kwargs)
        if provider is not None:
            del self.fields["code"]

    def clean_code(self):
        return _clean_code(self.cleaned_data["code"])

    def clean_callback_url(self):
        url = self.cleaned_data["callback_url"].strip()
        problem = catalog.callback_url_problem(url)
        if problem is not None:
            raise forms.ValidationError(problem.message, code=problem.code)
        return url

    def spec(self) -> ProviderSpec:
        data = self.cleaned_data
        return ProviderSpec(name=data["name"], type=data["type"], modes=data["modes"],
                            callback_url=data["callback_url"], active=data["active"])  # fmt: skip


# A refusal from points.catalog about a spec attribute that the form calls otherwise.
CAMPAIGN_FIELDS = {"rate_bp": "rate_percent"}


class CampaignForm(forms.Form):
    code = _code_field()
    name = forms.CharField(label=gettext_lazy("Name of the campaign"), max_length=200)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind of campaign"), choices=Campaign.Kind.choices, widget=forms.RadioSelect
    )
    rate_percent = forms.DecimalField(
        label=gettext_lazy("Premium rate (%)"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text=gettext_lazy("Premium campaigns only: points = amount × rate, rounded down. E.g. 25."),
    )
    cap = WholeNumberField(
        label=gettext_lazy("Cap per person (points)"),
        min_value=1,
        help_text=gettext_lazy("1 point = 1 yen. Each application reserves this much of the budget."),
    )
    fixed_points = WholeNumberField(
        label=gettext_lazy("Fixed grant (points)"),
        min_value=0,
        required=False,
        help_text=gettext_lazy("Fixed-grant campaigns only: the points given for the qualifying action."),
    )
    modes = forms.MultipleChoiceField(
        label=gettext_lazy("Eligible modes"), choices=Mode.choices, widget=forms.CheckboxSelectMultiple
    )
    budget = WholeNumberField(
        label=gettext_lazy("Budget (yen)"),
        min_value=0,
        help_text=gettext_lazy("Whole yen. Reservations and applications close once it is fully reserved."),
    )
    reservation_starts_at = DateTimeLocalField(
        label=gettext_lazy("Reservations open (Japan time)"),
        required=False,
        help_text=gettext_lazy(
            "Premium campaigns need a reservation window; fixed-grant campaigns may leave it empty."
        ),
    )
    reservation_ends_at = DateTimeLocalField(
        label=gettext_lazy("Reservations close (Japan time)"), required=False
    )
    application_starts_at = DateTimeLocalField(label=gettext_lazy("Applications open (Japan time)"))
    application_ends_at = DateTimeLocalField(label=gettext_lazy("Applications close (Japan time)"))
    earning_starts_at = DateTimeLocalField(label=gettext_lazy("Earning starts (Japan time)"))
    earning_ends_at = DateTimeLocalField(label=gettext_lazy("Earning ends (Japan time)"))
    providers = ProviderChoiceField(
        label=gettext_lazy("Eligible payment services"),
        queryset=PaymentProvider.objects.order_by("name", "pk"),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, campaign: Campaign | None = None, usage=None, **kwargs):
        if campaign is not None:
            kwargs.setdefault("initial", campaign_initial(campaign))
        super().__init__(*args, **kwargs)
        if campaign is not None:
            del self.fields["code"]
        if usage is not None and usage.locked:
            note = catalog.locked_message(usage)
            for name in ("kind", "rate_percent", "cap", "fixed_points", "modes"):
                self.fields[name].disabled = True
                self.fields[name].help_text = note

    def clean_code(self):
        return _clean_code(self.cleaned_data["code"])

    def clean(self):
        data = super().clean()
        # The date-time inputs show whole seconds: a time left as it was shown keeps its stored fraction of a
        # second, so that saving the form unchanged moves no window (an earlier end would be refused).
        for name in catalog.WINDOW_FIELDS:
            shown, value = (
                self.initial.get(name),
                data.get(name),
            )  # (get_initial_for_field drops the fraction)
            if isinstance(shown, datetime) and value is not None and value == shown.replace(microsecond=0):
                data[name] = shown
        return data

    def spec(self) -> CampaignSpec:
        data = self.cleaned_data
        rate = data.get("rate_percent")
        return CampaignSpec(
            name=data["name"], kind=data["kind"], rate_bp=int(rate * 100) if rate is not None else 0,
            cap=data["cap"], fixed_points=data.get("fixed_points") or 0, modes=data["modes"], budget=data["budget"],
            reservation_starts_at=data.get("reservation_starts_at"), reservation_ends_at=data.get("reservation_ends_at"),
            application_starts_at=data["application_starts_at"], application_ends_at=data["application_ends_at"],
            earning_starts_at=data["earning_starts_at"], earning_ends_at=data["earning_ends_at"],
            providers=list(data["providers"]),
        )  # fmt: skip


def campaign_initial(campaign: Campaign) -> dict:
    return {
        "name": campaign.name, "kind": campaign.kind,
        "rate_percent": rate_percent(campaign.rate_bp) if campaign.kind == Campaign.Kind.PREMIUM else None,
        "cap": campaign.cap, "fixed_points": campaign.fixed_points or None, "modes": list(campaign.modes),
        "budget": campaign.budget, "reservation_starts_at": campaign.reservation_starts_at,
        "reservation_ends_at": campaign.reservation_ends_at, "application_starts_at": campaign.application_starts_at,
        "application_ends_at": campaign.application_ends_at, "earning_starts_at": campaign.earning_starts_at,
        "earning_ends_at": campaign.earning_ends_at, "providers": list(campaign.providers.all()),
    }  # fmt: skip


def _show_refusal(form: forms.Form, exc: CatalogError, renames: dict[str, str] | None = None) -> None:
    """Each problem on its field (the field include marks it invalid and ties the message to it)."""
    for problem in exc.problems:
        name = (renames or {}).get(problem.field, problem.field)
        form.add_error(name if name in form.fields else None, problem.message)


# --- Lookups ---------------------------------------------------------------------------------------------------
def _provider_or_404(code: str) -> PaymentProvider:
    provider = PaymentProvider.objects.filter(code=code).first()
    if provider is None:
        raise Http404(_("There is no payment service with the code %(code)s.") % {"code": code})
    return provider


def _key_or_404(provider: PaymentProvider, pk: int) -> ProviderApiKey:
    key = ProviderApiKey.objects.filter(provider=provider, pk=pk).select_related("provider").first()
    if key is None:
        raise Http404(_("There is no such API key."))
    return key


def _campaign_or_404(code: str) -> Campaign:
    campaign = Campaign.objects.filter(code=code).first()
    if campaign is None:
        raise Http404(_("There is no campaign with the code %(code)s.") % {"code": code})
    return campaign


def _keep_once(request: HttpRequest, provider: PaymentProvider, what: str, value: str) -> None:
    """A new callback secret, until the provider's page shows it (the platform keeps the secret itself anyway:
    it signs with it). A new API key is not kept here: see `_new_key_page`."""
    request.session[ONCE_SESSION_KEY] = {"provider": provider.pk, "what": what, "value": value}


def _take_once(request: HttpRequest, provider: PaymentProvider) -> dict | None:
    """The new key or secret to show on this provider's page, taken out of the session: shown once."""
    once = request.session.pop(ONCE_SESSION_KEY, None)
    if isinstance(once, dict) and once.get("provider") == provider.pk:
        return once
    return None


# --- Payment providers -----------------------------------------------------------------------------------------
@operator_required
def providers(request: HttpRequest) -> HttpResponse:
    listed = PaymentProvider.objects.order_by("name", "pk").prefetch_related("api_keys")
    rows = [(p, sorted(p.api_keys.all(), key=lambda k: k.created_at, reverse=True)) for p in listed]
    return render(
        request, "points/ops/catalog/providers.html", {"rows": rows, "catalog_section": "providers"}
    )


@operator_required
def provider_new(request: HttpRequest) -> HttpResponse:
    form = ProviderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            provider, secret = catalog.provider_register(
                code=form.cleaned_data["code"], spec=form.spec(), actor=request.user
            )
        except CatalogError as exc:
            _show_refusal(form, exc)
        else:
            _keep_once(request, provider, CALLBACK_SECRET, secret)
            messages.success(
                request, _("The payment service %(name)s was registered.") % {"name": provider.name}
            )
            return redirect("points_ops:catalog_provider", code=provider.code)
    return render(
        request, "points/ops/catalog/provider_form.html", {"form": form, "catalog_section": "providers"}
    )


def _provider_page(request: HttpRequest, provider: PaymentProvider, once: dict | None) -> HttpResponse:
    response = render(
        request,
        "points/ops/catalog/provider.html",
        {
            "provider": provider,
            "keys": provider.api_keys.order_by("-created_at", "-pk"),
            "campaigns": provider.campaigns.order_by("application_starts_at", "code"),
            "once": once,
            "catalog_section": "providers",
        },
    )
    if once is not None:  # a page with a secret on it is never kept by a browser or a proxy
        add_never_cache_headers(response)
    return response


@operator_required
def provider_detail(request: HttpRequest, code: str) -> HttpResponse:
    provider = _provider_or_404(code)
    return _provider_page(request, provider, _take_once(request, provider))


def _new_key_page(request: HttpRequest, provider: PaymentProvider, key: str) -> HttpResponse:
    """The provider's page with the new API key, answered to the POST itself: the key is never stored, not even
    in the session until the next page (only its hash is kept anywhere). Reloading would send the form again,
    which the browser asks about first; the key list then shows what happened."""
    return _provider_page(request, provider, {"provider": provider.pk, "what": API_KEY, "value": key})


@operator_required
def provider_edit(request: HttpRequest, code: str) -> HttpResponse:
    provider = _provider_or_404(code)
    form = ProviderForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            catalog.provider_update(provider=provider, spec=form.spec(), actor=request.user)
        except CatalogError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, _("The payment service was saved."))
            return redirect("points_ops:catalog_provider", code=provider.code)
    return render(
        request,
        "points/ops/catalog/provider_form.html",
        {"form": form, "provider": provider, "catalog_section": "providers"},
    )


@operator_required
@require_POST
def provider_key_issue(request: HttpRequest, code: str) -> HttpResponse:
    provider = _provider_or_404(code)
    try:
        key = catalog.api_key_issue(provider=provider, actor=request.user)
    except CatalogError as exc:
        messages.error(request, exc.message)
        return redirect("points_ops:catalog_provider", code=provider.code)
    return _new_key_page(request, provider, key)


def _confirm(request: HttpRequest, provider: PaymentProvider, *, title: str, explanation: str, button: str,
             key: ProviderApiKey | None = None) -> HttpResponse:  # fmt: skip
    return render(
        request,
        "points/ops/catalog/confirm.html",
        {"provider": provider, "key": key, "title": title, "explanation": explanation, "button": button,
         "catalog_section": "providers"},
    )  # fmt: skip


@operator_required
def provider_key_rotate(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    provider = _provider_or_404(code)
    key = _key_or_404(provider, pk)
    if request.method != "POST":
        return _confirm(
            request, provider, key=key,
            title=_("Replace the API key %(prefix)s?") % {"prefix": key.prefix},
            explanation=_("A new key is issued and this one is revoked at the same moment: the payment service's "
                          "requests with the old key are refused from then on, until it uses the new key."),
            button=_("Issue a new key and revoke this one"),
        )  # fmt: skip
    try:
        new_key = catalog.api_key_rotate(key=key, actor=request.user)
    except CatalogError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The API key %(prefix)s was revoked.") % {"prefix": key.prefix})
        return _new_key_page(request, provider, new_key)
    return redirect("points_ops:catalog_provider", code=provider.code)


@operator_required
def provider_key_revoke(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    provider = _provider_or_404(code)
    key = _key_or_404(provider, pk)
    if request.method != "POST":
        return _confirm(
            request, provider, key=key,
            title=_("Revoke the API key %(prefix)s?") % {"prefix": key.prefix},
            explanation=_("The payment service's requests with this key are refused from now on. This cannot be "
                          "undone; issue a new key if the service still needs one."),
            button=_("Revoke the key"),
        )  # fmt: skip
    try:
        catalog.api_key_revoke(key=key, actor=request.user)
    except CatalogError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The API key %(prefix)s was revoked.") % {"prefix": key.prefix})
    return redirect("points_ops:catalog_provider", code=provider.code)


@operator_required
def provider_secret_rotate(request: HttpRequest, code: str) -> HttpResponse:
    provider = _provider_or_404(code)
    if request.method != "POST":
        return _confirm(
            request, provider,
            title=_("Replace the callback secret of %(name)s?") % {"name": provider.name},
            explanation=_("A new secret signs the account confirmation requests from now on. Until the payment "
                          "service checks signatures with it, it will refuse them, and residents cannot apply "
                          "with it."),
            button=_("Make a new callback secret"),
        )  # fmt: skip
    try:
        secret = catalog.provider_callback_secret_rotate(provider=provider, actor=request.user)
    except CatalogError as exc:
        messages.error(request, exc.message)
    else:
        _keep_once(request, provider, CALLBACK_SECRET, secret)
    return redirect("points_ops:catalog_provider", code=provider.code)


# --- Campaigns -------------------------------------------------------------------------------------------------
@operator_required
def campaigns(request: HttpRequest) -> HttpResponse:
    listed = Campaign.objects.order_by("application_starts_at", "code").prefetch_related("providers")
    rows = [(c, rate_percent(c.rate_bp)) for c in listed]
    return render(
        request, "points/ops/catalog/campaigns.html", {"rows": rows, "catalog_section": "campaigns"}
    )


@operator_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = catalog.campaign_create(
                code=form.cleaned_data["code"], spec=form.spec(), actor=request.user
            )
        except CatalogError as exc:
            _show_refusal(form, exc, CAMPAIGN_FIELDS)
        else:
            messages.success(request, _("The campaign %(name)s was created.") % {"name": campaign.name})
            return redirect("points_ops:catalog_campaigns")
    return render(
        request, "points/ops/catalog/campaign_form.html", {"form": form, "catalog_section": "campaigns"}
    )


@operator_required
def campaign_edit(request: HttpRequest, code: str) -> HttpResponse:
    campaign = _campaign_or_404(code)
    usage = catalog.campaign_usage(campaign)
    form = CampaignForm(request.POST or None, campaign=campaign, usage=usage)
    if request.method == "POST" and form.is_valid():
        try:
            catalog.campaign_update(campaign=campaign, spec=form.spec(), actor=request.user)
        except CatalogError as exc:
            _show_refusal(form, exc, CAMPAIGN_FIELDS)
        else:
            messages.success(
                request, _("The campaign %(name)s was saved.") % {"name": form.cleaned_data["name"]}
            )
            return redirect("points_ops:catalog_campaigns")
    return render(
        request,
        "points/ops/catalog/campaign_form.html",
        {"form": form, "campaign": campaign, "usage": usage, "catalog_section": "campaigns",
         "minimum_budget": usage.minimum_budget(campaign.cap)},
    )  # fmt: skip
