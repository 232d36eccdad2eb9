"""The machine APIs through the WSGI entry point (madoguchi.conf.wsgi): cookie-less requests to the providers'
API and the e-application submissions take the short middleware stack (core/handlers.py) and behave as they do
through the full one; anything else, or the same URL with a cookie, takes the full stack."""

import json

import pytest

from madoguchi.conf.wsgi import application
from madoguchi.core.handlers import MACHINE_API_PATH
from madoguchi.core.tests.wsgi import call
from madoguchi.points import services
from madoguchi.points.models import PointAccount
from madoguchi.points.tests.conftest import make_resident, sandbox_account
from madoguchi.points.tests.test_flow import apply, tx
from madoguchi.procedures.formengine import my_number_check_digit

pytestmark = pytest.mark.django_db(transaction=False)

MY_NUMBER = "12345678901" + my_number_check_digit("12345678901")


def test_which_requests_take_the_short_stack():
    for path in ("/api/v1/points/transactions", "/api/v1/points/refunds", "/api/v1/points/statements",
                 "/api/v1/points/statements/12/claim",
                 "/api/v1/procedures/municipalities/131016/procedures/inu-toroku/submissions"):  # fmt: skip
        assert MACHINE_API_PATH.match(path), path
        assert application.handler_for({"PATH_INFO": path}) is application.machine
        assert application.handler_for({"PATH_INFO": path, "HTTP_COOKIE": "sessionid=x"}) is application.full
    for path in ("/api/v1/points/fixed-grants", "/api/v1/auth/jpki/login", "/api/v1/staff/me", "/points/",
                 "/api/v1/points/transactions/", "/api/v1/points/transactionsX"):  # fmt: skip
        assert application.handler_for({"PATH_INFO": path}) is application.full, path


def test_provider_api_through_the_short_stack(campaign, provider):
    sandbox_account(provider, "acct-1")
    apply(make_resident(), campaign, provider)
    key = services.api_key_issue(provider=provider, actor=None)
    refused = call("/api/v1/points/transactions", [tx("t1", 1000)])
    assert refused["status"] == 401 and refused["handler"] is application.machine
    done = call("/api/v1/points/transactions", [tx("t1", 1000)], authorization=f"Bearer {key}")
    assert done["status"] == 200 and done["handler"] is application.machine
    assert json.loads(done["body"])["items"][0]["granted"] == 250
    # What the security middleware adds is there; nothing of a session is.
    assert done["headers"].get("X-Content-Type-Options") == "nosniff"
    assert "Set-Cookie" not in done["headers"]
    assert PointAccount.objects.get().granted == 250


def test_the_my_number_guard_and_the_language_hold_on_the_short_stack():
    path = f"/api/v1/procedures/municipalities/131016/procedures/{MY_NUMBER}/submissions"
    guarded = call(path, {})
    assert guarded["handler"] is application.machine and guarded["status"] == 400
    assert MY_NUMBER.encode() not in guarded["body"]
    missing = call("/api/v1/procedures/municipalities/131016/procedures/nope/submissions", {},
                   accept_language="en")  # fmt: skip
    assert missing["status"] == 404 and missing["headers"].get("Content-Language") == "en"
    assert json.loads(missing["body"])["message"] == "There is no such procedure in this municipality."


def test_an_unknown_host_is_refused_on_both_stacks():
    """The short stack checks the Host header as the full stack's CommonMiddleware does."""
    path = "/api/v1/points/transactions"
    short = call(path, [tx("h1", 100)], host="evil.example", authorization="Bearer mpk_x_y")
    assert short["handler"] is application.machine and short["status"] == 400
    full = call(path, [tx("h1", 100)], host="evil.example", authorization="Bearer mpk_x_y", cookie="a=b")
    assert full["handler"] is application.full and full["status"] == 400
    assert (
        call(path, [tx("h1", 100)], authorization="Bearer mpk_x_y")["status"] == 401
    )  # testserver is allowed
