"""Payment-provider API under /api/v1/points/ (Authorization: Bearer mpk_… — a key scoped to one provider)."""

import json
from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Body, Field, Router, Schema, Status
from ninja.security import HttpBearer

from madoguchi.core import audit
from madoguchi.identity.api_auth import VerifiedStaffSession
from madoguchi.identity.models import Resident
from madoguchi.identity.selectors import is_platform_operator
from madoguchi.points import coalesce, services, settlement
from madoguchi.points.models import Campaign, Statement

router = Router(tags=["マイナポイント: payment providers"])


class ProviderKey(HttpBearer):
    def authenticate(self, request, token):
        return services.provider_for_key(token)


# The statuses of an item's answer, by endpoint (points.services; ProviderTransaction.Status and two more).
TRANSACTION_STATUSES = ["granted", "capped", "not_enrolled", "wrong_mode", "outside_period", "duplicate", "conflict",
                        "invalid"]  # fmt: skip
REFUND_STATUSES = ["clawed_back", "unknown_original", "conflict", "invalid"]


# TransactionIn and RefundIn only document the items in the OpenAPI schema (see _batch_body): the views take
# `list[dict]` and points.services validates each item, so that a bad item is answered `invalid` on its own
# instead of a 422 for the whole batch. Their constraints are the service's rules, written out for the reader.
class TransactionIn(Schema):
    id: str = Field(min_length=1, max_length=64,
                    description="the provider's own id of the charge or purchase (idempotency key)")  # fmt: skip
    account: str = Field(min_length=1, max_length=64, description="決済サービスID of the resident's account")
    kind: Literal["charge", "purchase"] = Field(
        description="charge (チャージ) or purchase (お買い物): it earns points only in the mode the resident chose"
    )
    amount: int = Field(ge=1, le=services.MAX_AMOUNT, description="yen, 1 to 100,000,000")
    occurred_at: datetime = Field(
        description="when it happened: ISO 8601 with a time zone, from 2000 to 2099, e.g. 2020-09-01T10:00:00+09:00"
    )


class ItemOut(Schema):
    id: str
    status: str = Field(description="granted, capped, not_enrolled, wrong_mode, outside_period, duplicate, "
                                    "conflict, invalid; for refunds clawed_back or unknown_original",
                        json_schema_extra={"enum": list(dict.fromkeys(TRANSACTION_STATUSES + REFUND_STATUSES))})  # fmt: skip
    granted: int = Field(description="points granted (negative for a clawback)")
    remaining: int = Field(description="headroom left on the account after this item")
    message: str | None = Field(
        default=None, description="what is wrong with an invalid item, or why it is a duplicate or a conflict"
    )


class BatchOut(Schema):
    items: list[ItemOut]


class ErrorOut(Schema):
    code: str
    message: str


def _batch_body(item: type[Schema], what: str, statuses: list[str]) -> dict:
    """The OpenAPI `openapi_extra` of a batch endpoint: its body is an array of 1 to MAX_ITEMS `item` objects,
    and its 200 answers each item, in order. Documentation only: parsing and validation are unchanged. (ninja
    merges this into the operation's schema; the response key is the int 200, as ninja's own.)"""
    return {
        "requestBody": {"content": {"application/json": {"schema": {
            "description": f"1 to {services.MAX_ITEMS:,} {what}. Each item is checked on its own: a bad item is "
                           "answered `invalid` with a message and the others are recorded.",
            "minItems": 1,
            "maxItems": services.MAX_ITEMS,
            "items": item.model_json_schema(),
        }}}},
        "responses": {200: {"description": "One answer per item, in the order sent; its status is one of "
                                           + ", ".join(statuses) + "."}},
    }  # fmt: skip


@router.post("/transactions", auth=ProviderKey(), response={200: BatchOut, 422: ErrorOut},
             summary="Record 1–10,000 charges or purchases; each answer says the points granted",
             openapi_extra=_batch_body(TransactionIn, "charges or purchases", TRANSACTION_STATUSES))  # fmt: skip
def transactions(request, items: list[dict] = Body(...)):  # noqa: B008
    """Items are validated one by one: a bad item is answered `invalid` with a message and the others go on.
    The same id again returns its first answer and never grants twice; the same id with other content is a
    `conflict`."""
    try:
        results = services.transactions_record(provider=request.auth, items=items)
    except services.PointsError as exc:
        return Status(422, {"code": exc.code, "message": exc.message})
    return Status(200, {"items": [r.as_dict() for r in results]})


# The online grant's lane: the machine-API handler (core/handlers.py) hands a cookie-less POST to
# /api/v1/points/transactions here before resolving the URL. A request of exactly one item with a valid key is
# answered here, through the same service as `transactions` and with the same bytes as its response schema
# would give; anything else (another shape, a bad key, a refusal) returns None, and the request goes on to the
# router above, which answers it as before. Nothing of the grant is written before a None (the service is one
# transaction that either commits an answer or raises; the key look-up may note the key's use, an idempotent
# write), so the router may safely run it again.
# Why: at one item per request, resolving the URL, ninja's parameter and response models and its auth class
# cost about a fifth of the request's CPU (3.65 → 2.88 ms in-process; over HTTP +25 % grants/s in one run of
# bench/points_online.py). A request with a bad key has the key looked up twice (here, then by the router).
_LANE_CONTENT_TYPE = "application/json; charset=utf-8"
# One item is a few hundred bytes: with group commit (points/coalesce.py) the lane parses at most this much.
_LANE_BODY_LIMIT = 4096


