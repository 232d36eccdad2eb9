"""What the sandbox gateway does: create payments (idempotently), finish them once, and tell the platform.

- `payment_create`: one payment per (API key, Idempotency-Key); the same key with the same request returns the
  payment it created, the same key with a different request is refused.
- `payment_finish`: created → succeeded | failed | cancelled with one conditional UPDATE (`WHERE status =
  'created'`), so two concurrent Pay clicks cannot both succeed: the loser changes nothing and is told so.
- `callback_send`: POSTs the signed result to the platform's callback URL, retried a few times on a non-2xx
  answer or a network error (synchronously, with a short backoff: good enough for a sandbox).
"""

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from madoguchi.sandboxgateway.models import MAX_AMOUNT, SandboxPayment

logger = logging.getLogger(__name__)

Status = SandboxPayment.Status
SIGNATURE_HEADER = "X-Gateway-Signature"
CURRENCIES = ("JPY",)
MAX_TEXT = 255
MAX_URL = 2000
# The callback: attempts in all, the pause before each retry (seconds), and the HTTP timeouts.
CALLBACK_ATTEMPTS = 3
CALLBACK_BACKOFF = (0.25, 1.0)
CALLBACK_TIMEOUT = (3.0, 5.0)
TEST_CARD_SUCCEEDS = "4242424242424242"
TEST_CARD_DECLINED = "4000000000000002"


class RequestInvalid(Exception):
    """The API request cannot make a payment. `field` names the offending member (for the error body)."""

    def __init__(self, field: str, description: str):
        super().__init__(description)
        self.field, self.description = field, description


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request."""


@dataclass(frozen=True)
class PaymentRequest:
    amount: int
    currency: str
    reference: str
    description: str
    return_url: str
    callback_url: str


def api_key_id(api_key: str) -> str:
    """How a payment remembers the key that created it, without storing the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def url_is_acceptable(url: object) -> bool:
    """An absolute http(s) URL with a host and no credentials, no whitespace or control characters."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        return False
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a port that is not a number in range
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
    )


def payment_request_parse(data: object) -> PaymentRequest:
    """Validate the JSON body of POST /v1/payments."""
    if not isinstance(data, dict):
        raise RequestInvalid("", "The body must be a JSON object.")
    amount = data.get("amount")
    if type(amount) is not int or not 1 <= amount <= MAX_AMOUNT:
        raise RequestInvalid("amount", f"amount must be a whole number of yen from 1 to {MAX_AMOUNT}.")
    currency = data.get("currency", "JPY")
    if currency not in CURRENCIES:
        raise RequestInvalid("currency", "Only JPY is supported.")
    texts = {}
    for name in ("reference", "description"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise RequestInvalid(name, f"{name} must be a non-empty string of at most {MAX_TEXT} characters.")
        texts[name] = value
    urls = {}
    for name in ("return_url", "callback_url"):
        value = data.get(name)
        if not url_is_acceptable(value):
            raise RequestInvalid(name, f"{name} must be an absolute http or https URL.")
        urls[name] = value
    return PaymentRequest(amount=amount, currency=currency, **texts, **urls)


def _same_request(payment: SandboxPayment, request: PaymentRequest) -> bool:
    return (
        payment.amount,
        payment.currency,
        payment.reference,
        payment.description,
        payment.return_url,
        payment.callback_url,
    ) == (
        request.amount,
        request.currency,
        request.reference,
        request.description,
        request.return_url,
        request.callback_url,
    )


def payment_create(
    *, api_key_id: str, idempotency_key: str, request: PaymentRequest
) -> tuple[SandboxPayment, bool]:
    """(payment, created): the existing payment for this key (created=False) or a new one."""
    lookup = {"api_key_id": api_key_id, "idempotency_key": idempotency_key}
    payment = SandboxPayment.objects.filter(**lookup).first()
    created = False
    if payment is None:
        try:
            with transaction.atomic():
                payment = SandboxPayment.objects.create(
                    **lookup,
                    amount=request.amount,
                    currency=request.currency,
                    reference=request.reference,
                    description=request.description,
                    return_url=request.return_url,
                    callback_url=request.callback_url,
                )
                created = True
        except IntegrityError:
            # Another request with the same key won the race: answer with its payment.
            payment = SandboxPayment.objects.get(**lookup)
    if not created and not _same_request(payment, request):
        raise IdempotencyConflict(idempotency_key)
    return payment, created


def payment_finish(payment_id: str, outcome: str, *, card_last4: str = "") -> tuple[SandboxPayment, bool]:
    """Finish a created payment; (payment as it is now, whether this call finished it).

    One conditional UPDATE: of any number of concurrent calls exactly one changes the row; the others find it
    finished and change nothing (a second Pay click charges nothing).
    """
    if outcome not in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED):
        raise ValueError(outcome)
    now = timezone.now()
    changed = SandboxPayment.objects.filter(pk=payment_id, status=Status.CREATED).update(
        status=outcome,
        paid_at=now if outcome == Status.SUCCEEDED else None,
        finished_at=now,
        card_last4=card_last4,
    )
    return SandboxPayment.objects.get(pk=payment_id), changed == 1


def outcome_of_card(card_number: str) -> str:
    """What the sandbox does with a (normalised, valid) test card."""
    return Status.SUCCEEDED if card_number == TEST_CARD_SUCCEEDS else Status.FAILED


# --- Callbacks ---------------------------------------------------------------------------------------------
def callback_body(payment: SandboxPayment) -> bytes:
    paid_at = payment.paid_at.astimezone(UTC).isoformat() if payment.paid_at else None
    payload = {
        "id": payment.id,
        "reference": payment.reference,
        "status": payment.status,
        "amount": payment.amount,
        "paid_at": paid_at,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<body>">`: the timestamp is signed with the body."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def callback_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """One delivery attempt; the HTTP status (a network error raises requests.RequestException)."""
    response = requests.post(url, data=body, headers=headers, timeout=CALLBACK_TIMEOUT, allow_redirects=False)
    response.close()
    return response.status_code


def callback_send(payment: SandboxPayment) -> bool:
    """Send the signed result to the payment's callback URL; True once the platform answered 2xx."""
    body = callback_body(payment)
    for attempt in range(CALLBACK_ATTEMPTS):
        if attempt:
            time.sleep(CALLBACK_BACKOFF[min(attempt, len(CALLBACK_BACKOFF)) - 1])
        headers = {
            "Content-Type": "application/json",
            # Signed afresh for each attempt, so that a late retry is not refused as stale.
            SIGNATURE_HEADER: signature_header(body, settings.FEE_GATEWAY_WEBHOOK_SECRET, int(time.time())),
        }
        SandboxPayment.objects.filter(pk=payment.pk).update(callback_attempts=F("callback_attempts") + 1)
        try:
            status = callback_post(payment.callback_url, body, headers)
        except requests.RequestException as exc:
            logger.warning("sandbox gateway: callback for %s failed: %s", payment.pk, type(exc).__name__)
            continue
        if 200 <= status < 300:
            SandboxPayment.objects.filter(pk=payment.pk).update(callback_delivered_at=timezone.now())
            return True
        logger.warning("sandbox gateway: callback for %s answered %s", payment.pk, status)
    return False
