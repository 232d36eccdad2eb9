"""Health check and error pages."""

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when both databases answer, 503 naming the one that does not. No details beyond that."""
    status = {}
    aliases = ("default", "vault") if settings.MADOGUCHI_ZONE.may_read_vault else ("default",)
    for alias in aliases:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            status[alias] = "ok"
        except Exception:
            status[alias] = "unavailable"
    ok = all(v == "ok" for v in status.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "databases": status}, status=200 if ok else 503
    )


def _error(request: HttpRequest, template: str, status: int, exception=None) -> HttpResponse:
    message = ""
    if exception is not None and exception.args and isinstance(exception.args[0], str):
        message = exception.args[0]
    return render(request, template, {"message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, "web/errors/400.html", 400, None)


def permission_denied(request, exception=None):
    return _error(request, "web/errors/403.html", 403, exception)


def page_not_found(request, exception=None):
    return _error(request, "web/errors/404.html", 404, exception)


def server_error(request):
    return render(request, "web/errors/500.html", status=500)
