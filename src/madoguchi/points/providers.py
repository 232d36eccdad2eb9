"""The adapter to payment providers: the account-confirmation callback, over HTTP for real.

The platform POSTs `{"account", "security_code", "campaign", "nonce"}` as JSON to the provider's callback URL,
signed with HMAC-SHA-256 of the body under the provider's callback secret (header X-Madoguchi-Signature:
sha256=<hex>), and accepts the application only on `{"confirmed": true}` with status 200. A timeout, an
error status or anything else counts as "not confirmed": the application is refused, never accepted blind.
"""

import functools
import hashlib
import hmac
import http.client
import json
import os
import secrets
import select
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from madoguchi.points.models import Campaign, PaymentProvider

SIGNATURE_HEADER = "X-Madoguchi-Signature"
TIMEOUT = (3.0, 5.0)  # seconds: to connect (and the TLS handshake), then to wait for each read of the answer
USER_AGENT = "madoguchi-points/1"


@dataclass(frozen=True)
class Confirmation:
    confirmed: bool
    reason: str = ""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- Transport ---------------------------------------------------------------------------------------------
# Every application of a launch rush waits on one callback, and `requests` spent about a third of the client's
# CPU on it (reading the proxy settings from the environment, merging settings, hooks, cookies) — more than the
# callback's own HTTP. The callback is one small POST to one of a few hosts, so it is sent with `http.client`
# over one kept-alive connection per thread and host. Only a host the environment routes through a proxy
# (HTTP(S)_PROXY, NO_PROXY, decided as `requests` decides it), or a URL with credentials in it, still goes
# through a `requests` session.
_local = threading.local()
os.register_at_fork(after_in_child=lambda: _local.__dict__.clear())  # never share a socket with the parent


def _session() -> requests.Session:
    """One `requests` session per thread, for proxied hosts and URLs with credentials only. Sessions are not
    shared between threads."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


@functools.lru_cache(maxsize=256)
def _proxied(scheme: str, netloc: str) -> bool:
    """Whether the environment sends requests for this host through a proxy. Read once per host: a process's
    environment does not change while it serves."""
    url = f"{scheme}://{netloc}/"
    return requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url)) is not None


@functools.cache
def _tls() -> ssl.SSLContext:
    """Certificates verified against the CA bundle `requests` would use: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE
    from the environment, else certifi's; host names checked."""
    where = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.certs.where()
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)


def _dropped(sock) -> bool:
    """An idle kept-alive socket that is readable has been closed by the server (or holds garbage): not reusable."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _connection(scheme: str, host: str, port: int) -> tuple[http.client.HTTPConnection, bool]:
    """This thread's connection to the host, opened if need be; and whether it was reused."""
    pool = _local.__dict__.setdefault("connections", {})
    key = (scheme, host, port)
    conn = pool.get(key)
    if conn is not None and conn.sock is not None and not _dropped(conn.sock):
        return conn, True
    if conn is not None:
        conn.close()
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=TIMEOUT[0], context=_tls())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT[0])
    pool[key] = conn
    conn.connect()
    conn.sock.settimeout(TIMEOUT[1])
    return conn, False


def _forget(scheme: str, host: str, port: int) -> None:
    conn = _local.__dict__.get("connections", {}).pop((scheme, host, port), None)
    if conn is not None:
        conn.close()


# The server had closed a kept-alive connection just as it was reused: the request is sent once more, on a new
# connection, only when the provider cannot have acted on it — sending failed (`_UNSENT`), or the connection was
# closed before a single byte of an answer (`RemoteDisconnected`, what a server's idle timeout looks like). A
# reset while waiting for the answer is not repeated: the provider may have processed the request (and may
# count attempts or refuse a replayed nonce), so it counts as "not confirmed".
_UNSENT = (BrokenPipeError, ConnectionResetError)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body` to `url` (no redirects followed); (status, body of the answer). Raises OSError (timeouts,
    refused connections, TLS errors), http.client.HTTPException or requests.RequestException on failure."""
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname
    if scheme not in ("http", "https") or not host:
        raise http.client.InvalidURL(f"not an http(s) URL: {url!r}")
    if parts.username is not None or _proxied(scheme, parts.netloc):
        # Through a proxy, or with credentials in the URL (which `requests` sends as Basic authentication).
        response = _session().post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        return response.status_code, response.content
    port = parts.port or (443 if scheme == "https" else 80)
    # Quoted as `requests` quotes it (a space or a non-ASCII character in the path would otherwise be refused).
    target = requests.utils.requote_uri((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    headers = {"User-Agent": USER_AGENT, **headers}
    while True:
        conn, reused = _connection(scheme, host, port)
        # Whatever goes wrong (a timeout included), the connection's state is unknown: it is never reused.
        try:
            conn.request("POST", target, body, headers)
        except BaseException as exc:
            _forget(scheme, host, port)
            if reused and isinstance(exc, _UNSENT):
                continue
            raise
        try:
            response = conn.getresponse()
            content = response.read()
        except BaseException as exc:
            _forget(scheme, host, port)
            if reused and isinstance(exc, http.client.RemoteDisconnected):
                continue
            raise
        if response.will_close:
            _forget(scheme, host, port)
        return response.status, content


# Tests replace this with a function that routes the call through Django's test client.
transport = _post
_FAILURES = (OSError, http.client.HTTPException, requests.RequestException, ValueError)


def confirm_account(
    *, provider: PaymentProvider, campaign: Campaign, account: str, security_code: str
) -> Confirmation:
    body = json.dumps(
        {"account": account, "security_code": security_code, "campaign": campaign.code,
         "nonce": secrets.token_hex(16)},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, provider.callback_secret)}
    try:
        status, content = transport(provider.callback_url, body, headers)
        answer = json.loads(content) if status == 200 else None
    except _FAILURES:
        return Confirmation(False, "unreachable")
    if isinstance(answer, dict) and answer.get("confirmed") is True:
        return Confirmation(True)
    return Confirmation(
        False, str(answer.get("reason", "refused"))[:40] if isinstance(answer, dict) else "refused"
    )