def transactions_lane(request) -> HttpResponse | None:
    scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if request.method != "POST" or scheme.lower() != "bearer" or request.content_type != "application/json":
        return None
    # Group commit (points/coalesce.py) only where requests of this process run on several threads at once.
    coalescer = coalesce.active() if request.META.get("wsgi.multithread") else None
    if coalescer is None:
        # The key first, as the router's auth does: a request without a valid key never has its body read here.
        provider = services.provider_for_key(token)
        if provider is None:
            return None
    elif int(request.META.get("CONTENT_LENGTH") or 0) > _LANE_BODY_LIMIT:
        # With group commit the key is checked with the batch, after the body is parsed; so only a body the
        # size of one item is parsed before it (a larger one goes to the router, which checks the key first).
        return None
    try:
        items = json.loads(request.body)
    except Exception:  # noqa: BLE001 — too large, too deep, not JSON: the router gives its own answer
        return None
    if type(items) is not list or len(items) != 1 or type(items[0]) is not dict:
        return None
    if coalescer is not None:
        recorded = coalescer.submit(token, items[0], translation.get_language())
        if recorded is None:  # not an active provider's key: the router answers (401)
            return None
        results = [recorded[1]]
    else:
        try:
            results = services.transactions_record(provider=provider, items=items)
        except services.PointsError:
            return None
    items_out = []
    for r in results:
        out = r.as_dict()
        out.setdefault("message", None)  # as ItemOut serializes a result without one
        items_out.append(out)
    return HttpResponse(json.dumps({"items": items_out}), content_type=_LANE_CONTENT_TYPE)


class RefundIn(Schema):
    id: str = Field(min_length=1, max_length=64, description="the provider's own id of the refund")
    original_id: str = Field(
        min_length=1,
        max_length=64,
        description="the id of the charge or purchase refunded, as sent to /transactions",
    )
    amount: int = Field(ge=1, le=services.MAX_AMOUNT, description="yen refunded, 1 to 100,000,000")


@router.post("/refunds", auth=ProviderKey(), response={200: BatchOut, 422: ErrorOut},
             summary="Claw back points for refunded charges or purchases",
             openapi_extra=_batch_body(RefundIn, "refunds", REFUND_STATUSES))  # fmt: skip
def refunds(request, items: list[dict] = Body(...)):  # noqa: B008
    """Items are validated one by one, as for transactions. The points clawed back are at most those granted
    on the original less what earlier refunds clawed back; `granted` is negative by that much."""
    try:
        results = services.refunds_record(provider=request.auth, items=items)
    except services.PointsError as exc:
        return Status(422, {"code": exc.code, "message": exc.message})
    return Status(200, {"items": [r.as_dict() for r in results]})


class FixedGrantIn(Schema):
    campaign: str = Field(description="code of a fixed-grant campaign, e.g. mynapoint-2022-insurance")
    mykey_id: str = Field(min_length=8, max_length=8)
    reference: str = Field(min_length=1, max_length=50, description="the qualifying action's own reference")


class FixedGrantOut(Schema):
    campaign: str
    points: int
    remaining: int


@router.post("/fixed-grants", auth=VerifiedStaffSession(), response={200: FixedGrantOut, 403: ErrorOut, 422: ErrorOut},
             summary="Record a qualifying action of a fixed-grant campaign (platform operators)")  # fmt: skip
def fixed_grant(request, payload: FixedGrantIn):
    if not is_platform_operator(request.user):
        return Status(
            403, {"code": "forbidden", "message": _("Only platform operators record fixed grants.")}
        )
    campaign = Campaign.objects.filter(code=payload.campaign).first()
    resident = Resident.objects.filter(mykey_id=payload.mykey_id).first()
    if campaign is None or resident is None:
        return Status(422, {"code": "unknown", "message": _("Unknown campaign or MyKey ID.")})
    try:
        row = services.fixed_grant_record(campaign=campaign, resident=resident, reference=payload.reference,
                                          actor=request.user)  # fmt: skip
    except services.PointsError as exc:
        return Status(422, {"code": exc.code, "message": exc.message})
    return Status(200, {"campaign": campaign.code, "points": row.points, "remaining": row.remaining})


class StatementOut(Schema):
    id: int
    campaign: str = Field(alias="campaign.code")
    kind: str
    month: int
    status: str
    granted_points: int
    clawed_back_points: int
    repayment_points: int
    net_points: int
    amount_due: int = Field(description="yen: > 0 the State pays the provider, < 0 the provider repays")


@router.get("/statements", auth=ProviderKey(), response=list[StatementOut],
            summary="The provider's own settlement statements, newest first")  # fmt: skip
def statements(request):
    return list(
        Statement.objects.filter(provider=request.auth).select_related("campaign").order_by("-month", "-id")
    )


@router.post("/statements/{statement_id}/claim", auth=ProviderKey(),
             response={200: StatementOut, 404: ErrorOut, 422: ErrorOut},
             summary="Claim a draft statement (請求); its figures are frozen from then on")  # fmt: skip
def statement_claim(request, statement_id: int):
    statement = Statement.objects.filter(pk=statement_id, provider=request.auth).first()
    if statement is None:  # another provider's statement does not exist for this key
        return Status(404, {"code": "not_found", "message": _("There is no such statement.")})
    actor = audit.Actor("provider", str(request.auth.pk), request.auth.code)
    try:
        claimed = settlement.statement_claim(statement=statement, actor=actor)
    except services.PointsError as exc:
        return Status(422, {"code": exc.code, "message": exc.message})
    return Status(200, claimed)
