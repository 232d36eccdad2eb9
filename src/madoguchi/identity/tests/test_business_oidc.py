"""Business sign-in with GビズID, end to end: the platform's relying party (identity.oidc and the business views)
against the development provider, with the back channel (token, userinfo, discovery, JWKS) carried by a second
Django test client instead of the network. Then every refusal the relying party must make."""

import json
import logging
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

if "madoguchi.devidp" not in settings.INSTALLED_APPS:
    pytest.skip("the development OpenID provider is not installed", allow_module_level=True)

from joserfc import jwt  # noqa: E402
from joserfc.jwk import RSAKey  # noqa: E402

from madoguchi.core.codes import corporate_number_check_digit  # noqa: E402
from madoguchi.core.models import AuditRecord  # noqa: E402
from madoguchi.devidp import services as idp_services  # noqa: E402
from madoguchi.devidp.tests.fixtures import DevIdp, dev_idp_setup, settle_live_server  # noqa: E402
from madoguchi.identity import oidc  # noqa: E402
from madoguchi.identity.business_services import business_sign_in  # noqa: E402
from madoguchi.identity.models import Business, BusinessAccount, User  # noqa: E402

ISSUER = "http://testserver/dev-idp"


class BackChannelTransport:
    """The relying party's back channel through Django's test client (its own cookie jar: not the browser's).

    `hooks` may rewrite a response per endpoint path, to play a provider (or a network) that misbehaves.
    """

    hooks: dict = {}

    def __init__(self):
        self.client = Client()

    def _call(self, method: str, url: str, headers: dict[str, str], data: dict | None = None):
        parts = urlsplit(url)
        path = urlunsplit(("", "", parts.path, parts.query, ""))
        kwargs = {"headers": {**headers, "Host": parts.netloc}, "secure": parts.scheme == "https"}
        if method == "POST":
            response = self.client.post(
                path, urlencode(data), content_type="application/x-www-form-urlencoded", **kwargs
            )
        else:
            response = self.client.get(path, **kwargs)
        result = oidc.HttpResult(response.status_code, response.content)
        hook = self.hooks.get(parts.path)
        return hook(result) if hook else result

    def get(self, url, *, headers):
        return self._call("GET", url, headers)

    def post(self, url, *, data, headers):
        return self._call("POST", url, headers, data)


@pytest.fixture
def dev_idp(db) -> DevIdp:
    return dev_idp_setup()


@pytest.fixture(autouse=True)
def transport(monkeypatch):
    cache.clear()  # discovery and JWKS are cached per issuer; each test starts from a provider unseen
    monkeypatch.setattr(BackChannelTransport, "hooks", {})
    monkeypatch.setattr(oidc, "default_transport", BackChannelTransport)
    return BackChannelTransport


def start(browser: Client) -> str:
    """Press "GビズIDでログイン": returns the authorization URL the browser is sent to."""
    response = browser.post(reverse("business:sign_in"))
    assert response.status_code == 302
    assert response["Location"].startswith(ISSUER + "/oauth/authorize?")
    return response["Location"]


def consent(browser: Client, authorization_url: str, account, decision: str = "allow") -> str:
    """The user picks the account on the provider's page: returns the callback URL the browser is sent to."""
    page = browser.get(authorization_url)
    assert page.status_code == 200
    response = browser.post(
        reverse("devidp:authorize"), {**page.context["hidden"], "account": account.pk, "decision": decision}
    )
    assert response.status_code == 302
    return response["Location"]


def sign_in(browser: Client, account):
    return browser.get(consent(browser, start(browser), account))


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def tamper_session(browser: Client, **changes):
    session = browser.session
    session[oidc.SESSION_KEY] = {**session[oidc.SESSION_KEY], **changes}
    session.save()


def signed_in_user(browser: Client):
    user_id = browser.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(response, code: str, status: int = 400):
    assert response.status_code == status, response.content[:500]
    assert response.context["error_code"] == code
    assert "identity/business/error.html" in [t.name for t in response.templates]


