"""The online grant's ASGI front: one-item `POST /api/v1/points/transactions` answered on an event loop, with
group commit, and everything else handed to Django.

Why: a one-item grant through Django's WSGI handler costs about 1 ms of CPU in the handler, the middleware and
the server's threads before and after the service runs, which with group commit (points/coalesce.py) is about
twice what the grant itself costs. Here the HTTP work is the server's (granian, in Rust) and the Python work per
request is a few header checks, one `json.loads`, a place in the committer's queue and one `json.dumps`.

What it answers itself — exactly the requests the WSGI lane (`api.transactions_lane`) answers, with the same
status, body and headers:
- a cookie-less POST to the path, no query string, `Authorization: Bearer …`, `Content-Type: application/json`,
  a body of at most `api._LANE_BODY_LIMIT` bytes holding a JSON list of exactly one object;
- whose key is an active provider's (checked with the batch; otherwise Django answers, 401).

The response headers are Django's own: for each (host, scheme, forwarded scheme, Accept-Language) seen, a probe
request goes once through the machine-API middleware stack (`core/handlers.py`) to a lane that answers an empty
JSON response, and the headers it comes back with (security headers, Content-Language, Vary) are kept as that
request kind's template, with the language the stack chose. When the stack does not let the probe through — an
unknown host (400), plain HTTP where HTTPS is required (a redirect), a zone that does not serve the path (404) —
the request kind is marked as Django's, and Django answers it for real. Any request it does not take, it passes
on unchanged (with the body it read, if any) to the Django ASGI application.

Served by `madoguchi.conf.asgi:application` (granian's ASGI interface; docs/operations.md). Off — every request
passed to Django — when group commit is off (`POINTS_GRANT_COALESCING`, or a database other than PostgreSQL).
"""

from __future__ import annotations

import io
import json
import logging
import sys

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation

from madoguchi.core.handlers import _MachineAPIHandler
from madoguchi.points import api, coalesce

logger = logging.getLogger(__name__)

PATH = "/api/v1/points/transactions"
#: Request kinds (host, scheme, forwarded scheme, Accept-Language) whose header template is kept; beyond that the
#: templates start afresh (a client varying its Accept-Language only costs probes).
MAX_TEMPLATES = 256
_PASS = object()  # the template of a request kind that Django answers itself
# The headers the front reads: a request that repeats one of them (or has no Host) is Django's to judge.
_SINGLE = frozenset(
    {b"authorization", b"content-type", b"content-length", b"host", b"accept-language", b"x-forwarded-proto"}
)


class GrantFront:
    """ASGI application: the online grant on the event loop (see the module docstring), else `django_app`."""

    def __init__(self, django_app) -> None:
        self.django_app = django_app
        self.templates: dict[tuple, object] = {}
        self._probe_handler: _MachineAPIHandler | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope["query_string"]
        ):
            return await self.django_app(scope, receive, send)
        token = host = accept_language = forwarded = None
        json_body = False
        length = -1
        seen: set[bytes] = set()
        for name, value in scope["headers"]:
            if name in _SINGLE:
                if name in seen:  # Django reads a repeated header joined: let it judge the request
                    return await self.django_app(scope, receive, send)
                seen.add(name)
            if name == b"authorization":
                scheme, _sep, rest = value.decode("latin-1").partition(" ")
                token = rest if scheme.lower() == "bearer" else None
            elif name == b"content-type":
                json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
            elif name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"host":
                host = value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"x-forwarded-proto":
                forwarded = value
            elif name == b"cookie":
                return await self.django_app(scope, receive, send)
        if token is None or host is None or not json_body or not 0 <= length <= api._LANE_BODY_LIMIT:
            return await self.django_app(scope, receive, send)
        coalescer = coalesce.active()
        if coalescer is None:
            return await self.django_app(scope, receive, send)
        template = self._template(scope, host, accept_language, forwarded)
        if template is _PASS:
            return await self.django_app(scope, receive, send)
        body, more = b"", True
        while more and len(body) <= api._LANE_BODY_LIMIT:
            message = await receive()
            if message["type"] != "http.request":  # the client has gone
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if more or len(body) > api._LANE_BODY_LIMIT:
            return await self.django_app(scope, _replay(body, more, receive), send)
        try:
            items = json.loads(body)
        except Exception:  # noqa: BLE001 — not JSON, too deep: Django gives its own answer
            items = None
        if type(items) is not list or len(items) != 1 or type(items[0]) is not dict:
            return await self.django_app(scope, _replay(body, False, receive), send)
        language, headers = template  # type: ignore[misc]
        try:
            recorded = await coalescer.submit_async(token, items[0], language)
        except Exception:
            logger.exception("online grant failed")
            # Django's own answer to an error (DEBUG off), with the stack's headers.
            error_headers = [(b"content-type", b"text/html; charset=utf-8"),
                             *((k, v) for k, v in headers if k != b"content-type")]  # fmt: skip
            return await _send(send, 500, error_headers, b"<h1>Server Error (500)</h1>")
        if recorded is None:  # not an active provider's key: Django answers (401)
            return await self.django_app(scope, _replay(body, False, receive), send)
        out = recorded[1].as_dict()
        out.setdefault("message", None)  # as the WSGI lane and the router's response schema give it
        payload = json.dumps({"items": [out]}).encode()
        await _send(send, 200, [*headers, (b"content-length", str(len(payload)).encode())], payload)

    def _template(self, scope, host, accept_language, forwarded):
        if (
            settings.USE_X_FORWARDED_HOST or settings.USE_X_FORWARDED_PORT
        ):  # other headers would count: Django's
            return _PASS
        key = (
            host,
            scope.get("scheme", "http"),
            forwarded,
            accept_language,
            tuple(scope.get("server") or ()),
        )
        template = self.templates.get(key)
        if template is None:
            if len(self.templates) >= MAX_TEMPLATES:
                self.templates.clear()
            template = self.templates[key] = self._probe(scope, host, accept_language, forwarded)
        return template

    def _probe(self, scope, host, accept_language, forwarded):
        """(language, headers) that the machine-API stack gives this kind of request, or _PASS."""
        seen: dict = {}

        def lane(request):
            seen["language"] = translation.get_language()
            return HttpResponse(b"", content_type=api._LANE_CONTENT_TYPE)

        if self._probe_handler is None:
            self._probe_handler = _MachineAPIHandler(lanes={PATH: lane})
        self._probe_handler.lanes[PATH] = lane
        server_name, server_port = (scope.get("server") or ("localhost", 80))[:2]
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": PATH, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": str(server_name), "SERVER_PORT": str(server_port), "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr, "wsgi.url_scheme": scope.get("scheme", "http"), "wsgi.version": (1, 0),
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }  # fmt: skip
        for name, value in (("HTTP_HOST", host), ("HTTP_ACCEPT_LANGUAGE", accept_language),
                            ("HTTP_X_FORWARDED_PROTO", forwarded)):  # fmt: skip
            if value is not None:
                environ[name] = value.decode("latin-1")
        status: list = []
        response = self._probe_handler(environ, lambda s, h, exc_info=None: status.append((s, h)))
        response.close()
        if "language" not in seen or not status or not status[0][0].startswith("200"):
            return _PASS
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in status[0][1]
                   if name.lower() != "content-length"]  # fmt: skip
        return seen["language"], headers

    async def _lifespan(self, receive, send) -> None:
        # Django's ASGI handler refuses lifespan scopes; there is nothing to start or stop here.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _replay(body: bytes, more: bool, receive):
    """A `receive` that gives the body already read first, then goes on reading from the client."""
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again


async def _send(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
