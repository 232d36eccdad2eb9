"""Staff back office: sign-in, the municipalities a staff member serves, and each one's dashboard.

Every view that takes a municipality code checks the acting user's role in that municipality through
identity.selectors: a clerk of one municipality gets 403 for every page of another.
"""

import csv
import io
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from madoguchi.core.selectors import audit_records_of
from madoguchi.identity import selectors as staff_selectors
from madoguchi.identity import staff_auth
from madoguchi.identity.decorators import municipality_staff_required, verified_staff_required
from madoguchi.identity.models import StaffRole
from madoguchi.identity.staff_auth import StaffAuthenticationForm

Role = StaffRole.Role
AUDIT_ROLES = {Role.MUNICIPAL_ADMIN, Role.AUDITOR}


class StaffLoginView(auth_views.LoginView):
    """Step 1: username and password (with lockout). Step 2 is always the TOTP code (staff_mfa)."""

    template_name = "web/staff/login.html"
    authentication_form = StaffAuthenticationForm
    extra_context = {"title": gettext_lazy("Staff sign-in")}

    def get_success_url(self):
        return f"{reverse('web:staff_mfa')}?{urlencode({'next': self.get_redirect_url() or reverse('web:staff_home')})}"


class StaffLogoutView(auth_views.LogoutView):
    pass


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("web:staff_home")


@login_required
@never_cache
def staff_mfa(request: HttpRequest) -> HttpResponse:
    """Step 2 of staff sign-in: enter the authenticator's code, or enrol an authenticator the first time."""
    user = request.user
    if user.is_verified():
        return redirect(_safe_next(request))
    enrolling = staff_auth.confirmed_device(user) is None
    form = staff_auth.TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = staff_auth.mfa_confirm if enrolling else staff_auth.mfa_verify
        if check(request=request, user=user, token=form.cleaned_data["token"]):
            return redirect(_safe_next(request))
        form.add_error("token", _("The code is not correct (or sign-in is locked after too many attempts)."))
    context = {"form": form, "enrolling": enrolling, "next": _safe_next(request)}
    if enrolling:
        device = staff_auth.mfa_enrolment_device(user)
        buffer = io.BytesIO()
        segno.make(device.config_url, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True,
                                                      title=_("QR code for your authenticator app"))  # fmt: skip
        context |= {"qr_svg": buffer.getvalue().decode(), "secret": b32encode(device.bin_key).decode()}
    return render(request, "web/staff/mfa.html", context)


@verified_staff_required
def staff_home(request: HttpRequest) -> HttpResponse:
    """/staff/: the municipalities this staff member serves (sign-in and the TOTP step first)."""
    return render(
        request,
        "web/staff/home.html",
        {
            "municipalities": staff_selectors.staff_municipalities(request.user),
            "roles": staff_selectors.staff_role_list(request.user),
            "is_operator": staff_selectors.is_platform_operator(request.user),
        },
    )


@municipality_staff_required()
def municipality_dashboard(request: HttpRequest, municipality_code: str) -> HttpResponse:
    municipality = request.municipality
    roles = staff_selectors.staff_roles_in(request.user, municipality)
    can_audit = bool(roles & AUDIT_ROLES)
    recent = audit_records_of(municipality)[:10] if can_audit else []
    return render(
        request,
        "web/staff/dashboard.html",
        {
            "municipality": municipality,
            "roles": [Role(r).label for r in sorted(roles)],
            "can_audit": can_audit,
            "recent_audit": recent,
        },
    )


AUDIT_CSV_COLUMNS = [
    "seq",
    "created_at",
    "actor_type",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "hash",
]


class _Echo:
    def write(self, value):
        return value


@municipality_staff_required(AUDIT_ROLES)
def audit_log(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The municipality's audit stream, newest first; `?format=csv` streams all of it (UTF-8 with BOM so
    that Excel opens the Japanese correctly)."""
    records = audit_records_of(request.municipality)
    action = request.GET.get("action", "").strip()
    if action:
        records = records.filter(action__startswith=action)
    if request.GET.get("format") == "csv":
        writer = csv.writer(_Echo())

        def rows():
            yield "\ufeff"
            yield writer.writerow(AUDIT_CSV_COLUMNS)
            for r in records.values_list(*AUDIT_CSV_COLUMNS).iterator(chunk_size=2000):
                row = list(r)
                row[1] = timezone.localtime(row[1]).isoformat()
                yield writer.writerow(row)

        filename = f"audit-{request.municipality.code}-{timezone.localdate():%Y%m%d}.csv"
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/staff/audit_log.html",
        {"municipality": request.municipality, "page": page, "action": action},
    )
