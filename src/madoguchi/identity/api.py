"""Staff API (session sign-in). Every endpoint that names a municipality checks the caller's role in it."""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from madoguchi.core.selectors import audit_records_of, municipality_by_code
from madoguchi.identity import selectors
from madoguchi.identity.api_auth import VerifiedStaffSession
from madoguchi.identity.models import StaffRole

router = Router(tags=["staff"], auth=VerifiedStaffSession())
AUDIT_ROLES = {StaffRole.Role.MUNICIPAL_ADMIN, StaffRole.Role.AUDITOR}


class RoleOut(Schema):
    role: str
    municipality_code: str | None


class MeOut(Schema):
    username: str
    display_name: str
    platform_operator: bool
    roles: list[RoleOut]


class AuditRecordOut(Schema):
    seq: int
    created_at: datetime
    actor_type: str
    actor_label: str
    action: str
    target_type: str
    target_id: str
    details: dict
    hash: str


@router.get("/me", response=MeOut, summary="The signed-in staff member and their roles")
def me(request):
    user = request.user
    return {
        "username": user.get_username(),
        "display_name": user.display_name,
        "platform_operator": selectors.is_platform_operator(user),
        "roles": [
            {"role": r.role, "municipality_code": r.municipality.code if r.municipality else None}
            for r in selectors.staff_role_list(user)
        ],
    }


@router.get(
    "/municipalities/{code}/audit-records",
    response=list[AuditRecordOut],
    summary="A municipality's audit stream, newest first (administrators and auditors)",
)
@paginate(PageNumberPagination, page_size=100)
def audit_records(request, code: str):
    municipality = municipality_by_code(code)
    if municipality is None:
        raise Http404(_("There is no municipality with the code %(code)s.") % {"code": code})
    if not selectors.staff_access(request.user, municipality, AUDIT_ROLES):
        raise PermissionDenied(
            _("You do not hold a staff role in %(name)s that allows this.") % {"name": municipality.full_name}
        )
    return audit_records_of(municipality)
