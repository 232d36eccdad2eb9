"""Security back-office pages (自治体情報セキュリティクラウド): a municipality's quarantine, alerts and incidents
for its administrators and auditors, and the prefecture-wide view with STIX 2.1 import for platform operators.

Reads go through the monitoring selectors; every change through security.monitoring_services, which audits.
Auditors read; only municipal administrators open or change incidents.
"""

import io
import json
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from madoguchi.core.models import Municipality, Prefecture
from madoguchi.identity.decorators import municipality_staff_required, verified_staff_required
from madoguchi.identity.models import StaffRole, User
from madoguchi.identity.selectors import ALL_MUNICIPAL_ROLES, is_platform_operator, staff_access
from madoguchi.security import monitoring_services as monitoring
from madoguchi.security import services as security_services
from madoguchi.security.models import Incident, QuarantinedFile
from madoguchi.security.monitoring.stix import StixError

PER_PAGE = 50
MAX_BUNDLE_BYTES = 10 * 1024 * 1024
READ_ROLES = frozenset({StaffRole.Role.MUNICIPAL_ADMIN, StaffRole.Role.AUDITOR})
WRITE_ROLES = frozenset({StaffRole.Role.MUNICIPAL_ADMIN})


def operator_required(view):
    """A verified staff member who is a platform operator; 403 for any other staff member."""

    @wraps(view)
    @verified_staff_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not is_platform_operator(request.user):
            raise PermissionDenied(_("The prefecture-wide security view is for platform operators."))
        return view(request, *args, **kwargs)

    return wrapped


def _page(request: HttpRequest, queryset, param: str = "page"):
    return Paginator(queryset, PER_PAGE).get_page(request.GET.get(param))


def _stix_download(bundle: dict, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(bundle, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/stix+json;version=2.1",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _selected_ids(request: HttpRequest, name: str) -> list[int]:
    return [int(v) for v in request.POST.getlist(name) if v.isdigit()]


def _municipal_staff(municipality: Municipality):
    return (
        User.objects.filter(staff_roles__municipality=municipality, is_active=True)
        .distinct()
        .order_by("display_name", "username")
    )


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=Incident.Status.choices)
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("(nobody)"),
    )

    def __init__(self, *args, municipality: Municipality, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _municipal_staff(municipality)


class QuarantineDecisionForm(forms.Form):
    """The documented reason every decision on a quarantined file needs."""

    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=security_services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, action: str, **kwargs):
        super().__init__(*args, prefix=action, **kwargs)
        self.fields["reason"].help_text = QUARANTINE_HELP[action]


QUARANTINE_HELP = {
    "request": gettext_lazy(
        "Why the file can be trusted, e.g. “the sender confirmed by phone that they sent this file”. "
        "Another staff member must approve the release."
    ),
    "release": gettext_lazy(
        "What you checked before approving. You cannot approve a release that you requested yourself."
    ),
    "delete": gettext_lazy(
        "Why the file is deleted. Its bytes are removed from the server; the record stays."
    ),
}
QUARANTINE_ACTIONS = {
    "request": security_services.quarantine_release_request,
    "release": security_services.quarantine_release,
    "delete": security_services.quarantine_delete,
}
QUARANTINE_DONE = {
    "request": gettext_lazy("The release was requested. Another staff member must approve it."),
    "release": gettext_lazy("The file was released. Staff of the municipality can now download it."),
    "delete": gettext_lazy("The file was deleted."),
}
QUARANTINE_ERRORS = {
    "wrong_status": gettext_lazy("This cannot be done in the file's current status."),
    "four_eyes": gettext_lazy(
        "A release must be approved by someone other than the staff member who requested it."
    ),
    "reason_required": gettext_lazy("Enter a reason."),
    "staff_required": gettext_lazy("Only a staff member can do this."),
}


