"""The adapter to the fee-payment gateway (hosted payment page), over HTTP for real.

The protocol (shaped like GOV.UK Pay's or Pay.jp's hosted checkout):
1. `create_payment` POSTs `{"amount", "currency": "JPY", "reference", "description", "return_url",
   "callback_url"}` to `{FEE_GATEWAY_BASE_URL}/v1/payments` with `Authorization: Bearer <FEE_GATEWAY_API_KEY>`
   and `Idempotency-Key: <reference>`: sending the same order again (after a timeout, say) returns the same
   payment, never a second one. The answer's `next_url` is the hosted page to redirect the resident to.
2. The gateway POSTs the result to `callback_url`: JSON `{"id", "reference", "status", "amount", "paid_at"}`
   signed in the header `X-Gateway-Signature: t=<unix>,v1=<hex HMAC-SHA-256 of "<t>.<body>">` under
   FEE_GATEWAY_WEBHOOK_SECRET; `verify_callback` checks it. Then it sends the browser to `return_url` with
   `?payment_id=…`.
3. `fetch_payment` GETs `{FEE_GATEWAY_BASE_URL}/v1/payments/<id>`: the return page's check in case the
   callback was lost.

Every failure is a `GatewayError` with a `code` (for logs and program logic) and a `message` for the resident
(translated; Japanese first). This module knows nothing of the procedures' models: callers pass plain values.
"""

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

TIMEOUT = (3.0, 10.0)  # (connect, read) seconds, on every call
MAX_AMOUNT = 10_000_000  # yen
MAX_TEXT = 255
SIGNATURE_HEADER = "X-Gateway-Signature"
STATUSES = frozenset({"created", "succeeded", "failed", "cancelled"})
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

MESSAGES = {
    "not_configured": _("Online payment is not available at the moment. Please pay at the counter or try again later."),
    "invalid_amount": _("The fee amount is not valid, so the payment could not be started."),
    "invalid_request": _("The payment could not be started because the order details are not valid."),
    "invalid_url": _("The payment could not be started because a return address is not valid."),
    "unreachable": _("The payment service could not be reached. Please try again in a few minutes."),
    "timeout": _("The payment service did not answer in time. Please try again in a few minutes."),
    "unauthorized": _("The payment service did not accept this site's credentials. Please contact the municipality."),
    "conflict": _("This order was already sent to the payment service with different details."),
    "not_found": _("The payment service does not know this payment."),
    "rejected": _("The payment service refused the request."),
    "gateway_error": _("The payment service had a problem. Please try again in a few minutes."),
    "bad_response": _("The payment service sent an answer that could not be understood."),
    "bad_signature": _("The payment notification's signature is not valid."),
    "stale": _("The payment notification is too old or comes from a clock that is far off."),
    "malformed": _("The payment notification could not be read."),
}  # fmt: skip
# Worth trying again later with the same reference (the gateway's idempotency makes that safe).
RETRYABLE = frozenset({"unreachable", "timeout", "gateway_error"})


class GatewayError(Exception):
    """A payment could not be made, checked or trusted. `code` is stable; `message` is for the resident."""

    def __init__(self, code: str, detail: str = "", *, status: int | None = None):
        super().__init__(code, detail)
        self.code, self.detail, self.status = code, detail, status

    @property
    def message(self) -> str:
        """In the active language (Japanese unless the resident chose English)."""
        return str(MESSAGES.get(self.code, MESSAGES["gateway_error"]))

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


@dataclass(frozen=True)
class CreatedPayment:
    gateway_id: str
    next_url: str
    status: str


@dataclass(frozen=True)
class PaymentStatus:
    gateway_id: str
    reference: str
    status: str
    amount: int
    paid_at: datetime | None


# --- Validation --------------------------------------------------------------------------------------------
def _is_http_url(url: object) -> bool:
    if not isinstance(url, str) or not url or len(url) > 2000:
        return False
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None


