"""The online grant's lane (points.api.transactions_lane, wired in madoguchi.conf.wsgi): a one-item request is
answered before the URL is resolved, with the same bytes and headers the router's view gives; anything else is
left to the router, which answers it as before, with nothing written in between."""

import json

import pytest
from django.utils import timezone

from madoguchi.conf.wsgi import application
from madoguchi.core.handlers import Dispatcher
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.wsgi import call
from madoguchi.points import api
from madoguchi.points.models import PointAccount, ProviderTransaction
from madoguchi.points.tests.test_flow import tx

pytestmark = pytest.mark.django_db(transaction=False)

PATH = "/api/v1/points/transactions"
ROUTER_ONLY = Dispatcher()  # the same handlers without the lane


class Spy:
    """The lane, counting what it answered itself and what it left to the router."""

    def __init__(self):
        self.answered = self.passed = 0

    def __call__(self, request):
        response = api.transactions_lane(request)
        if response is None:
            self.passed += 1
        else:
            self.answered += 1
        return response


@pytest.fixture
def spy():
    spy = Spy()
    return spy, Dispatcher(lanes={PATH: spy})


def test_the_entry_point_has_the_lane():
    assert application.machine.lanes == {PATH: api.transactions_lane}
    with pytest.raises(ValueError, match="machine-API path"):
        Dispatcher(lanes={"/points/": api.transactions_lane})


def test_a_grant_through_the_lane_reads_as_the_routers_answer(key, spy):
    spy, app = spy
    item = tx("t1", 1000)
    first = call(PATH, [item], app=app, authorization=key)
    assert spy.answered == 1 and spy.passed == 0
    assert first["status"] == 200
    assert json.loads(first["body"]) == {
        "items": [{"id": "t1", "status": "granted", "granted": 250, "remaining": 4750, "message": None}]
    }
    # The same item again through the router alone: the stored answer, byte for byte, with the same headers.
    again = call(PATH, [item], app=ROUTER_ONLY, authorization=key)
    assert again["status"] == 200 and again["body"] == first["body"]
    assert again["headers"] == first["headers"]
    # And the other way round: a first answer from the router, replayed by the lane.
    capped = tx("t2", 40000)
    by_router = call(PATH, [capped], app=ROUTER_ONLY, authorization=key)
    by_lane = call(PATH, [capped], app=app, authorization=key)
    assert spy.answered == 2
    assert by_lane["body"] == by_router["body"] and by_lane["headers"] == by_router["headers"]
    assert json.loads(by_lane["body"])["items"][0] == {
        "id": "t2",
        "status": "capped",
        "granted": 4750,
        "remaining": 0,
        "message": None,
    }
    assert PointAccount.objects.get(service_account="acct-1").granted == 5000
    assert ProviderTransaction.objects.count() == 2
    assert AuditRecord.objects.filter(action="points.transactions_record").count() == 2
    for header, value in (("X-Content-Type-Options", "nosniff"), ("Content-Language", "ja"),
                          ("Content-Type", "application/json; charset=utf-8")):  # fmt: skip
        assert first["headers"].get(header) == value, header


def test_every_outcome_without_a_message_is_answered_by_the_lane(key, spy, campaign):
    spy, app = spy
    answers = [
        json.loads(call(PATH, [item], app=app, authorization=key)["body"])["items"][0]["status"]
        for item in (tx("a", 100, account="acct-2"), tx("b", 100, account="nobody"),
                     tx("c", 100, account="acct-2", kind="purchase"),
                     tx("d", 100, account="acct-2", at=campaign.earning_ends_at.replace(year=2099)))
    ]  # fmt: skip
    assert answers == ["granted", "not_enrolled", "wrong_mode", "outside_period"]
    assert spy.answered == 4 and spy.passed == 0


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ([tx("m1", 100), tx("m2", 100)], {}, 200),  # two items: the router's batch path
        ([], {}, 422),  # no item
        ({"id": "x"}, {}, 422),  # not a list
        ([tx("m3", 100)], {"authorization": "Bearer mpk_nope_nope"}, 401),  # a wrong key
        ([tx("m4", 100)], {"authorization": "Basic abc"}, 401),  # not a bearer key
    ],
)
def test_anything_else_is_left_to_the_router(key, spy, body, headers, status):
    spy, app = spy
    if isinstance(body, list):  # the items were built at collection, before the account was enrolled
        body = [{**item, "occurred_at": timezone.now().isoformat()} for item in body]
    headers = {"authorization": key, **headers}
    through_lane = call(PATH, body, app=app, **headers)
    assert spy.answered == 0 and spy.passed == 1
    assert through_lane["status"] == status
    if status == 200:
        assert [i["status"] for i in json.loads(through_lane["body"])["items"]] == ["granted", "granted"]


