"""Endpoints of the sandbox gateway, shaped like a hosted-payment-page gateway's.

- POST /v1/payments (Authorization: Bearer <key>, Idempotency-Key: <platform order id>) creates a payment and
  answers 201 with its `next_url`, the hosted page; the same key again answers with the same payment.
- GET /v1/payments/<id> answers the payment's current status (only to the key that created it).
- /pay/<id>/ is the hosted page: the amount, a test-card form, Pay and Cancel. Pay or Cancel finishes the
  payment once, sends the signed callback to the platform, then redirects the browser to `return_url` with
  `payment_id`. The API's error descriptions are for developers (English); the page is translated.
"""

import hmac
import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from madoguchi.sandboxgateway import services
from madoguchi.sandboxgateway.forms import CardForm
from madoguchi.sandboxgateway.models import SandboxPayment
from madoguchi.sandboxgateway.services import IdempotencyConflict, RequestInvalid

Status = SandboxPayment.Status
MAX_IDEMPOTENCY_KEY = 255


# --- API ---------------------------------------------------------------------------------------------------
def _json(payload: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _error(status: int, error: str, description: str, **extra: str) -> JsonResponse:
    return _json({"error": error, "description": description, **extra}, status)


def _authenticated_key_id(request: HttpRequest) -> str | None:
    """The id of the presented API key when it is the configured one (compared in constant time)."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    token, expected = token.strip(), settings.FEE_GATEWAY_API_KEY
    if scheme.lower() != "bearer" or not token or not expected:
        return None
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return None
    return services.api_key_id(expected)


def _unauthorized() -> JsonResponse:
    response = _error(401, "unauthorized", "A valid API key is required (Authorization: Bearer <key>).")
    response["WWW-Authenticate"] = 'Bearer realm="sandbox-gateway"'
    return response


def _timestamp(value) -> str | None:
    return value.isoformat() if value else None


def payment_json(request: HttpRequest, payment: SandboxPayment) -> dict:
    return {
        "id": payment.pk,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": payment.reference,
        "description": payment.description,
        "return_url": payment.return_url,
        "next_url": request.build_absolute_uri(reverse("sandboxgateway:pay", args=[payment.pk])),
        "created_at": _timestamp(payment.created_at),
        "paid_at": _timestamp(payment.paid_at),
    }


@csrf_exempt  # a server-to-server call authenticated by its bearer key, not by a browser session
@require_POST
def payments(request: HttpRequest) -> JsonResponse:
    key_id = _authenticated_key_id(request)
    if key_id is None:
        return _unauthorized()
    idempotency_key = request.headers.get("Idempotency-Key", "").strip()
    if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY or not idempotency_key.isprintable():
        return _error(
            400,
            "idempotency_key_required",
            f"Send an Idempotency-Key header (1 to {MAX_IDEMPOTENCY_KEY} printable characters).",
        )
    try:
        data = json.loads(request.body)
    except ValueError:
        return _error(400, "invalid_request", "The body must be JSON.")
    try:
        payment_request = services.payment_request_parse(data)
    except RequestInvalid as exc:
        return _error(400, "invalid_request", exc.description, field=exc.field)
    try:
        payment, created = services.payment_create(
            api_key_id=key_id, idempotency_key=idempotency_key, request=payment_request
        )
    except IdempotencyConflict:
        return _error(
            409, "idempotency_conflict", "This Idempotency-Key was already used for a different payment."
        )
    response = _json(payment_json(request, payment), status=201)
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response


@require_GET
def payment_detail(request: HttpRequest, payment_id: str) -> JsonResponse:
    key_id = _authenticated_key_id(request)
    if key_id is None:
        return _unauthorized()
    payment = SandboxPayment.objects.filter(pk=payment_id, api_key_id=key_id).first()
    if payment is None:
        return _error(404, "not_found", "There is no such payment.")
    return _json(payment_json(request, payment))


# --- The hosted page ---------------------------------------------------------------------------------------
def return_url_of(payment: SandboxPayment) -> str:
    """The platform's return URL with `payment_id` added to its query (any other parameters kept)."""
    parts = urlsplit(payment.return_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "payment_id"]
    query.append(("payment_id", payment.pk))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _finished_page(request: HttpRequest, payment: SandboxPayment, *, status: int) -> HttpResponse:
    context = {"payment": payment, "return_url": return_url_of(payment), "again": request.method == "POST"}
    return render(request, "sandboxgateway/finished.html", context, status=status)


def _finish(
    request: HttpRequest, payment: SandboxPayment, outcome: str, card_last4: str = ""
) -> HttpResponse:
    payment, changed = services.payment_finish(payment.pk, outcome, card_last4=card_last4)
    if not changed:
        # Someone else (another tab, a double click) finished it first: nothing is charged again.
        return _finished_page(request, payment, status=409)
    services.callback_send(payment)
    response = HttpResponseRedirect(return_url_of(payment))
    response.status_code = 303  # See Other: the browser GETs the return URL
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, payment_id: str) -> HttpResponse:
    payment = get_object_or_404(SandboxPayment, pk=payment_id)
    if payment.is_finished:
        return _finished_page(request, payment, status=409 if request.method == "POST" else 200)
    form = CardForm()
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return _finish(request, payment, Status.CANCELLED)
        form = CardForm(request.POST)
        if form.is_valid():
            card = form.cleaned_data["card_number"]
            return _finish(request, payment, services.outcome_of_card(card), card_last4=card[-4:])
    return render(
        request,
        "sandboxgateway/pay.html",
        {"payment": payment, "form": form},
        status=400 if form.is_bound else 200,
    )
