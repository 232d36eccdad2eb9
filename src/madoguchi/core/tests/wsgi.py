"""Calling the project's WSGI entry point (madoguchi.conf.wsgi.application) as a server would, in tests."""

import io
import json
import sys

from madoguchi.conf.wsgi import application


def call(path, body=None, method="POST", **headers):
    data = json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
               "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
               "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)),
               "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
               "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
               "wsgi.run_once": False, **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}  # fmt: skip
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(response_headers)

    response = application(environ, start_response)
    seen["body"] = b"".join(response)
    response.close()
    seen["handler"] = application.handler_for(environ)
    return seen