def test_an_invalid_item_gets_the_routers_words(key, spy):
    spy, app = spy
    bad = [{"id": "m5", "account": "acct-1", "kind": "charge", "amount": -5, "occurred_at": "x"}]
    by_lane = call(PATH, bad, app=app, authorization=key, accept_language="en")
    by_router = call(PATH, bad, app=ROUTER_ONLY, authorization=key, accept_language="en")
    assert spy.answered == 1
    assert by_lane["body"] == by_router["body"] and by_lane["headers"] == by_router["headers"]
    item = json.loads(by_lane["body"])["items"][0]
    assert item["status"] == "invalid" and "amount must be between 1 and 100,000,000 yen" in item["message"]
    assert not ProviderTransaction.objects.exists()


def test_malformed_json_and_another_content_type_go_to_the_router(key, spy):
    spy, app = spy
    broken = call(PATH, raw=b'[{"id": "x",', app=app, authorization=key)
    assert broken["status"] in (400, 422) and spy.passed == 1
    text = json.dumps([tx("f1", 100)]).encode()
    form = call(PATH, raw=text, content_type="text/plain", app=app, authorization=key)
    assert spy.answered == 0 and spy.passed == 2
    assert form == {**call(PATH, raw=text, content_type="text/plain", app=ROUTER_ONLY, authorization=key),
                    "handler": app.machine}  # fmt: skip
    # Whatever the router made of the text/plain body, the lane added nothing to it.
    assert ProviderTransaction.objects.filter(external_id="f1").count() == (1 if form["status"] == 200 else 0)


def test_a_body_too_deep_or_too_large_gets_the_routers_answer(key, spy, settings):
    """The lane never turns a body it cannot read into a 500: the router answers, after the key as always."""
    spy, app = spy
    deep = b"[" * 100_000 + b"]" * 100_000
    for authorization, status in ((key, 400), ("Bearer mpk_nope_nope", 401)):
        by_lane = call(PATH, raw=deep, app=app, authorization=authorization)
        assert by_lane["status"] == status
        assert by_lane == {
            **call(PATH, raw=deep, app=ROUTER_ONLY, authorization=authorization),
            "handler": app.machine,
        }
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    large = json.dumps([tx("big", 100, account="a" * 200)]).encode()
    assert call(PATH, raw=large, app=app, authorization="Bearer mpk_nope_nope")["status"] == 401
    assert (
        call(PATH, raw=large, app=app, authorization=key)["status"]
        == call(PATH, raw=large, app=ROUTER_ONLY, authorization=key)["status"]
    )
    assert spy.answered == 0 and not ProviderTransaction.objects.exists()


def test_a_conflict_is_answered_in_the_clients_language(key, spy):
    spy, app = spy
    call(PATH, [tx("c1", 100)], app=app, authorization=key)
    changed = call(PATH, [tx("c1", 999)], app=app, authorization=key, accept_language="en")
    item = json.loads(changed["body"])["items"][0]
    assert item["status"] == "conflict" and item["message"] == "this id was sent before with other content"
    assert changed["headers"]["Content-Language"] == "en"
    assert PointAccount.objects.get(service_account="acct-1").granted == 25
