"""Request middleware: the zone a process serves, the tenant of a request, and a guard that keeps My
Numbers out of URLs."""

import re
from urllib.parse import unquote

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _

from madoguchi.core.codes import is_valid_local_government_code
from madoguchi.core.redaction import contains_my_number
from madoguchi.core.selectors import municipality_by_code

TENANT_KWARG = "municipality_code"

# The back office: Django admin, /staff/…, /<code>/staff/… and the staff API.
STAFF_PATH = re.compile(r"^/(?:admin|staff|[0-9]{6}/staff|api/v1/staff)(?:/|$)")
# Served in every zone: assets, the health check, the language switch.
COMMON_PATH = re.compile(r"^/(?:static/|healthz$|i18n/)")


class ZoneMiddleware:
    """三層の対策: each process answers only its zone's URL set (anything else is a 404, as if absent).

    - internet: residents, businesses and payment providers — never a back-office URL;
    - lgwan / mynumber: the back office only — never a resident's, business's or provider's page;
    - all (the embedded default): everything.
    One rule for every page and API, present and future: back-office paths carry a `staff` (or `admin`)
    segment. The vault services check the zone again at call time, and an Internet-zone process has no
    vault database at all (settings).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = settings.MADOGUCHI_ZONE
        path = request.path_info
        if not COMMON_PATH.match(path):
            staff = bool(STAFF_PATH.match(path))
            if (staff and not zone.serves_staff) or (not staff and not zone.serves_public):
                raise Http404(_("This service is not available here."))
        return self.get_response(request)


class TenantMiddleware:
    """Resolves `/<6-digit code>/…` to `request.municipality` before the view runs.

    URL patterns capture the code as `municipality_code`; an unknown code or one with a wrong check digit is
    a 404 with a Japanese-first message, so views never see a municipality that does not exist.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.municipality = None
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        code = view_kwargs.get(TENANT_KWARG)
        if code is None:
            return None
        if not is_valid_local_government_code(code):
            raise Http404(
                _("%(code)s is not a valid local government code (its check digit is wrong).")
                % {"code": code}
            )
        municipality = municipality_by_code(code)
        if municipality is None:
            raise Http404(_("There is no municipality with the code %(code)s.") % {"code": code})
        request.municipality = municipality
        return None


class MyNumberInURLGuardMiddleware:
    """Refuses any request whose path or query string carries a valid My Number.

    Such a URL would land in access logs, browser history and referrers; the request is refused before any
    view or log line sees it, and the response does not repeat the URL.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = unquote(request.path) + "?" + unquote(request.META.get("QUERY_STRING", ""))
        if contains_my_number(raw, strict=True):
            return HttpResponseBadRequest(
                _(
                    "A My Number (個人番号) must never be put in a URL. The request was refused and not recorded."
                ),
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class MachineRequestMiddleware:
    """The end of the machine-API stack (`core/handlers.py`): what the full stack's session, authentication,
    tenant and desk middleware leave on a request that carries no cookie — an anonymous user, no municipality
    from the path, no desk session — so that code written for either stack finds the same attributes. It also
    checks the Host header against ALLOWED_HOSTS, as CommonMiddleware does on the full stack (an unknown host is
    a 400, whichever stack the request takes)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.contrib.auth.models import AnonymousUser

        request.get_host()  # raises DisallowedHost for a host not in ALLOWED_HOSTS
        request.user = AnonymousUser()
        request.municipality = None
        request.desk = None
        return self.get_response(request)
