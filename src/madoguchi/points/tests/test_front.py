"""The online grant's ASGI front (points/front.py, `madoguchi.conf.asgi:application`): a one-item grant is
answered on the event loop with group commit, with the status, body and headers the WSGI entry point gives;
every other request is Django's, answered as through WSGI."""

import asyncio
import json
import re

import pytest
from django.db import connection
from django.test import override_settings

from madoguchi.conf.asgi import application
from madoguchi.conf.wsgi import application as wsgi_application
from madoguchi.core.handlers import ASGIDispatcher, Dispatcher
from madoguchi.core.tests.wsgi import call
from madoguchi.points import api, coalesce
from madoguchi.points.front import GrantFront
from madoguchi.points.models import PointAccount, ProviderTransaction
from madoguchi.points.tests.test_flow import tx

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_kept_connections(monkeypatch):
    """As the ASGI entry point is deployed (conf/asgi.py): Django's per-request threads keep no connection."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


PATH = "/api/v1/points/transactions"
# Headers the servers add themselves (WSGI: none here; ASGI: the body's length) are not compared.
_FRAMING = {"content-length"}


def asgi(app, path, body=None, *, raw=None, method="POST", content_type="application/json", query=b"",
         repeated=(), **headers):  # fmt: skip
    """One request through an ASGI application, as a server would make it; `repeated`: (name, value) pairs
    sent after the others (a header given twice), `host=None` sends no Host header."""
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
    sent = {"host": "testserver", "content-type": content_type, "content-length": str(len(data))}
    sent.update({k.replace("_", "-").lower(): v for k, v in headers.items()})
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(k.encode(), v.encode()) for k, v in [*sent.items(), *repeated] if v is not None],
             "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80)}  # fmt: skip
    messages, delivered = [], []

    async def receive():
        if not delivered:
            delivered.append(True)
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected (Django listens for a disconnect meanwhile)

    async def send(message):
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = messages[0]
    return {
        "status": start["status"],
        "headers": {
            k.decode().lower(): v.decode() for k, v in start["headers"] if k.decode().lower() not in _FRAMING
        },
        "body": b"".join(m.get("body", b"") for m in messages[1:]),
    }


def wsgi(path, body=None, **kwargs):
    seen = call(path, body, app=wsgi_application, **kwargs)
    seen["headers"] = {k.lower(): v for k, v in seen["headers"].items() if k.lower() not in _FRAMING}
    return seen


def same(a, b):
    def body(seen):  # an HTML error page's language form carries a fresh CSRF token each time
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", seen["body"])

    assert (a["status"], body(a), a["headers"]) == (b["status"], body(b), b["headers"])


@pytest.fixture
def grouped():
    """Group commit on (PostgreSQL); the committer stopped after the test, closing its connection."""
    if connection.vendor != "postgresql":
        pytest.skip("group commit runs on PostgreSQL only")
    with override_settings(POINTS_GRANT_COALESCING=True):
        coalescer = coalesce.active()
        coalescer.items = coalescer.batches = 0  # this process's coalescer: counted from this test on
        yield coalescer
        coalescer.stop()


def test_a_grant_through_the_front_reads_as_through_wsgi(key, grouped):
    item = tx("f1", 1000)
    first = asgi(application, PATH, [item], authorization=key)
    assert first["status"] == 200
    assert json.loads(first["body"]) == {
        "items": [{"id": "f1", "status": "granted", "granted": 250, "remaining": 4750, "message": None}]
    }
    assert grouped.items == 1  # answered by the front, through the committer
    # The same item through the WSGI entry point: the stored answer, byte for byte, with the same headers.
    same(first, wsgi(PATH, [item], authorization=key))
    assert first["headers"]["content-type"] == "application/json; charset=utf-8"
    assert first["headers"]["x-content-type-options"] == "nosniff"
    assert PointAccount.objects.get(service_account="acct-1").granted == 250
    assert ProviderTransaction.objects.count() == 1


def test_messages_come_in_the_requests_language_with_the_same_headers(key, grouped):
    item = tx("f2", 1000)
    asgi(application, PATH, [item], authorization=key)
    other = {**item, "amount": 2000}
    for language in ("en", "ja", None):
        extra = {"accept_language": language} if language else {}
        by_front = asgi(application, PATH, [other], authorization=key, **extra)
        by_wsgi = wsgi(PATH, [other], authorization=key, **extra)
        same(by_front, by_wsgi)
        message = json.loads(by_front["body"])["items"][0]["message"]
        assert message.isascii() == (language == "en")
        assert by_front["headers"]["content-language"] == (language or "ja")
    assert grouped.items == 4


@pytest.mark.parametrize(
    "case",
    ["two items", "unknown key", "a cookie", "not JSON", "large body", "query string", "unknown host", "GET"],
)
def test_everything_else_is_answered_by_django_as_through_wsgi(key, grouped, case):
    items, kwargs, query = [tx("e1", 1000)], {"authorization": key}, b""
    if case == "two items":
        items = [tx("e1", 1000), tx("e2", 1000, account="acct-2")]
    elif case == "unknown key":
        kwargs["authorization"] = "Bearer mpk_unknown_key"
    elif case == "a cookie":
        kwargs["cookie"] = "lang=en"
    elif case == "not JSON":
        kwargs["raw"] = b"[{not json"
    elif case == "large body":
        items = [{**tx("e1", 1000), "padding": "x" * 5000}]
    elif case == "query string":
        query = b"x=1"
    elif case == "unknown host":
        kwargs["host"] = "evil.example"
    elif case == "GET":
        kwargs["method"] = "GET"
    by_front = asgi(application, PATH, items, query=query, **kwargs)
    if query:
        by_wsgi = call(PATH + "?x=1", items, app=_QueryApp(), **kwargs)
        by_wsgi["headers"] = {
            k.lower(): v for k, v in by_wsgi["headers"].items() if k.lower() not in _FRAMING
        }
    else:
        by_wsgi = wsgi(PATH, items, **kwargs)  # a replay of whatever the front recorded
    same(by_front, by_wsgi)
    assert grouped.items == 0  # none of them went through the committer


def test_on_a_threaded_wsgi_server_the_lane_groups_too(key, grouped):
    item = tx("w1", 1000)
    threaded = call(PATH, [item], app=_Threaded(), authorization=key)
    assert grouped.items == 1  # through the committer
    threaded["headers"] = {k.lower(): v for k, v in threaded["headers"].items()}
    same(threaded, wsgi(PATH, [item], authorization=key))  # a single-threaded worker replays the same answer
    assert grouped.items == 1
    assert json.loads(threaded["body"])["items"][0]["granted"] == 250


@pytest.mark.parametrize("name", ["host", "authorization", "x-forwarded-proto"])
def test_a_repeated_header_or_no_host_is_for_django_to_judge(key, grouped, name):
    if name == "host":  # an unknown host first, an allowed one after it
        first, again = {"host": "evil.example", "authorization": key}, ("host", "testserver")
    elif name == "authorization":  # a junk key first, the valid one after it
        first, again = {"authorization": "Bearer mpk_junk_junk"}, ("authorization", key)
    else:
        first, again = {"authorization": key, "x_forwarded_proto": "http"}, ("x-forwarded-proto", "https")
    by_front = asgi(application, PATH, [tx("r1", 1000)], repeated=[again], **first)
    by_django = asgi(application.django_app, PATH, [tx("r1", 1000)], repeated=[again], **first)
    assert grouped.items == 0  # the front took none of them
    assert by_front["status"] == by_django["status"]
    if name != "x-forwarded-proto":  # Django refuses these; the other is Django's to grant or not
        assert by_front["status"] in (400, 401)


def test_a_request_without_a_host_is_djangos(key, grouped):
    by_front = asgi(application, PATH, [tx("h1", 1000)], authorization=key, host=None)
    assert grouped.items == 0  # Django judged it (by the server's name, an allowed host here) and granted it
    assert json.loads(by_front["body"])["items"][0]["status"] == "granted"


class _Threaded:
    """The WSGI entry point as a threaded server (gunicorn gthread, granian's blocking threads) calls it."""

    def __call__(self, environ, start_response):
        environ["wsgi.multithread"] = True
        return wsgi_application(environ, start_response)

    def handler_for(self, environ):
        return wsgi_application.handler_for(environ)


class _QueryApp:
    """The WSGI entry point with a query string (the `call` helper sends none)."""

    def __call__(self, environ, start_response):
        environ["PATH_INFO"], environ["QUERY_STRING"] = PATH, "x=1"
        return wsgi_application(environ, start_response)

    def handler_for(self, environ):
        return wsgi_application.handler_for(environ)


def test_where_https_is_required_a_plain_request_is_djangos_redirect(key, grouped, settings):
    settings.SECURE_SSL_REDIRECT = True
    # Entry points built now: Django's middleware reads the setting when it is loaded.
    front = GrantFront(ASGIDispatcher())
    by_front = asgi(front, PATH, [tx("s1", 1000)], authorization=key)
    assert by_front["status"] == 301
    by_wsgi = call(
        PATH, [tx("s1", 1000)], app=Dispatcher(lanes={PATH: api.transactions_lane}), authorization=key
    )
    assert (by_wsgi["status"], by_wsgi["headers"]["Location"]) == (301, by_front["headers"]["location"])
    assert grouped.items == 0 and not ProviderTransaction.objects.exists()


def test_without_group_commit_the_front_hands_everything_to_django(key, settings):
    settings.POINTS_GRANT_COALESCING = False
    item = tx("d1", 1000)
    by_front = asgi(application, PATH, [item], authorization=key)
    assert json.loads(by_front["body"])["items"][0]["status"] == "granted"
    same(by_front, wsgi(PATH, [item], authorization=key))


def test_the_front_takes_part_in_the_servers_lifespan():
    received = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(received)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(application({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