def _is_amount(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_AMOUNT  # bool is an int subclass: refused


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise GatewayError(
            "invalid_request", f"{name} must be a non-empty string of at most {MAX_TEXT} characters"
        )
    return value


def _configuration() -> tuple[str, str]:
    base_url = getattr(settings, "FEE_GATEWAY_BASE_URL", "").rstrip("/")
    api_key = getattr(settings, "FEE_GATEWAY_API_KEY", "")
    if not base_url or not api_key or not _is_http_url(base_url):
        raise GatewayError("not_configured", "FEE_GATEWAY_BASE_URL and FEE_GATEWAY_API_KEY must be set")
    return base_url, api_key


# --- HTTP --------------------------------------------------------------------------------------------------
def _send(method: str, url: str, *, headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
    response = requests.request(
        method, url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
    )
    return response.status_code, response.content


# Tests may replace this with a function that routes the call elsewhere (same signature as _send).
transport = _send


def _call(method: str, path: str, *, body: dict | None = None, headers: dict[str, str] | None = None) -> dict:
    base_url, api_key = _configuration()
    all_headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        all_headers["Content-Type"] = "application/json"
    try:
        status, content = transport(method, base_url + path, headers=all_headers, body=data)
    except requests.Timeout as exc:
        raise GatewayError("timeout", type(exc).__name__) from exc
    except requests.RequestException as exc:
        raise GatewayError("unreachable", type(exc).__name__) from exc
    try:
        answer = json.loads(content) if content else {}
    except ValueError:
        answer = None
    if 200 <= status < 300:
        if not isinstance(answer, dict):
            raise GatewayError("bad_response", f"{method} {path}: not a JSON object", status=status)
        return answer
    error = answer.get("error", "") if isinstance(answer, dict) else ""
    detail = f"{method} {path}: HTTP {status} {error}".strip()
    logger.warning("fee gateway: %s", detail)
    if status in (401, 403):
        raise GatewayError("unauthorized", detail, status=status)
    if status == 404:
        raise GatewayError("not_found", detail, status=status)
    if status == 409:
        raise GatewayError("conflict", detail, status=status)
    if status in (408, 429) or status >= 500:
        raise GatewayError("gateway_error", detail, status=status)
    if status == 400 or 402 <= status < 500:
        raise GatewayError("rejected", detail, status=status)
    raise GatewayError("bad_response", detail, status=status)


def _parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp with its offset (or null); ValueError otherwise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("paid_at")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("paid_at has no UTC offset")
    return parsed


def _payment_status(answer: dict, *, error_code: str, statuses: frozenset[str] = STATUSES) -> PaymentStatus:
    try:
        gateway_id, reference, status, amount = (answer[k] for k in ("id", "reference", "status", "amount"))
        if not isinstance(gateway_id, str) or not gateway_id or not isinstance(reference, str):
            raise ValueError("id or reference")
        if status not in statuses:
            raise ValueError(f"status {status!r}")
        if type(amount) is not int or amount < 0:
            raise ValueError("amount")
        paid_at = _parse_time(answer.get("paid_at"))
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayError(error_code, str(exc)) from None
    return PaymentStatus(
        gateway_id=gateway_id, reference=reference, status=status, amount=amount, paid_at=paid_at
    )


# --- The three operations ----------------------------------------------------------------------------------
def create_payment(
    *, reference: str, amount: int, description: str, return_url: str, callback_url: str
) -> CreatedPayment:
    """Start a payment for one order; redirect the resident to `next_url`. Safe to repeat with the same
    reference (the Idempotency-Key): the gateway answers with the payment it already made."""
    if not _is_amount(amount):
        raise GatewayError("invalid_amount", f"amount must be an int from 1 to {MAX_AMOUNT}, not {amount!r}")
    reference = _text(reference, "reference")
    if not (reference.isascii() and reference.isprintable()):
        # It travels as the Idempotency-Key header too.
        raise GatewayError("invalid_request", "reference must be printable ASCII")
    description = _text(description, "description")
    for name, url in (("return_url", return_url), ("callback_url", callback_url)):
        if not _is_http_url(url):
            raise GatewayError("invalid_url", f"{name} must be an absolute http or https URL")
    answer = _call(
        "POST",
        "/v1/payments",
        body={
            "amount": amount,
            "currency": "JPY",
            "reference": reference,
            "description": description,
            "return_url": return_url,
            "callback_url": callback_url,
        },
        headers={"Idempotency-Key": reference},
    )
    gateway_id, next_url, status = answer.get("id"), answer.get("next_url"), answer.get("status")
    if (
        not isinstance(gateway_id, str)
        or not gateway_id
        or status not in STATUSES
        or not _is_http_url(next_url)
    ):
        raise GatewayError("bad_response", "create: id, status or next_url missing or invalid")
    if answer.get("amount") != amount or answer.get("reference") != reference:
        # Never send a resident to pay something other than what was asked.
        raise GatewayError("bad_response", "create: the answer's amount or reference differs from the order")
    return CreatedPayment(gateway_id=gateway_id, next_url=next_url, status=status)


def fetch_payment(gateway_id: str) -> PaymentStatus:
    """The payment's status as the gateway has it now."""
    if not isinstance(gateway_id, str) or not gateway_id or len(gateway_id) > MAX_TEXT:
        raise GatewayError("invalid_request", "gateway_id must be a non-empty string")
    answer = _call("GET", "/v1/payments/" + quote(gateway_id, safe=""))
    payment = _payment_status(answer, error_code="bad_response")
    if payment.gateway_id != gateway_id:
        raise GatewayError("bad_response", "fetch: the answer is about another payment")
    return payment


def _signature_parts(header: str) -> tuple[int, list[str]]:
    """`t=<unix>,v1=<hex>[,v1=<hex>…]` → (t, [v1…]); several v1 values allow a secret rotation."""
    timestamp, signatures = None, []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise GatewayError("bad_signature", "the signature header is missing or malformed")
    return timestamp, signatures


def verify_callback(
    *, body: bytes, signature_header: str, now: datetime | None = None, tolerance_seconds: int = 300
) -> PaymentStatus:
    """Check the gateway's callback: signature first, then its age, then the body. Pass the raw request body
    (request.body) and the X-Gateway-Signature header; `now` (aware) is for tests."""
    secret = getattr(settings, "FEE_GATEWAY_WEBHOOK_SECRET", "")
    if not secret:
        raise GatewayError("not_configured", "FEE_GATEWAY_WEBHOOK_SECRET is empty")
    if not isinstance(body, bytes | bytearray):
        raise GatewayError("malformed", "the body must be bytes")
    timestamp, signatures = _signature_parts(signature_header or "")
    expected = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + bytes(body), hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise GatewayError("bad_signature", "no v1 signature matches")
    now = now or timezone.now()
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise GatewayError("stale", f"signed at {timestamp}, {int(now.timestamp() - timestamp)} s away")
    try:
        answer = json.loads(body)
    except ValueError:
        raise GatewayError("malformed", "not JSON") from None
    if not isinstance(answer, dict):
        raise GatewayError("malformed", "not a JSON object")
    payment = _payment_status(answer, error_code="malformed", statuses=FINAL_STATUSES)
    if payment.status == "succeeded" and payment.paid_at is None:
        raise GatewayError("malformed", "a succeeded payment without paid_at")
    return payment