# --- The flow ----------------------------------------------------------------------------------------------
def test_prime_account_of_a_corporation_signs_in(client, dev_idp):
    account = dev_idp.account("tech-prime")
    response = sign_in(client, account)
    assert response.status_code == 302
    assert response["Location"] == reverse("business:home")

    business = Business.objects.get(corporate_number=account.corporate_number)
    assert business.corp_type == Business.CorpType.CORPORATION
    assert business.name == "株式会社窓口テック"
    assert business.prefecture == "東京都"
    business_account = BusinessAccount.objects.get(issuer=ISSUER, subject=account.subject)
    assert business_account.business == business
    assert business_account.account_type == BusinessAccount.AccountType.PRIME
    assert business_account.name == "窓口 太郎"
    assert business_account.email == "taro@madoguchi-tech.example"
    assert signed_in_user(client) == business_account.user
    assert not business_account.user.has_usable_password()

    home = client.get(reverse("business:home"))
    assert home.status_code == 200
    html = home.content.decode()
    assert "株式会社窓口テック" in html and account.corporate_number in html
    assert 'data-jgrants="yes"' in html
    assert f'data-account-type="{BusinessAccount.AccountType.PRIME}"' in html


def test_sign_in_is_audited_without_personal_data(client, dev_idp):
    account = dev_idp.account("tech-prime")
    sign_in(client, account)
    record = AuditRecord.objects.get(action="identity.business_sign_in")
    assert record.target_type == "identity.businessaccount"
    assert record.details["corporate_number"] == account.corporate_number
    assert record.details["account_type"] == 2
    text = json.dumps(record.details, ensure_ascii=False) + record.actor_label
    for personal in (account.user_name, account.email, account.user_phone, account.user_department):
        assert personal not in text


def test_member_of_the_same_corporation_joins_the_same_business(dev_idp):
    prime, member = dev_idp.account("tech-prime"), dev_idp.account("tech-member")
    sign_in(Client(), prime)
    browser = Client()
    sign_in(browser, member)
    business = Business.objects.get(corporate_number=prime.corporate_number)
    assert Business.objects.count() == 1
    assert set(business.accounts.values_list("account_type", flat=True)) == {2, 3}
    assert 'data-jgrants="yes"' in browser.get(reverse("business:home")).content.decode()


def test_entry_account_is_distinguishable_and_limited_for_jgrants(client, dev_idp):
    entry = dev_idp.account("minato-entry")
    sign_in(client, entry)
    business_account = BusinessAccount.objects.get(subject=entry.subject)
    assert business_account.account_type == BusinessAccount.AccountType.ENTRY
    assert not business_account.may_use_jgrants
    assert business_account.business.corporate_number == entry.corporate_number
    assert 'data-jgrants="limited"' in client.get(reverse("business:home")).content.decode()


def test_sole_proprietor_gets_a_business_of_its_own_and_keeps_it(dev_idp):
    sole = dev_idp.account("yamada-prime")
    sign_in(Client(), sole)
    sign_in(Client(), sole)
    business_account = BusinessAccount.objects.get(subject=sole.subject)
    assert business_account.business.corp_type == Business.CorpType.SOLE_PROPRIETOR
    assert business_account.business.corporate_number is None
    assert Business.objects.count() == 1
    assert BusinessAccount.objects.count() == 1
    assert User.objects.filter(username__startswith="gbizid-").count() == 1


def test_second_sign_in_refreshes_details(dev_idp):
    account = dev_idp.account("tech-prime")
    sign_in(Client(), account)
    account.user_department = "経営企画部"
    account.address = "千代田区窓口町二丁目"
    account.save()
    sign_in(Client(), account)
    business_account = BusinessAccount.objects.get(subject=account.subject)
    assert business_account.department == "経営企画部"
    assert business_account.business.address == "千代田区窓口町二丁目"
    assert AuditRecord.objects.filter(action="identity.business_sign_in").count() == 2


def test_next_url_is_kept_but_only_on_this_site(client, dev_idp):
    response = client.post(reverse("business:sign_in"), {"next": "/search/"})
    callback = consent(client, response["Location"], dev_idp.account("tech-prime"))
    assert client.get(callback)["Location"] == "/search/"

    other = Client()
    response = other.post(reverse("business:sign_in"), {"next": "https://evil.example/"})
    callback = consent(other, response["Location"], dev_idp.account("tech-prime"))
    assert other.get(callback)["Location"] == reverse("business:home")


