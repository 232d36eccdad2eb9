"""The sandbox provider's confirmation endpoint through the WSGI entry point, as gunicorn calls it: a
cookie-less call takes the short machine-API middleware stack and answers as the protocol says; odd input is
refused with the protocol's answers, never a server error."""

import json
import secrets

import pytest

from madoguchi.conf.wsgi import application
from madoguchi.core.handlers import MACHINE_API_PATH
from madoguchi.core.tests.wsgi import call
from madoguchi.points.models import PaymentProvider
from madoguchi.points.providers import sign
from madoguchi.sandboxpay.models import SandboxAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> PaymentProvider:
    provider = PaymentProvider.objects.create(
        code="sandbox-qr", name="sandbox", type=PaymentProvider.Type.QR, modes=["charge"],
        callback_url="http://testserver/sandbox-pay/sandbox-qr/confirm", callback_secret=secrets.token_hex(16),
    )  # fmt: skip
    SandboxAccount.objects.create(provider_code=provider.code, account="acct-1", security_code="321")
    return provider


def _confirm(provider, payload, *, signature: str | None = None, **headers) -> dict:
    body = json.dumps(payload).encode()  # ASCII: a lone surrogate goes as the JSON escape \ud800
    signature = sign(body, provider.callback_secret) if signature is None else signature
    return call(f"/sandbox-pay/{provider.code}/confirm", raw=body, x_madoguchi_signature=signature, **headers)


def test_the_confirmation_takes_the_short_stack_without_a_cookie():
    path = "/sandbox-pay/sandbox-qr/confirm"
    assert MACHINE_API_PATH.match(path)
    assert application.handler_for({"PATH_INFO": path}) is application.machine
    assert application.handler_for({"PATH_INFO": path, "HTTP_COOKIE": "sessionid=x"}) is application.full
    for other in ("/sandbox-pay/sandbox-qr/confirm/", "/sandbox-pay/a/b/confirm", "/sandbox-pay/", "/x/sandbox-pay/a/confirm"):  # fmt: skip
        assert application.handler_for({"PATH_INFO": other}) is application.full, other


def test_answers_through_either_stack(provider):
    good = {"account": "acct-1", "security_code": "321", "campaign": "c", "nonce": "n"}
    for cookie in ({}, {"cookie": "sessionid=x"}):
        done = _confirm(provider, good, **cookie)
        assert done["status"] == 200 and json.loads(done["body"]) == {"confirmed": True, "reason": ""}
        assert done["handler"] is (application.full if cookie else application.machine)
        assert done["headers"]["Content-Type"] == "application/json"
        assert cookie or "Set-Cookie" not in done["headers"]
    assert (
        json.loads(_confirm(provider, {**good, "security_code": "000"})["body"])["reason"]
        == "no_such_account"
    )
    refused = _confirm(provider, good, signature="sha256=00")
    assert refused["status"] == 401 and json.loads(refused["body"])["reason"] == "bad_signature"
    assert _confirm(provider, good | {"x": 1}, signature="")["status"] == 401  # no signature at all
    unknown = call("/sandbox-pay/nobody/confirm", good, x_madoguchi_signature="sha256=00")
    assert unknown["status"] == 404 and json.loads(unknown["body"])["reason"] == "unknown_provider"
    assert call(f"/sandbox-pay/{provider.code}/confirm", method="GET")["status"] == 405


def test_odd_characters_are_refused_not_a_server_error(provider):
    good = {"account": "acct-1", "security_code": "321"}
    # A signature header with characters outside ASCII (WSGI hands them over as latin-1).
    refused = _confirm(provider, good, signature="sha256=\u00e9\u00e9")
    assert refused["status"] == 401 and json.loads(refused["body"])["reason"] == "bad_signature"
    for code in ("３２１", "\ud800", "321\x00"):
        answer = _confirm(provider, {**good, "security_code": code})
        assert answer["status"] == 200, code
        assert json.loads(answer["body"]) == {"confirmed": False, "reason": "no_such_account"}
