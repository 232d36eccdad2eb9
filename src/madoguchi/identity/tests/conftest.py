"""JPKI fixtures: one test CA per session (RSA keys are slow to make), copied per test so that PIN
counters, revocations and CRLs of one test never leak into another."""

import shutil
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.utils import timezone

from madoguchi.identity import card_simulator
from madoguchi.identity.demo import DEMO_CARD_PASSWORD, DEMO_CARD_PIN, DEMO_CARDS
from madoguchi.identity.jpki import TestCA, VirtualCard


@pytest.fixture(scope="session")
def _session_ca(tmp_path_factory):
    directory = tmp_path_factory.mktemp("jpki-session") / "ca"
    ca = TestCA.init(directory, not_before=timezone.now() - timedelta(days=60))
    cards = directory / card_simulator.DEMO_CARD_DIR
    cards.mkdir()
    for key, info in DEMO_CARDS:
        ca.issue_card(
            basic_info=info, pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD, out_path=cards / f"{key}.json"
        )
    ca.crl()
    return directory


class Jpki:
    """The per-test CA and its demo cards."""

    def __init__(self, ca: TestCA):
        self.ca = ca

    def card(self, key: str) -> VirtualCard:
        return VirtualCard(self.ca.directory / card_simulator.DEMO_CARD_DIR / f"{key}.json")

    @staticmethod
    def der(card: VirtualCard, which: str = "auth") -> bytes:
        cert = card.auth_certificate if which == "auth" else card.signing_certificate
        return cert.public_bytes(Encoding.DER)


@pytest.fixture
def jpki(_session_ca, settings, tmp_path) -> Jpki:
    directory = tmp_path / "jpki"
    shutil.copytree(_session_ca, directory)
    settings.JPKI_TEST_CA_DIR = directory
    settings.JPKI_CRL_DIR = tmp_path / "no-extra-crls"
    settings.JPKI_TRUST_ANCHORS = []
    settings.JPKI_CARD_SIMULATOR = True
    return Jpki(TestCA.load(directory))