def test_sign_in_page_has_the_gbizid_button(client, db):
    response = client.get(reverse("business:sign_in"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'method="post"' in html and "csrfmiddlewaretoken" in html
    assert "GビズID" in html


def test_home_needs_a_business_sign_in(client, db):
    response = client.get(reverse("business:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("business:sign_in"))
    staff = User.objects.create_user(username="clerk", password="correct horse battery")
    client.force_login(staff)
    assert client.get(reverse("business:home")).status_code == 403


def test_jwks_is_fetched_again_when_the_provider_rotates_its_key(client, dev_idp):
    stale = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    jwks_uri = ISSUER + "/jwks"
    cache.set(oidc._cache_key("jwks", jwks_uri), {"keys": [stale.as_dict(private=False)]})
    response = sign_in(client, dev_idp.account("tech-prime"))
    assert response.status_code == 302
    assert signed_in_user(client) is not None


# --- Refusals ----------------------------------------------------------------------------------------------
def test_wrong_state_is_refused(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    response = client.get(with_query(callback, state="forged-state"))
    assert_refused(response, "state_mismatch")
    assert signed_in_user(client) is None
    assert not BusinessAccount.objects.exists()


def test_state_that_is_not_ascii_is_refused(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    assert_refused(client.get(with_query(callback, state="状態")), "state_mismatch")


def test_callback_without_a_sign_in_in_progress_is_refused(client, dev_idp):
    callback = consent(Client(), start(Client()), dev_idp.account("tech-prime"))
    assert_refused(client.get(callback), "no_sign_in")


def test_callback_is_good_once(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    assert client.get(callback).status_code == 302
    assert_refused(client.get(callback), "no_sign_in")


def test_replayed_code_is_refused_by_the_provider(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    assert client.get(callback).status_code == 302
    # An attacker puts the used code into a sign-in of their own.
    attacker = Client()
    start(attacker)
    state = attacker.session[oidc.SESSION_KEY]["state"]
    response = attacker.get(with_query(callback, state=state))
    assert_refused(response, "token_refused")
    assert response.context["error"].provider_error == "invalid_grant"
    assert signed_in_user(attacker) is None


def test_expired_code_is_refused(client, dev_idp):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        callback = consent(client, start(client), dev_idp.account("tech-prime"))
        traveller.shift(timedelta(minutes=5, seconds=1))
        response = client.get(callback)
    assert_refused(response, "token_refused")
    assert response.context["error"].provider_error == "invalid_grant"


def test_sign_in_left_too_long_is_refused(client, dev_idp):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        callback = consent(client, start(client), dev_idp.account("tech-prime"))
        traveller.shift(timedelta(minutes=11))
        assert_refused(client.get(callback), "no_sign_in")


def test_wrong_pkce_verifier_is_refused(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    tamper_session(client, code_verifier="x" * 64)
    response = client.get(callback)
    assert_refused(response, "token_refused")
    assert response.context["error"].provider_error == "invalid_grant"


def test_wrong_client_secret_is_refused(client, dev_idp, settings):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    settings.GBIZID_CLIENT_SECRET = "not-the-secret"
    response = client.get(callback)
    assert_refused(response, "token_refused")
    assert response.context["error"].provider_error == "invalid_client"


def test_unregistered_redirect_uri_stops_at_the_provider(dev_idp):
    # The platform on another host name asks to come back to a URI the provider does not know.
    browser = Client(HTTP_HOST="localhost")
    response = browser.post(reverse("business:sign_in"))
    authorization_url = response["Location"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fbusiness%2Fcallback%2F" in authorization_url
    page = browser.get(authorization_url)
    assert page.status_code == 400
    assert "Location" not in page
    assert "devidp/error.html" in [t.name for t in page.templates]


def test_redirect_uri_differing_at_the_token_request_is_refused(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    tamper_session(client, redirect_uri="http://testserver/business/other-callback/")
    response = client.get(callback)
    assert_refused(response, "token_refused")
    assert response.context["error"].provider_error == "invalid_grant"


def test_wrong_nonce_is_refused(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    tamper_session(client, nonce="another-nonce")
    assert_refused(client.get(callback), "nonce_mismatch")
    assert not BusinessAccount.objects.exists()


def rewrite_id_token(transport, change):
    """Make the token endpoint's answer carry `change(id_token)` instead of the provider's ID token."""

    def hook(result):
        body = result.json()
        if "id_token" in body:
            body["id_token"] = change(body["id_token"])
        return oidc.HttpResult(result.status, json.dumps(body).encode())

    transport.hooks["/dev-idp/oauth/token"] = hook


def resign(**claim_changes):
    """An ID token re-signed with the provider's own key, with some claims changed (or removed: None)."""

    def change(id_token):
        key = idp_services.signing_key()
        claims = jwt.decode(id_token, key, algorithms=["RS256"]).claims
        for name, value in claim_changes.items():
            if value is None:
                claims.pop(name)
            else:
                claims[name] = value
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key, algorithms=["RS256"])

    return change


def test_tampered_id_token_is_refused(client, dev_idp, transport):
    def swap_payload(id_token):
        header, _payload, signature = id_token.split(".")
        forged = resign(sub="someone-else")(id_token).split(".")[1]
        return f"{header}.{forged}.{signature}"

    rewrite_id_token(transport, swap_payload)
    response = sign_in(client, dev_idp.account("tech-prime"))
    assert_refused(response, "id_token_signature")
    assert signed_in_user(client) is None


def test_id_token_signed_by_another_key_is_refused(client, dev_idp, transport):
    intruder = RSAKey.generate_key(2048, auto_kid=True)

    def sign_with_intruder(id_token):
        claims = jwt.decode(id_token, idp_services.signing_key(), algorithms=["RS256"]).claims
        kid = idp_services.signing_key().kid  # claims to be the provider's key
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, intruder, algorithms=["RS256"])

    rewrite_id_token(transport, sign_with_intruder)
    assert_refused(sign_in(client, dev_idp.account("tech-prime")), "id_token_signature")


def test_unsigned_id_token_is_refused(client, dev_idp, transport):
    def strip_signature(id_token):
        import base64

        claims = id_token.split(".")[1]
        header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        return f"{header}.{claims}."

    rewrite_id_token(transport, strip_signature)
    assert_refused(sign_in(client, dev_idp.account("tech-prime")), "id_token_invalid")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"iss": "https://other-idp.example"}, "issuer_mismatch"),
        ({"aud": "another-client"}, "audience_mismatch"),
        ({"aud": ["another-client", "third"]}, "audience_mismatch"),
        ({"exp": int(time.time()) - 3600}, "id_token_expired"),
        ({"iat": int(time.time()) + 3600}, "id_token_invalid"),
        ({"nonce": None}, "nonce_mismatch"),
        ({"sub": None}, "id_token_invalid"),
    ],
    ids=["wrong issuer", "wrong audience", "audience list without us", "expired", "issued in the future",
         "no nonce", "no sub"],
)  # fmt: skip
def test_id_token_claims_are_checked(client, dev_idp, transport, changes, code):
    rewrite_id_token(transport, resign(**changes))
    assert_refused(sign_in(client, dev_idp.account("tech-prime")), code)
    assert not BusinessAccount.objects.exists()


def test_userinfo_of_another_subject_is_refused(client, dev_idp, transport):
    def other_subject(result):
        return oidc.HttpResult(result.status, json.dumps({**result.json(), "sub": "someone-else"}).encode())

    transport.hooks["/dev-idp/oauth/userinfo"] = other_subject
    assert_refused(sign_in(client, dev_idp.account("tech-prime")), "subject_mismatch")


def test_corporate_number_with_a_wrong_check_digit_is_refused(client, dev_idp):
    account = dev_idp.account("tech-prime")
    good = account.corporate_number
    account.corporate_number = str((int(good[0]) + 1) % 10) + good[1:]
    account.save()
    assert_refused(sign_in(client, account), "invalid_claims")
    assert not Business.objects.exists()


def test_cancel_at_the_provider(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"), decision="deny")
    response = client.get(callback)
    assert_refused(response, "access_denied")
    assert response.context["error"].provider_error == "access_denied"


def test_provider_error_text_is_not_reflected(client, dev_idp):
    start(client)
    state = client.session[oidc.SESSION_KEY]["state"]
    query = urlencode({"state": state, "error": "<script>alert(1)</script>"})
    response = client.get(reverse("business:callback") + "?" + query)
    assert_refused(response, "provider_error")
    assert b"<script>alert(1)" not in response.content


def test_issuer_in_the_callback_must_be_ours(client, dev_idp):
    callback = consent(client, start(client), dev_idp.account("tech-prime"))
    assert_refused(client.get(with_query(callback, iss="https://other-idp.example")), "issuer_mismatch")


def test_provider_that_cannot_be_reached(client, dev_idp, transport):
    def down(result):
        return oidc.HttpResult(503, b"<html>maintenance</html>")

    transport.hooks["/dev-idp/.well-known/openid-configuration"] = down
    assert_refused(client.post(reverse("business:sign_in")), "provider_unavailable", status=502)


def test_suspended_account_is_refused(client, dev_idp):
    account = dev_idp.account("tech-prime")
    sign_in(Client(), account)
    User.objects.filter(business_account__subject=account.subject).update(is_active=False)
    assert_refused(sign_in(client, account), "account_suspended", status=403)


def test_errors_log_nothing_personal(client, dev_idp, caplog):
    account = dev_idp.account("tech-prime")
    callback = consent(client, start(client), account)
    tamper_session(client, nonce="another-nonce")
    with caplog.at_level(logging.DEBUG):
        client.get(callback)
    logged = caplog.text
    assert "nonce_mismatch" in logged
    code = parse_qs(urlsplit(callback).query)["code"][0]
    for secret in (code, account.user_name, account.corporate_name, account.email, "another-nonce"):
        assert secret not in logged


# --- The service on its own --------------------------------------------------------------------------------
def corporation_claims(**changes) -> dict:
    base = "999900000042"
    claims = {
        "sub": "subject-1",
        "account_type": "2",
        "corp_type": "1",
        "corporate_number": corporate_number_check_digit(base) + base,
        "name": "株式会社テスト",
        "user_name": "試験 太郎",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "changes",
    [
        {"corporate_number": None},
        {"corporate_number": "123"},
        {"account_type": "9"},
        {"account_type": None},
        {"corp_type": "x"},
        {"name": ""},
        {"sub": ""},
    ],
)
def test_business_sign_in_refuses_claims_that_cannot_identify_the_business(db, changes):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        business_sign_in(issuer=ISSUER, claims=corporation_claims(**changes))
    assert not Business.objects.exists() and not User.objects.exists()


def test_business_sign_in_accepts_integer_claims_and_ignores_a_bad_email(db):
    account = business_sign_in(
        issuer=ISSUER, claims=corporation_claims(account_type=3, corp_type=1, email="not an address")
    )
    assert account.account_type == BusinessAccount.AccountType.MEMBER
    assert account.email == ""


def test_same_subject_at_another_issuer_is_another_account(db):
    first = business_sign_in(issuer=ISSUER, claims=corporation_claims())
    second = business_sign_in(issuer="https://gbiz-id.example", claims=corporation_claims())
    assert first.pk != second.pk
    assert first.business_id == second.business_id  # the same 法人番号 is the same business


# --- Over real HTTP ----------------------------------------------------------------------------------------
@pytest.fixture
def settled_live_server(live_server):
    yield live_server
    settle_live_server()


def test_sign_in_over_http_with_the_production_transport(settled_live_server, monkeypatch):
    """The relying party's own back channel (`requests`) against the provider in the same live server, as in
    development with `runserver`."""
    import requests

    from madoguchi.devidp.tests.test_live_flow import FormReader

    monkeypatch.setattr(oidc, "default_transport", oidc.RequestsTransport)
    dev_idp = dev_idp_setup()
    idp_services.client_register(
        client_id=dev_idp.client_id,
        secret=dev_idp.client_secret,
        name="Madoguchi",
        redirect_uris=[settled_live_server.url + "/business/callback/"],
    )
    member = dev_idp.account("tech-member")
    with requests.Session() as browser:
        page = browser.get(settled_live_server.url + reverse("business:sign_in"), timeout=10)
        form = FormReader()
        form.feed(page.text)
        token = {"csrfmiddlewaretoken": form.hidden["csrfmiddlewaretoken"]}
        to_idp = browser.post(page.url, data=token, allow_redirects=False, timeout=10)
        assert to_idp.status_code == 302
        consent_page = browser.get(to_idp.headers["Location"], timeout=10)
        form = FormReader()
        form.feed(consent_page.text)
        home = browser.post(
            settled_live_server.url + reverse("devidp:authorize"),
            data={**form.hidden, "account": member.pk, "decision": "allow"},
            timeout=10,
        )
    assert home.status_code == 200
    assert home.url == settled_live_server.url + reverse("business:home")
    assert 'data-jgrants="yes"' in home.text
    account = BusinessAccount.objects.get(subject=member.subject)
    assert account.issuer == settled_live_server.url + "/dev-idp"
    assert account.account_type == BusinessAccount.AccountType.MEMBER
