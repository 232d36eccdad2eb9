"""The JSON API under /api/v1/ (django-ninja). OpenAPI at /api/v1/openapi.json, interactive docs at
/api/v1/docs (Swagger UI served from the ninja package's own static files: no CDN)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from madoguchi.core.api import router as public_bodies_router
from madoguchi.identity.api import router as staff_router
from madoguchi.identity.jpki_api import auth_router, linkage_router, resident_router
from madoguchi.points.api import router as points_router
from madoguchi.procedures.api import router as procedures_router

api = NinjaAPI(
    title="Madoguchi API",
    version="1",
    description="窓口 — public bodies, staff and (in later releases) programme APIs. Errors are "
    '`{"code": "...", "message": "..."}` with a Japanese-first message.',
    urls_namespace="api-v1",
)


def _error(request, code: str, message: str, status: int):
    return api.create_response(request, {"code": code, "message": str(message)}, status=status)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, "not_found", exc.args[0] if exc.args else "見つかりません。", 404)


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return _error(request, "forbidden", exc.args[0] if exc.args else "権限がありません。", 403)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return _error(request, "unauthenticated", "サインインが必要です。(Sign-in required.)", 401)


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    return _error(request, "invalid", " ".join(exc.messages), 422)


api.add_router("/public-bodies/", public_bodies_router)
api.add_router("/staff/", staff_router)
api.add_router("/staff/", linkage_router)
api.add_router("/auth/", auth_router)
api.add_router("/resident/", resident_router)
api.add_router("/points/", points_router)
api.add_router("/procedures/", procedures_router)
