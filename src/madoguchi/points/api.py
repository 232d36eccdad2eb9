"""Payment-provider API under /api/v1/points/ (Authorization: Bearer mpk_… — a key scoped to one provider)."""

import json
from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Body, Field, Router, Schema, Status
from ninja.security import HttpBearer

from madoguchi.core import audit
from madoguchi.identity.api_auth import VerifiedStaffSession
from madoguchi.identity.models import Resident
from madoguchi.identity.selectors import is_platform_operator
from madoguchi.points import services, settlement
from madoguchi.points.models import Campaign, Statement

router = Router(tags=["マイナポイント: payment providers"])


class ProviderKey(HttpBearer):
    def authenticate(self, request, token):
        return services.provider_for_key(token)


class TransactionIn(Schema):
    id: str = Field(description="the provider's own id of the charge or purchase (idempotency key)")
    account: str = Field(description="決済サービスID of the resident's account")
    kind: Literal["charge", "purchase"]
    amount: int = Field(description="yen, 1 to 100,000,000")
    occurred_at: datetime


class ItemOut(Schema):
    id: str
    status: str = Field(description="granted, capped, not_enrolled, wrong_mode, outside_period, duplicate, "
                                    "conflict, invalid; for refunds clawed_back or unknown_original")  # fmt: skip
    granted: int = Field(description="points granted (negative for a clawback)")
    remaining: int = Field(description="headroom left on the account after this item")
    message: str | None = None


class BatchOut(Schema):
    items: list[ItemOut]


class ErrorOut(Schema):
    code: str
    message: str


@router.post("/transactions", auth=ProviderKey(), response={200: BatchOut, 422: ErrorOut},
             summary="Record 1–10,000 charges or purchases; each answer says the points granted")  # fmt: skip
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
# router above, which answers it as before. Nothing is written before a None (the service is one transaction
# that either commits an answer or raises), so the router may safely run it again.
# Why: at one item per request, resolving the URL, ninja's parameter and response models and its auth class
# cost about a fifth of the request's CPU (3.65 → 2.88 ms in-process; over HTTP +25 % grants/s in one run of
# bench/points_online.py). A request with a bad key has the key looked up twice (here, then by the router).
_LANE_CONTENT_TYPE = "application/json; charset=utf-8"


def transactions_lane(request) -> HttpResponse | None:
    scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if request.method != "POST" or scheme.lower() != "bearer" or request.content_type != "application/json":
        return None
    # The key first, as the router's auth does: a request without a valid key never has its body read here.
    provider = services.provider_for_key(token)
    if provider is None:
        return None
    try:
        items = json.loads(request.body)
    except Exception:  # noqa: BLE001 — too large, too deep, not JSON: the router gives its own answer
        return None
    if type(items) is not list or len(items) != 1 or type(items[0]) is not dict:
        return None
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
    id: str
    original_id: str
    amount: int


@router.post("/refunds", auth=ProviderKey(), response={200: BatchOut, 422: ErrorOut},
             summary="Claw back points for refunded charges or purchases")  # fmt: skip
def refunds(request, items: list[dict] = Body(...)):  # noqa: B008
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
