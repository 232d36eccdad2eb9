"""The WSGI entry point: a second, shorter middleware stack for the machine APIs.

The e-application submissions API (anonymous JSON) and the payment providers' API (an API key in a header) are
the busiest endpoints and never use a session, a CSRF cookie, messages, OTP, the tenant from the path or desk
mode. Running the full stack for them cost about a fifth of the CPU of a filing (bench/procedures_submit.py).
Requests to exactly those paths **that carry no Cookie header** go through `MACHINE_API_MIDDLEWARE` (security
headers, the My-Number-in-URL guard, the zone rule, the language, then `MachineRequestMiddleware`); everything
else — including a browser with a session calling the same URL — goes through `settings.MIDDLEWARE` as before.
"""

import re

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

MACHINE_API_PATH = re.compile(
    r"^/api/v1/(?:procedures/municipalities/[^/]+/procedures/[^/]+/submissions"
    r"|points/(?:transactions|refunds|statements(?:/[0-9]+/claim)?))$"
)
MACHINE_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "madoguchi.core.middleware.MyNumberInURLGuardMiddleware",
    "madoguchi.core.middleware.ZoneMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "madoguchi.core.middleware.MachineRequestMiddleware",
]


class _MachineAPIHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE; this runs once, while the process starts.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = MACHINE_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class Dispatcher:
    """WSGI application: the machine-API handler for cookie-less requests to `MACHINE_API_PATH`, else Django's
    full handler."""

    def __init__(self):
        self.full = WSGIHandler()
        self.machine = _MachineAPIHandler()

    def handler_for(self, environ) -> WSGIHandler:
        if "HTTP_COOKIE" not in environ and MACHINE_API_PATH.match(environ.get("PATH_INFO", "")):
            return self.machine
        return self.full

    def __call__(self, environ, start_response):
        return self.handler_for(environ)(environ, start_response)
