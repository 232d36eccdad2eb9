"""The WSGI entry point: a second, shorter middleware stack for the machine APIs.

The e-application submissions API (anonymous JSON) and the payment providers' API (an API key in a header) are
the busiest endpoints and never use a session, a CSRF cookie, messages, OTP, the tenant from the path or desk
mode. Running the full stack for them cost about a fifth of the CPU of a filing (bench/procedures_submit.py).
Requests to exactly those paths **that carry no Cookie header** go through `MACHINE_API_MIDDLEWARE` (security
headers, the My-Number-in-URL guard, the zone rule, the language, then `MachineRequestMiddleware`); everything
else — including a browser with a session calling the same URL — goes through `settings.MIDDLEWARE` as before.

Lanes: on the short stack, an app may answer the commonest request of one path itself, before the URL is
resolved (`Dispatcher(lanes={path: function})`; the function takes the request and returns a response, or None
to let the URL resolver and the view answer as usual). The middleware runs around a lane as around a view. The
online point grant uses one (`points.api.transactions_lane`).
"""

import re
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler

# The sandbox provider's account-confirmation callback (sandboxpay, development and benchmarks only) is a
# provider's machine endpoint too: a signed, cookie-less POST answered for every application of a launch rush.
MACHINE_API_PATH = re.compile(
    r"^/(?:api/v1/(?:procedures/municipalities/[^/]+/procedures/[^/]+/submissions"
    r"|points/(?:transactions|refunds|statements(?:/[0-9]+/claim)?))"
    r"|sandbox-pay/[-a-zA-Z0-9_]+/confirm)$"
)
MACHINE_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "madoguchi.core.middleware.MyNumberInURLGuardMiddleware",
    "madoguchi.core.middleware.ZoneMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "madoguchi.core.middleware.MachineRequestMiddleware",
]


class _MachineStack:
    """A Django handler whose middleware chain is `MACHINE_API_MIDDLEWARE` instead of settings.MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE; this runs once, while the process starts.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = MACHINE_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)  # type: ignore[misc]
        finally:
            settings.MIDDLEWARE = full


class _MachineAPIHandler(_MachineStack, WSGIHandler):
    def __init__(self, lanes: dict[str, Callable] | None = None):
        self.lanes = dict(lanes or {})
        super().__init__()

    def _get_response(self, request):
        lane = self.lanes.get(request.path_info)
        if lane is not None:
            response = lane(request)
            if response is not None:
                return response
        return super()._get_response(request)


class Dispatcher:
    """WSGI application: the machine-API handler for cookie-less requests to `MACHINE_API_PATH`, else Django's
    full handler."""

    def __init__(self, lanes: dict[str, Callable] | None = None):
        for path in lanes or {}:
            if not MACHINE_API_PATH.match(path):
                raise ValueError(f"a lane must be a machine-API path: {path}")
        self.full = WSGIHandler()
        self.machine = _MachineAPIHandler(lanes)

    def handler_for(self, environ) -> WSGIHandler:
        if "HTTP_COOKIE" not in environ and MACHINE_API_PATH.match(environ.get("PATH_INFO", "")):
            return self.machine
        return self.full

    def __call__(self, environ, start_response):
        return self.handler_for(environ)(environ, start_response)


class _MachineAPIASGIHandler(_MachineStack, ASGIHandler):
    pass


class ASGIDispatcher:
    """ASGI application: as `Dispatcher`, the machine-API stack for cookie-less requests to `MACHINE_API_PATH`
    (without lanes: the ASGI entry point answers the online grant in front of it, points/front.py), else Django's
    full handler; so a request gets the same answer and headers over either interface."""

    def __init__(self):
        self.full = ASGIHandler()
        self.machine = _MachineAPIASGIHandler()

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and MACHINE_API_PATH.match(scope["path"])
            and not any(name == b"cookie" for name, _value in scope["headers"])
        ):
            return await self.machine(scope, receive, send)
        return await self.full(scope, receive, send)