class StixImportForm(forms.Form):
    bundle = forms.FileField(
        label=gettext_lazy("STIX 2.1 bundle (JSON file)"),
        help_text=gettext_lazy(
            "A bundle exported by another prefecture's security cloud. Nothing is imported if it is invalid."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json,application/stix+json"}),
    )

    def clean_bundle(self):
        upload = self.cleaned_data["bundle"]
        if upload.size > MAX_BUNDLE_BYTES:
            raise forms.ValidationError(_("The file is too large (at most 10 MB)."))
        try:
            return json.loads(upload.read().decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise forms.ValidationError(
                _("The file is not JSON text (UTF-8): %(error)s") % {"error": exc}
            ) from exc


# --- Municipal pages ---------------------------------------------------------------------------------------
@municipality_staff_required(READ_ROLES)
def quarantine_list(request: HttpRequest, municipality_code: str) -> HttpResponse:
    municipality = request.municipality
    files = QuarantinedFile.objects.filter(municipality=municipality).order_by("-created_at", "-id")
    status = request.GET.get("status", "")
    if status in QuarantinedFile.Status.values:
        files = files.filter(status=status)
    else:
        status = ""
    return render(
        request,
        "security/municipal/quarantine_list.html",
        {
            "municipality": municipality,
            "page": _page(request, files),
            "status": status,
            "statuses": QuarantinedFile.Status.choices,
        },
    )


def _quarantine_forms(request: HttpRequest, item: QuarantinedFile, bound=None) -> dict:
    """The decision forms the user may use on the item now, by action; `bound` replaces one of them."""
    if not staff_access(request.user, item.municipality, WRITE_ROLES):
        return {}
    actions = []
    if item.status == QuarantinedFile.Status.QUARANTINED:
        actions = ["request", "delete"]
    elif item.status == QuarantinedFile.Status.RELEASE_REQUESTED:
        actions = ["delete"]
        if item.release_requested_by_id != request.user.pk:
            actions.insert(0, "release")
    forms_by_action = {action: QuarantineDecisionForm(action=action) for action in actions}
    if bound is not None:
        forms_by_action[bound.prefix] = bound
    return forms_by_action


def _quarantine_detail_page(request: HttpRequest, item: QuarantinedFile, bound=None, status: int = 200):
    return render(
        request,
        "security/municipal/quarantine_detail.html",
        {
            "municipality": item.municipality,
            "item": item,
            "decision_forms": _quarantine_forms(request, item, bound),
            "is_requester": item.release_requested_by_id == request.user.pk,
        },
        status=status,
    )


@municipality_staff_required(READ_ROLES)
def quarantine_detail(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    item = get_object_or_404(QuarantinedFile, pk=pk, municipality=request.municipality)
    return _quarantine_detail_page(request, item)


@require_POST
@municipality_staff_required(WRITE_ROLES)
def quarantine_decide(request: HttpRequest, municipality_code: str, pk: int, action: str) -> HttpResponse:
    """Request a release, approve it (four-eyes) or delete: each with a reason, through the services."""
    municipality = request.municipality
    item = get_object_or_404(QuarantinedFile, pk=pk, municipality=municipality)
    if action not in QUARANTINE_ACTIONS:
        raise Http404
    form = QuarantineDecisionForm(request.POST, action=action)
    if form.is_valid():
        try:
            QUARANTINE_ACTIONS[action](item=item, actor=request.user, reason=form.cleaned_data["reason"])
        except security_services.QuarantineError as exc:
            form.add_error(
                None if exc.code != "reason_required" else "reason", QUARANTINE_ERRORS.get(exc.code, str(exc))
            )
        else:
            messages.success(request, QUARANTINE_DONE[action])
            return redirect("security_municipal:quarantine_detail", municipality.code, item.pk)
    item.refresh_from_db()
    return _quarantine_detail_page(request, item, bound=form, status=400)


@municipality_staff_required(ALL_MUNICIPAL_ROLES)
def quarantine_download(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    """The original bytes of a released file, for staff of its municipality only; audited."""
    item = get_object_or_404(
        QuarantinedFile, pk=pk, municipality=request.municipality, status=QuarantinedFile.Status.RELEASED
    )
    try:
        data = security_services.quarantine_download(item=item, actor=request.user)
    except security_services.QuarantineError as exc:
        raise Http404(_("The file is not available.")) from exc
    response = FileResponse(
        io.BytesIO(data),
        as_attachment=True,
        filename=item.original_name,
        content_type="application/octet-stream",
    )
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@municipality_staff_required(READ_ROLES)
def alert_list(request: HttpRequest, municipality_code: str) -> HttpResponse:
    municipality = request.municipality
    return render(
        request,
        "security/municipal/alert_list.html",
        {
            "municipality": municipality,
            "page": _page(request, monitoring.alerts_of_municipality(municipality)),
            "can_write": staff_access(request.user, municipality, WRITE_ROLES),
        },
    )


@require_POST
@municipality_staff_required(WRITE_ROLES)
def alert_open_incident(request: HttpRequest, municipality_code: str) -> HttpResponse:
    municipality = request.municipality
    ids = _selected_ids(request, "alert")
    alerts = list(monitoring.alerts_of_municipality(municipality).filter(pk__in=ids))
    if not alerts or len(alerts) != len(set(ids)):
        messages.error(request, _("Choose one or more alerts of this municipality."))
        return redirect("security_municipal:alerts", municipality.code)
    incident = monitoring.incident_open_from_alerts(
        alerts=alerts, actor=request.user, title=request.POST.get("title", "").strip()[:200]
    )
    messages.success(request, _("The incident was opened."))
    return redirect("security_municipal:incident", municipality.code, incident.pk)


@municipality_staff_required(READ_ROLES)
def incident_list(request: HttpRequest, municipality_code: str) -> HttpResponse:
    municipality = request.municipality
    return render(
        request,
        "security/municipal/incident_list.html",
        {
            "municipality": municipality,
            "page": _page(request, monitoring.incidents_of_municipality(municipality)),
        },
    )


def _incident_of(municipality: Municipality, pk: int) -> Incident:
    return get_object_or_404(monitoring.incidents_of_municipality(municipality), pk=pk)


@municipality_staff_required(READ_ROLES)
def incident_detail(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    municipality = request.municipality
    incident = _incident_of(municipality, pk)
    can_write = staff_access(request.user, municipality, WRITE_ROLES)
    form = None
    if can_write:
        form = IncidentUpdateForm(
            municipality=municipality, initial={"status": incident.status, "owner": incident.owner_id}
        )
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied(_("Only municipal administrators can change an incident."))
        form = IncidentUpdateForm(request.POST, municipality=municipality)
        if form.is_valid():
            try:
                monitoring.incident_update(
                    incident=incident,
                    actor=request.user,
                    status=form.cleaned_data["status"],
                    owner=form.cleaned_data["owner"],
                )
            except ValueError:
                form.add_error(
                    "status",
                    _("The incident cannot go from “%(old)s” to “%(new)s”.")
                    % {
                        "old": incident.get_status_display(),
                        "new": Incident.Status(form.cleaned_data["status"]).label,
                    },
                )
            else:
                messages.success(request, _("The incident was updated."))
                return redirect("security_municipal:incident", municipality.code, incident.pk)
    return render(
        request,
        "security/municipal/incident_detail.html",
        {
            "municipality": municipality,
            "incident": incident,
            "alerts": incident.alerts.order_by("-created_at", "-id"),
            "form": form,
        },
        status=400 if form is not None and form.errors else 200,
    )


@require_POST
@municipality_staff_required(READ_ROLES)
def incidents_export(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The chosen incidents (`incident` fields) as one STIX 2.1 bundle; personal data stripped, audited."""
    municipality = request.municipality
    ids = _selected_ids(request, "incident")
    incidents = list(monitoring.incidents_of_municipality(municipality).filter(pk__in=ids))
    if not incidents or len(incidents) != len(set(ids)):
        messages.error(request, _("Choose one or more incidents of this municipality."))
        return redirect("security_municipal:incidents", municipality.code)
    bundle = monitoring.incidents_export_stix(incidents=incidents, actor=request.user)
    name = f"stix-{municipality.code}-{timezone.localdate():%Y%m%d}.json"
    return _stix_download(bundle, name)


# --- Prefecture-wide pages (platform operators) ------------------------------------------------------------
@operator_required
def prefecture_choose(request: HttpRequest) -> HttpResponse:
    number = request.GET.get("prefecture", "")
    if number.isdigit() and Prefecture.objects.filter(number=int(number)).exists():
        return redirect("security_ops:prefecture", int(number))
    return render(request, "security/ops/choose.html", {"prefectures": Prefecture.objects.order_by("number")})


def _prefecture_page(request: HttpRequest, prefecture: Prefecture, form: StixImportForm, status: int = 200):
    return render(
        request,
        "security/ops/prefecture.html",
        {
            "prefecture": prefecture,
            "alerts": _page(request, monitoring.alerts_of_prefecture(prefecture), "alerts_page"),
            "incidents": _page(request, monitoring.incidents_of_prefecture(prefecture), "incidents_page"),
            "form": form,
        },
        status=status,
    )


@operator_required
def prefecture(request: HttpRequest, number: int) -> HttpResponse:
    pref = get_object_or_404(Prefecture, number=number)
    return _prefecture_page(request, pref, StixImportForm())


@require_POST
@operator_required
def prefecture_import(request: HttpRequest, number: int) -> HttpResponse:
    pref = get_object_or_404(Prefecture, number=number)
    form = StixImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            created = monitoring.incidents_import_stix(
                bundle=form.cleaned_data["bundle"], actor=request.user, prefecture=pref
            )
        except StixError as exc:
            for problem in exc.problems[:20]:
                form.add_error("bundle", problem)
            if len(exc.problems) > 20:
                form.add_error("bundle", _("… and %(n)d more problems.") % {"n": len(exc.problems) - 20})
        except ValueError as exc:
            form.add_error("bundle", str(exc))
        else:
            messages.success(
                request,
                _("%(n)d incident(s) were imported; incidents imported before were skipped.")
                % {"n": len(created)},
            )
            return redirect("security_ops:prefecture", pref.number)
    return _prefecture_page(request, pref, form, status=400)
