"""`madoguchi jpki …` and `madoguchi card …` end to end, in a temporary CA directory (no database)."""

import base64
import io
import re
from datetime import UTC, datetime

import pytest
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.identity.jpki import TestCA, VirtualCard, verify_certificate, verify_challenge_signature
from madoguchi.identity.jpki.cms import verify_detached_signature

PERSON = ["--name", "山田 太郎", "--kana", "ヤマダ タロウ", "--address", "東京都千代田区霞が関二丁目1番2号",
          "--dob", "1985-04-01", "--sex", "1"]  # fmt: skip


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def ca_dir(tmp_path, settings):
    settings.JPKI_TEST_CA_DIR = tmp_path / "ca"
    return tmp_path / "ca"


def test_make_a_ca_issue_a_card_and_sign_in(ca_dir, tmp_path):
    output = run("jpki", "init-ca")
    assert f"Test CA created in {ca_dir}" in output
    assert str(ca_dir / "root.pem") in output and str(ca_dir / "crl") in output
    assert "already exists" in run("jpki", "init-ca")  # idempotent

    card_path = tmp_path / "card.json"
    output = run(
        "jpki", "issue-card", *PERSON, "--pin", "1234", "--password", "abc123", "--out", str(card_path)
    )
    card = VirtualCard(card_path)
    auth_serial = format(card.auth_certificate.serial_number, "x")
    assert f"auth  serial {auth_serial}" in output

    status = run("card", "status", str(card_path))
    assert auth_serial in status and "PIN 3/3 tries left" in status and "password 5/5 tries left" in status
    assert "山田" not in status  # no personal data on the status screen

    nonce = "a1" * 32
    output = run("card", "sign-challenge", str(card_path), "--nonce", nonce, "--pin", "1234",
                 "--cert-out", str(tmp_path / "auth.pem"))  # fmt: skip
    signature = base64.b64decode(re.search(r"^signature: (\S+)$", output, re.M).group(1))
    cert = x509.load_der_x509_certificate(
        base64.b64decode(re.search(r"^certificate: (\S+)$", output, re.M).group(1))
    )
    assert (
        cert == card.auth_certificate == x509.load_pem_x509_certificate((tmp_path / "auth.pem").read_bytes())
    )
    verify_challenge_signature(cert, bytes.fromhex(nonce), signature)
    ca = TestCA.load(ca_dir)
    now = datetime.now(UTC)
    verify_certificate(cert, kind="auth", at=now, store=ca.trust_store())

    document = tmp_path / "application.txt"
    document.write_text("保育所入所申込書\n", encoding="utf-8")
    for extra in ((), ("--pem",)):
        run("card", "sign-document", str(card_path), "--in", str(document), "--out", str(tmp_path / "sig"),
            "--password", "abc123", *extra)  # fmt: skip
        signer = verify_detached_signature((tmp_path / "sig").read_bytes(), document.read_bytes(),
                                           store=ca.trust_store(), at=now)  # fmt: skip
        assert signer.basic_info.name == "山田 太郎"

    run("card", "export-key", str(card_path), "--password", "abc123", "--out", str(tmp_path / "key.pem"))
    assert (tmp_path / "key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "key.pem").stat().st_mode & 0o077 == 0


def test_renew_revoke_and_publish(ca_dir, tmp_path):
    run("jpki", "init-ca")
    old = tmp_path / "old.json"
    run("jpki", "issue-card", *PERSON, "--pin", "1234", "--password", "abc123", "--out", str(old))
    old_card = VirtualCard(old)
    old_auth = format(old_card.auth_certificate.serial_number, "x")
    old_sign = format(old_card.signing_certificate.serial_number, "x")

    new = tmp_path / "new.json"
    output = run("jpki", "issue-card", *PERSON, "--pin", "1234", "--password", "abc123", "--out", str(new),
                 "--renew-of", str(old))  # fmt: skip
    new_card = VirtualCard(new)
    new_auth = format(new_card.auth_certificate.serial_number, "x")
    assert "kind,issuer,old_serial,new_serial" in output
    assert f'auth,"CN=JPKI Test CA (Madoguchi),O=Madoguchi Test PKI,C=JP",{old_auth},{new_auth}' in output
    csv_files = list((ca_dir / "linkage").glob("*.csv"))
    assert len(csv_files) == 1 and old_sign in csv_files[0].read_text()

    output = run("jpki", "revoke", "--serial", new_auth.upper(), "--reason", "keyCompromise")
    assert f"Serial {new_auth} revoked (keyCompromise" in output
    output = run("jpki", "crl", "--hours", "24")
    assert "3 revoked" in output and old_auth in output and old_sign in output and new_auth in output
    crl = x509.load_der_x509_crl((ca_dir / "crl" / "jpki-test-ca-madoguchi.crl").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(new_auth, 16)) is not None

    expired = tmp_path / "expired.json"
    run(
        "jpki",
        "issue-card",
        *PERSON,
        "--pin",
        "1234",
        "--password",
        "abc123",
        "--out",
        str(expired),
        "--expired",
    )
    assert VirtualCard(expired).auth_certificate.not_valid_after_utc < datetime.now(UTC)


def test_errors_surface_in_japanese(ca_dir, tmp_path):
    with pytest.raises(CommandError, match="jpki init-ca"):
        run("jpki", "crl")
    run("jpki", "init-ca")
    card_path = tmp_path / "card.json"
    with pytest.raises(CommandError, match="暗証番号は数字4桁"):
        run("jpki", "issue-card", *PERSON, "--pin", "12", "--password", "abc123", "--out", str(card_path))
    run("jpki", "issue-card", *PERSON, "--pin", "1234", "--password", "abc123", "--out", str(card_path))
    with pytest.raises(CommandError, match=r"暗証番号が違います。あと2回.*\[wrong_pin\]"):
        run("card", "sign-challenge", str(card_path), "--nonce", "00ff", "--pin", "9999")
    with pytest.raises(CommandError, match="16進数"):
        run("card", "sign-challenge", str(card_path), "--nonce", "xyz", "--pin", "1234")
    with pytest.raises(CommandError, match="パスワードが違います"):
        run("card", "sign-document", str(card_path), "--in", str(card_path), "--out", str(tmp_path / "s"),
            "--password", "wrong99")  # fmt: skip
    with pytest.raises(CommandError, match="was not issued by this CA"):
        run("jpki", "revoke", "--serial", "abc")


def test_refused_in_production(ca_dir, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run("jpki", "init-ca")
    assert not ca_dir.exists()
