"""Calling the project's WSGI entry point (madoguchi.conf.wsgi.application) as a server would, in tests."""

import io
import json
import sys

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from madoguchi.conf.wsgi import application


def call(
    path,
    body=None,
    method="POST",
    *,
    app=None,
    raw: bytes | None = None,
    content_type="application/json",
    **headers,
):
    """One request through `app` (default: the project's entry point); `raw` is sent as the body as it is."""
    app = app or application
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
               "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
               "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(data)),
               "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
               "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
               "wsgi.run_once": False, **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}  # fmt: skip
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(response_headers)

    # As Django's test client does: the request signals must not close the test's database connection (on
    # PostgreSQL it holds the test's transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = app(environ, start_response)
        seen["body"] = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    seen["handler"] = app.handler_for(environ)
    return seen
