"""Payment-provider API under /api/v1/points/ (Authorization: Bearer mpk_… — a key scoped to one provider)."""

from datetime import datetime
from typing import Literal

from ninja import Body, Field, Router, Schema, Status
from ninja.security import HttpBearer

from madoguchi.points import services

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
