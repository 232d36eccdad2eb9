"""Resident sign-in by JPKI challenge–response, over the API and in the browser simulator."""

import base64
from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import Encoding
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.identity.demo import DEMO_CARD_PASSWORD, DEMO_CARD_PIN, DEMO_CARDS
from madoguchi.identity.jpki import TestCA
from madoguchi.identity.models import Resident

pytestmark = pytest.mark.django_db
CHALLENGE = "/api/v1/auth/jpki/challenge"
LOGIN = "/api/v1/auth/jpki/login"


def _challenge(client) -> dict:
    response = client.post(CHALLENGE, content_type="application/json")
    assert response.status_code == 201
    return response.json()


def _answer(card, challenge, *, certificate: bytes | None = None, pin=DEMO_CARD_PIN, mode="token") -> dict:
    signature = card.sign_challenge(pin, bytes.fromhex(challenge["nonce"]))
    cert = certificate if certificate is not None else card.auth_certificate.public_bytes(Encoding.DER)
    return {"challenge_id": challenge["challenge_id"], "certificate": base64.b64encode(cert).decode(),
            "signature": base64.b64encode(signature).decode(), "mode": mode}  # fmt: skip


def _login(client, payload):
    return client.post(LOGIN, payload, content_type="application/json")


def test_card_signs_in_through_the_api_and_gets_a_bearer_token(client, jpki):
    card = jpki.card("yamada")
    response = _login(client, _answer(card, _challenge(client)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] is True and body["token_type"] == "Bearer" and body["mykey_id"] is None
    me = client.get("/api/v1/resident/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["certificates"][0]["serial"] == format(card.auth_certificate.serial_number, "x")
    # The same card again is the same resident.
    again = _login(client, _answer(card, _challenge(client))).json()
    assert again["resident_id"] == body["resident_id"] and again["created"] is False
    assert Resident.objects.count() == 1


def test_session_mode_signs_the_browser_in(client, jpki):
    response = _login(client, _answer(jpki.card("sato"), _challenge(client), mode="session"))
    assert response.status_code == 200 and response.json()["access_token"] is None
    assert client.get(reverse("web:resident_home")).status_code == 200


def test_bearer_api_refuses_without_a_valid_token(client, jpki):
    assert client.get("/api/v1/resident/me").status_code == 401
    assert client.get("/api/v1/resident/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def _refused(response, code):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert AuditRecord.objects.filter(action="identity.jpki_refused", details__code=code).exists()


def test_replayed_challenge_is_refused(client, jpki):
    card = jpki.card("yamada")
    payload = _answer(card, _challenge(client))
    assert _login(client, payload).status_code == 200
    _refused(_login(client, payload), "replayed_challenge")


def test_expired_challenge_is_refused(client, jpki, settings):
    card = jpki.card("yamada")
    payload = _answer(card, _challenge(client))
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.JPKI_CHALLENGE_SECONDS + 1)):
        _refused(_login(client, payload), "challenge_expired")


def test_unknown_challenge_is_refused(client, jpki):
    payload = _answer(jpki.card("yamada"), _challenge(client))
    payload["challenge_id"] = "00000000-0000-4000-8000-000000000000"
    _refused(_login(client, payload), "unknown_challenge")


def test_card_from_another_ca_is_refused(client, jpki, tmp_path):
    other = TestCA.init(tmp_path / "other-ca", name="Some Other CA")
    name, info = DEMO_CARDS[0]
    other.issue_card(
        basic_info=info, pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD, out_path=tmp_path / "x.json"
    )
    from madoguchi.identity.jpki import VirtualCard

    _refused(_login(client, _answer(VirtualCard(tmp_path / "x.json"), _challenge(client))), "unknown_ca")


def test_revoked_certificate_is_refused(client, jpki):
    card = jpki.card("suzuki")
    jpki.ca.revoke(card.auth_certificate.serial_number, "keyCompromise")
    jpki.ca.crl()
    _refused(_login(client, _answer(card, _challenge(client))), "certificate_revoked")


def test_expired_certificate_is_refused(client, jpki, tmp_path):
    name, info = DEMO_CARDS[1]
    jpki.ca.issue_expired_card(basic_info=info, pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD,
                               out_path=tmp_path / "old.json")  # fmt: skip
    from madoguchi.identity.jpki import VirtualCard

    _refused(
        _login(client, _answer(VirtualCard(tmp_path / "old.json"), _challenge(client))), "certificate_expired"
    )


def test_stale_crl_fails_closed(client, jpki):
    card = jpki.card("yamada")
    payload = _answer(card, _challenge(client))
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        challenge = _challenge(client)
        _refused(_login(client, _answer(card, challenge)), "crl_unavailable")
    assert payload  # the first challenge was simply not used


def test_signing_certificate_cannot_sign_in(client, jpki):
    card = jpki.card("yamada")
    response = _login(client, _answer(card, _challenge(client), certificate=jpki.der(card, "sign")))
    assert response.status_code == 401
    assert response.json()["code"] in {"wrong_certificate_type", "wrong_key_usage"}


def test_signature_over_another_nonce_is_refused(client, jpki):
    card = jpki.card("yamada")
    first, second = _challenge(client), _challenge(client)
    payload = _answer(card, first)
    payload["challenge_id"] = second["challenge_id"]
    _refused(_login(client, payload), "bad_signature")


def test_garbage_is_refused_as_malformed(client, jpki):
    payload = _answer(jpki.card("yamada"), _challenge(client))
    payload["certificate"] = base64.b64encode(b"not a certificate").decode()
    _refused(_login(client, payload), "malformed")


# --- Browser simulator ------------------------------------------------------------------------------------
def test_browser_simulator_signs_in_and_shows_my_page(client, jpki):
    page = client.get(reverse("web:resident_sign_in"))
    assert page.status_code == 200 and "yamada" in page.content.decode()
    response = client.post(reverse("web:resident_sign_in"), {"card": "yamada", "pin": DEMO_CARD_PIN})
    assert response.status_code == 302 and response["Location"] == reverse("web:resident_home")
    home = client.get(reverse("web:resident_home"))
    assert home.status_code == 200
    assert format(jpki.card("yamada").auth_certificate.serial_number, "x") in home.content.decode()


def test_browser_simulator_wrong_pins_lock_the_card(client, jpki):
    for left in (2, 1):
        response = client.post(reverse("web:resident_sign_in"), {"card": "sato", "pin": "0000"}, follow=True)
        assert "_auth_user_id" not in client.session
        assert str(left) in response.content.decode()
    locked = client.post(reverse("web:resident_sign_in"), {"card": "sato", "pin": "0000"}, follow=True)
    still = client.post(reverse("web:resident_sign_in"), {"card": "sato", "pin": DEMO_CARD_PIN}, follow=True)
    assert "_auth_user_id" not in client.session
    assert jpki.card("sato").status()["auth"]["locked"] is True
    assert locked.status_code == still.status_code == 200


def test_simulator_only_offers_listed_cards(client, jpki):
    response = client.post(
        reverse("web:resident_sign_in"), {"card": "../../etc/passwd", "pin": "1234"}, follow=True
    )
    assert "_auth_user_id" not in client.session and response.status_code == 200


def test_simulator_is_off_in_production_settings(client, jpki, settings):
    settings.JPKI_CARD_SIMULATOR = False
    page = client.get(reverse("web:resident_sign_in"))
    assert 'name="pin"' not in page.content.decode()
    client.post(reverse("web:resident_sign_in"), {"card": "yamada", "pin": DEMO_CARD_PIN})
    assert "_auth_user_id" not in client.session
