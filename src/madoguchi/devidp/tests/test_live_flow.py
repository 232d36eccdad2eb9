"""The whole authorization code flow against the provider served over real HTTP (pytest-django's live_server),
driven by a third-party OpenID Connect client: authlib's OAuth2Session with PKCE S256, the ID token checked
with joserfc's JWS and authlib's OpenID Connect claim rules (authlib.jose is deprecated in favour of joserfc)."""

import io
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from django.conf import settings
from joserfc import jwt
from joserfc.jwk import KeySet

from madoguchi.devidp import demo, services
from madoguchi.devidp.models import DemoAccount
from madoguchi.devidp.tests.fixtures import settle_live_server

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never followed: the test reads the Location header


class FormReader(HTMLParser):
    """The consent form's inputs: hidden fields (with the CSRF token) and the account radio buttons."""

    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.accounts: list[str] = []
        self.labels: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.hidden[attrs["name"]] = attrs.get("value", "")
        if tag == "input" and attrs.get("type") == "radio" and attrs.get("name") == "account":
            self.accounts.append(attrs["value"])
            self.ids.add(attrs["id"])
        if tag == "label" and "for" in attrs:
            self.labels.add(attrs["for"])


@pytest.fixture
def provider(live_server):
    demo.load_demo(stdout=io.StringIO())
    services.client_register(
        client_id=settings.GBIZID_CLIENT_ID,
        secret=settings.GBIZID_CLIENT_SECRET,
        name="authlib test client",
        redirect_uris=[REDIRECT_URI],
    )
    metadata = requests.get(live_server.url + "/dev-idp/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == live_server.url + "/dev-idp"
    return metadata


@pytest.fixture
def oauth_session():
    """Makes authlib clients, and closes them after the test."""
    sessions = []

    def make() -> OAuth2Session:
        session = OAuth2Session(
            client_id=settings.GBIZID_CLIENT_ID,
            client_secret=settings.GBIZID_CLIENT_SECRET,
            scope="openid profile user email",
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
    settle_live_server()


def consent(authorization_url: str, account_key: str, decision: str = "allow") -> str:
    """What the user's browser does: open the page, pick the account, press the button. Returns Location."""
    with requests.Session() as browser:
        page = browser.get(authorization_url, timeout=10)
        assert page.status_code == 200
        form = FormReader()
        form.feed(page.text)
        assert form.ids <= form.labels  # every radio button has its label
        account = DemoAccount.objects.get(key=account_key)
        assert str(account.pk) in form.accounts
        answer = browser.post(
            authorization_url.split("?")[0],
            data={**form.hidden, "account": account.pk, "decision": decision},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def test_authorization_code_flow_with_pkce(provider, oauth_session):
    session = oauth_session()
    code_verifier = generate_token(64)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    assert "code_challenge=" in url and "code_challenge_method=S256" in url

    callback = consent(url, "tech-prime")
    assert callback.startswith(REDIRECT_URI + "?")

    token = session.fetch_token(
        provider["token_endpoint"], authorization_response=callback, state=state, code_verifier=code_verifier
    )
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600

    jwks = KeySet.import_key_set(requests.get(provider["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={
            "iss": {"essential": True, "value": provider["issuer"]},
            "aud": {"essential": True, "value": settings.GBIZID_CLIENT_ID},
        },
        params={"nonce": nonce, "client_id": settings.GBIZID_CLIENT_ID},
    )
    claims.validate(leeway=60)
    assert set(claims) == {"sub", "aud", "iss", "exp", "iat", "auth_time", "nonce", "jti"}

    info = session.get(provider["userinfo_endpoint"], timeout=10).json()
    assert info["sub"] == claims["sub"]
    assert info["account_type"] == "2"
    assert info["name"] == "株式会社窓口テック"
    assert info["user_name"] == "窓口 太郎"
    assert info["email"].endswith(".example")


def test_replayed_code_is_refused_over_http(provider, oauth_session):
    session = oauth_session()
    code_verifier = generate_token(64)
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=code_verifier, nonce="n"
    )
    callback = consent(url, "tech-member")
    session.fetch_token(
        provider["token_endpoint"], authorization_response=callback, state=state, code_verifier=code_verifier
    )
    with pytest.raises(OAuthError) as refused:
        oauth_session().fetch_token(
            provider["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=code_verifier,
        )
    assert refused.value.error == "invalid_grant"


def test_wrong_verifier_and_wrong_secret_over_http(provider, oauth_session):
    session = oauth_session()
    code_verifier = generate_token(64)
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=code_verifier, nonce="n"
    )
    callback = consent(url, "minato-entry")
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(
            provider["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=generate_token(64),
        )
    assert refused.value.error == "invalid_grant"

    response = requests.post(
        provider["token_endpoint"],
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI},
        auth=(settings.GBIZID_CLIENT_ID, "wrong"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_cancel_sends_access_denied_with_state(provider, oauth_session):
    session = oauth_session()
    url, state = session.create_authorization_url(
        provider["authorization_endpoint"], code_verifier=generate_token(64), nonce="n"
    )
    callback = consent(url, "yamada-prime", decision="deny")
    query = parse_qs(urlsplit(callback).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [state]
