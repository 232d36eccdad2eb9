"""The provider callback's own HTTP transport (providers._post) against a small HTTP/1.1 server on loopback:
one kept-alive connection per thread and host, a new one when the server closed it, and every failure — a
refused connection, a timeout, an error status, an answer that is not JSON — "not confirmed", never accepted.
The other tests route the callback through Django's test client (conftest.py); these put the real transport
back."""

import http.server
import json
import socket
import struct
import threading
import time
from types import SimpleNamespace

import pytest

from madoguchi.points import providers

SECRET = "transport-secret"  # noqa: S105


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the answer says otherwise

    def setup(self):
        super().setup()
        self.server.connections += 1

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, dict(self.headers), body))
        status, answer, close, delay = self.server.script(body)
        if status == "reset":  # read the request, then reset the connection without a byte of answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        if close:
            self.close_connection = True

    def log_message(self, *args):
        pass


def _confirmed(body):
    return 200, b'{"confirmed": true}', False, 0


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(providers, "transport", providers._post)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.connections, httpd.seen, httpd.script = 0, [], _confirmed
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    providers._local.__dict__.clear()
    yield httpd
    providers._local.__dict__.clear()
    httpd.shutdown()
    httpd.server_close()


def _confirm(url: str, account: str = "acct-1") -> providers.Confirmation:
    provider = SimpleNamespace(callback_url=url, callback_secret=SECRET)
    return providers.confirm_account(provider=provider, campaign=SimpleNamespace(code="c-1"), account=account,
                                     security_code="123")  # fmt: skip


def _url(httpd, path: str = "/p/confirm?x=1") -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def test_the_signed_body_as_before_over_one_kept_alive_connection(server):
    assert _confirm(_url(server), "アカウント") == providers.Confirmation(True)
    assert _confirm(_url(server), "acct-2").confirmed
    assert server.connections == 1
    path, headers, body = server.seen[0]
    assert path == "/p/confirm?x=1"
    assert headers["Content-Type"] == "application/json"
    assert headers[providers.SIGNATURE_HEADER] == providers.sign(body, SECRET)
    sent = json.loads(body)
    assert sent["account"] == "アカウント" and sent["security_code"] == "123" and sent["campaign"] == "c-1"
    assert len(sent["nonce"]) == 32 and sent["nonce"] != json.loads(server.seen[1][2])["nonce"]


def test_one_connection_per_thread(server):
    _confirm(_url(server))
    other = threading.Thread(target=lambda: _confirm(_url(server)))
    other.start()
    other.join()
    _confirm(_url(server))
    assert server.connections == 2


def test_a_connection_the_server_closes_is_not_reused(server):
    server.script = lambda body: (200, b'{"confirmed": true}', True, 0)  # "Connection: close"
    assert _confirm(_url(server)).confirmed and _confirm(_url(server)).confirmed
    assert server.connections == 2


def test_a_kept_alive_connection_dropped_by_the_server_is_replaced(server, monkeypatch):
    assert _confirm(_url(server)).confirmed
    conn = next(iter(providers._local.connections.values()))
    conn.sock.shutdown(1)  # as if the server had timed the idle connection out: seen before sending
    assert _confirm(_url(server)).confirmed
    # Closed just as it is reused (not seen before sending): the request goes once more on a new connection.
    conn = next(iter(providers._local.connections.values()))
    monkeypatch.setattr(providers, "_dropped", lambda sock: False)
    conn.sock.shutdown(2)
    assert _confirm(_url(server)).confirmed
    assert server.connections == 3


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (
            lambda body: (500, b'{"confirmed": true}', False, 0),
            "refused",
        ),  # an error status, whatever it says
        (lambda body: (302, b'{"confirmed": true}', False, 0), "refused"),  # redirects are not followed
        (lambda body: (200, b"<html>ok</html>", False, 0), "unreachable"),  # not JSON
        (lambda body: (200, b'{"confirmed": "yes"}', False, 0), "refused"),
        (
            lambda body: (200, b'{"confirmed": false, "reason": "no_such_account"}', False, 0),
            "no_such_account",
        ),
        (lambda body: (200, b'{"confirmed": true}', False, 0.5), "unreachable"),  # slower than the timeout
    ],
)
def test_anything_but_a_confirmation_is_not_confirmed(server, monkeypatch, script, reason):
    monkeypatch.setattr(providers, "TIMEOUT", (1.0, 0.2))
    server.script = script
    assert _confirm(_url(server)) == providers.Confirmation(False, reason)
    # The next callback works normally (a timed-out connection is never reused: its answer may still come).
    server.script = _confirmed
    assert _confirm(_url(server)).confirmed


def test_unreachable_or_malformed_urls_are_not_confirmed(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    for url in (f"http://127.0.0.1:{port}/gone", "ftp://127.0.0.1/x", "not a url", "http:///no-host"):
        assert _confirm(url) == providers.Confirmation(False, "unreachable"), url


def test_a_proxied_host_goes_through_requests(server, monkeypatch):
    sent = []

    class Session:
        def post(self, url, **kwargs):
            sent.append((url, kwargs))
            return SimpleNamespace(status_code=200, content=b'{"confirmed": true}')

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setattr(providers, "_session", Session)
    providers._proxied.cache_clear()
    try:
        assert _confirm(_url(server)).confirmed
        assert sent[0][0] == _url(server) and sent[0][1]["allow_redirects"] is False
        assert server.connections == 0
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        providers._proxied.cache_clear()
        assert _confirm(_url(server)).confirmed and server.connections == 1 and len(sent) == 1
    finally:
        providers._proxied.cache_clear()


def test_the_path_is_quoted_as_requests_quotes_it(server):
    assert _confirm(_url(server, "/p/確認 it?a=b c")).confirmed
    assert server.seen[0][0] == "/p/%E7%A2%BA%E8%AA%8D%20it?a=b%20c"


def test_credentials_in_the_url_go_through_requests(server, monkeypatch):
    sent = []

    class Session:
        def post(self, url, **kwargs):
            sent.append(url)
            return SimpleNamespace(status_code=200, content=b'{"confirmed": true}')

    monkeypatch.setattr(providers, "_session", Session)
    url = f"http://user:pw@127.0.0.1:{server.server_address[1]}/p/confirm"
    assert _confirm(url).confirmed and sent == [url] and server.connections == 0


def test_a_reset_while_waiting_for_the_answer_is_not_sent_again(server):
    """The provider may have acted on a request whose answer never came: it is not repeated (the application is
    refused as unreachable), unlike a request that could not be sent."""
    assert _confirm(_url(server)).confirmed
    server.script = lambda body: ("reset", b"", True, 0)
    answer = _confirm(_url(server))
    assert not answer.confirmed and answer.reason == "unreachable"
    assert len(server.seen) == 2  # the first call and the reset one: no second try
    server.script = _confirmed
    assert _confirm(_url(server)).confirmed  # on a new connection
