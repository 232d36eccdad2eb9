"""The OpenAPI schema of the providers' batch endpoints documents each item, while the items are still checked
one by one by points.services: a bad item is answered `invalid` on its own, never a 422 for the batch."""

import pytest

from madoguchi.conf.api import api
from madoguchi.points import api as points_api
from madoguchi.points import services
from madoguchi.points.models import PointAccount, ProviderTransaction
from madoguchi.points.tests.conftest import make_resident, sandbox_account
from madoguchi.points.tests.test_flow import apply, tx

pytestmark = pytest.mark.django_db

TRANSACTIONS, REFUNDS = "/api/v1/points/transactions", "/api/v1/points/refunds"


@pytest.fixture
def schema(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _body(schema, path):
    return schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_transaction_items_are_documented(schema):
    body = _body(schema, TRANSACTIONS)
    assert (body["type"], body["minItems"], body["maxItems"]) == ("array", 1, 10_000)
    item = body["items"]
    assert set(item["properties"]) == {"id", "account", "kind", "amount", "occurred_at"}
    assert set(item["required"]) == {"id", "account", "kind", "amount", "occurred_at"}
    assert item["properties"]["kind"]["enum"] == ["charge", "purchase"]
    amount = item["properties"]["amount"]
    assert (amount["type"], amount["minimum"], amount["maximum"]) == ("integer", 1, services.MAX_AMOUNT)
    assert item["properties"]["occurred_at"]["format"] == "date-time"
    assert (item["properties"]["id"]["minLength"], item["properties"]["id"]["maxLength"]) == (1, 64)


def test_refund_items_are_documented(schema):
    body = _body(schema, REFUNDS)
    assert (body["type"], body["minItems"], body["maxItems"]) == ("array", 1, 10_000)
    item = body["items"]
    assert set(item["properties"]) == {"id", "original_id", "amount"}
    assert set(item["required"]) == {"id", "original_id", "amount"}
    assert item["properties"]["amount"]["type"] == "integer"


@pytest.mark.parametrize(
    ("path", "statuses"),
    [(TRANSACTIONS, points_api.TRANSACTION_STATUSES), (REFUNDS, points_api.REFUND_STATUSES)],
)
def test_each_items_answer_and_its_statuses_are_documented(schema, path, statuses):
    responses = schema["paths"][path]["post"]["responses"]
    assert set(responses) == {"200", "422"}
    ok = responses["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchOut"}
    assert all(status in ok["description"] for status in statuses)
    item = schema["components"]["schemas"]["ItemOut"]
    assert {"id", "status", "granted", "remaining"} <= set(item["required"])
    assert set(statuses) <= set(item["properties"]["status"]["enum"])


def test_every_status_the_service_gives_is_listed():
    every = set(ProviderTransaction.Status.values) | {"duplicate", "conflict"}
    assert set(points_api.TRANSACTION_STATUSES) | set(points_api.REFUND_STATUSES) == every


def test_the_response_keys_merge_with_ninjas_own():
    # openapi_extra is merged into ninja's operation; a "200" string key next to ninja's int 200 would give
    # the JSON schema the same key twice.
    for path in (TRANSACTIONS, REFUNDS):
        assert set(api.get_openapi_schema()["paths"][path]["post"]["responses"]) == {200, 422}


@pytest.fixture
def headers(campaign, provider):
    sandbox_account(provider, "acct-1")
    apply(make_resident(), campaign, provider, account="acct-1")
    return {"Authorization": f"Bearer {services.api_key_issue(provider=provider, actor=None)}"}


def test_a_bad_transaction_is_answered_invalid_and_the_others_are_recorded(client, headers):
    items = [
        tx("t1", 1000),
        {
            **tx("t2", 1000),
            "amount": "1000",
        },  # a string: the schema's item would coerce it, the service does not
        {**tx("t3", 1000), "kind": "refund"},
        {"id": "t4"},
        tx("t5", 2000),
    ]
    response = client.post(TRANSACTIONS, items, content_type="application/json", headers=headers)
    assert response.status_code == 200
    answers = response.json()["items"]
    assert [(a["id"], a["status"]) for a in answers] == [
        ("t1", "granted"),
        ("t2", "invalid"),
        ("t3", "invalid"),
        ("t4", "invalid"),
        ("t5", "granted"),
    ]
    assert all(a["message"] for a in answers if a["status"] == "invalid")
    assert PointAccount.objects.get().granted == 750


def test_a_bad_refund_is_answered_invalid_and_the_others_are_recorded(client, headers, provider):
    services.transactions_record(provider=provider, items=[tx("t1", 4000)])
    items = [
        {"id": "r1", "original_id": "t1", "amount": 2000},
        {"id": "r2", "original_id": "t1", "amount": "2000"},
        {"id": "r3", "amount": 100},
    ]
    response = client.post(REFUNDS, items, content_type="application/json", headers=headers)
    assert response.status_code == 200
    assert [(a["id"], a["status"], a["granted"]) for a in response.json()["items"]] == [
        ("r1", "clawed_back", -500),
        ("r2", "invalid", 0),
        ("r3", "invalid", 0),
    ]
    assert PointAccount.objects.get().granted == 500


def test_a_batch_outside_1_to_10000_items_is_still_refused_whole(client, headers):
    response = client.post(TRANSACTIONS, [], content_type="application/json", headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "invalid_batch"
