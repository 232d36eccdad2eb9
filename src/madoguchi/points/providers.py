"""The adapter to payment providers: the account-confirmation callback, over HTTP for real.

The platform POSTs `{"account", "security_code", "campaign", "nonce"}` as JSON to the provider's callback URL,
signed with HMAC-SHA-256 of the body under the provider's callback secret (header X-Madoguchi-Signature:
sha256=<hex>), and accepts the application only on `{"confirmed": true}` with status 200. A timeout, an
error status or anything else counts as "not confirmed": the application is refused, never accepted blind.
"""

import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass

import requests

from madoguchi.points.models import Campaign, PaymentProvider

SIGNATURE_HEADER = "X-Madoguchi-Signature"
TIMEOUT = (3.0, 5.0)


@dataclass(frozen=True)
class Confirmation:
    confirmed: bool
    reason: str = ""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_local = threading.local()


def _session() -> requests.Session:
    """One HTTP session per thread: the connection to a provider is kept alive between callbacks (a new TCP
    connection and a new `requests.Session` per application cost more than the callback itself). Sessions
    are not shared between threads."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    response = _session().post(url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    return response.status_code, response.content


# Tests replace this with a function that routes the call through Django's test client.
transport = _post


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
    except (requests.RequestException, ValueError):
        return Confirmation(False, "unreachable")
    if isinstance(answer, dict) and answer.get("confirmed") is True:
        return Confirmation(True)
    return Confirmation(
        False, str(answer.get("reason", "refused"))[:40] if isinstance(answer, dict) else "refused"
    )
