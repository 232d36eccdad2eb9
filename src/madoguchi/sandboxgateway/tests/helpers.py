"""Small helpers shared by the gateway's tests."""

import json
import re

API_KEY = "sk_test_" + "k" * 24
WEBHOOK_SECRET = "whsec_test_" + "s" * 24
PAYMENTS_URL = "/sandbox-gateway/v1/payments"


def order(**overrides) -> dict:
    """A valid POST /v1/payments body (粗大ごみ収集手数料 ¥300)."""
    return {
        "amount": 300,
        "currency": "JPY",
        "reference": "ORD-2026-000123",
        "description": "粗大ごみ収集手数料（1点）",
        "return_url": "https://madoguchi.example/131016/procedures/orders/ORD-2026-000123/return",
        "callback_url": "https://madoguchi.example/procedures/payments/callback",
        **overrides,
    }


def create(client, body=None, *, key=API_KEY, idempotency_key="ORD-2026-000123", raw: bytes | None = None):
    headers = {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    data = raw if raw is not None else json.dumps(order() if body is None else body)
    return client.post(PAYMENTS_URL, data=data, content_type="application/json", headers=headers)


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
