"""The JPKI library: profiles, test CA, virtual card, certificate verification and CMS signatures."""

import functools
import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from madoguchi.identity.jpki import (
    BasicInfo,
    TestCA,
    TrustStore,
    VirtualCard,
    certificate_kind,
    errors,
    profiles,
    read_basic_info,
    verify_certificate,
    verify_challenge_signature,
    verify_detached_signature,
)
from madoguchi.identity.jpki.verify import load_crl

OPENSSL = "/usr/bin/openssl"
PIN = "1234"
PASSWORD = "abc123"
YAMADA = BasicInfo(
    name="山田 太郎",
    name_kana="ヤマダ タロウ",
    address="東京都千代田区霞が関二丁目1番2号",
    date_of_birth=date(1985, 4, 1),
    sex="1",
)
SATO = BasicInfo(
    name="佐藤 花子", address="新潟県三条市旭町二丁目3番1号", date_of_birth=date(2000, 2, 29), sex="2"
)


# --- Fixtures: the CA keys are made once per session --------------------------------------------------------
@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> TestCA:
    authority = TestCA.init(
        tmp_path_factory.mktemp("jpki-ca"), not_before=datetime.now(UTC) - timedelta(days=90)
    )
    authority.crl()
    return authority


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory) -> TestCA:
    authority = TestCA.init(tmp_path_factory.mktemp("other-ca"), name="Some Other CA")
    authority.crl()
    return authority


@pytest.fixture(scope="session")
def shared_card(ca, tmp_path_factory) -> VirtualCard:
    """A card that no test revokes, locks or changes: for read-only tests."""
    issue = ca.issue_card(basic_info=YAMADA, pin=PIN, password=PASSWORD,
                          out_path=tmp_path_factory.mktemp("cards") / "yamada.json")  # fmt: skip
    return VirtualCard(issue.path)


@pytest.fixture
def card(ca, tmp_path) -> VirtualCard:
    """A fresh card of this test's own."""
    return VirtualCard(
        ca.issue_card(basic_info=SATO, pin=PIN, password=PASSWORD, out_path=tmp_path / "card.json").path
    )


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


def store_for(authority: TestCA, *crls: x509.CertificateRevocationList) -> TrustStore:
    return TrustStore([authority.root_certificate], [authority.issuing_certificate], list(crls))


@pytest.fixture
def store(ca) -> TrustStore:
    """Trusts `ca`, with a CRL published just now (so it lists every revocation so far)."""
    return store_for(ca, load_crl(ca.crl()))


def issuing_key(authority: TestCA) -> rsa.RSAPrivateKey:
    return serialization.load_pem_private_key((authority.directory / "private/ca.key").read_bytes(), None)


@functools.cache
def _spare_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def craft_leaf(authority: TestCA, *, policy: x509.ObjectIdentifier, usage: x509.KeyUsage,
               basic_info: BasicInfo | None = None, signing_key=None) -> x509.Certificate:  # fmt: skip
    """An end-entity certificate outside the profiles, signed by `authority`'s issuing key (or `signing_key`)."""
    key = _spare_key()
    start = datetime.now(UTC) - timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(profiles.random_subject())
        .issuer_name(authority.issuing_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(usage, critical=True)
        .add_extension(x509.CertificatePolicies([x509.PolicyInformation(policy, None)]), critical=False)
    )
    if basic_info:
        builder = builder.add_extension(profiles.basic_info_san(basic_info), critical=False)
    return builder.sign(signing_key or issuing_key(authority), hashes.SHA256())


# --- Issue and verify ---------------------------------------------------------------------------------------
def test_issued_card_verifies_both_certificates(ca, shared_card, store, now):
    auth = verify_certificate(shared_card.auth_certificate, kind="auth", at=now, store=store)
    sign = verify_certificate(shared_card.signing_certificate, kind="sign", at=now, store=store)

    assert auth.kind == "auth" and sign.kind == "sign"
    assert auth.issuer == sign.issuer == ca.issuer == "CN=JPKI Test CA (Madoguchi),O=Madoguchi Test PKI,C=JP"
    assert auth.serial == format(shared_card.auth_certificate.serial_number, "x")
    assert auth.serial == auth.serial.lower() and not auth.serial.startswith("0")
    assert auth.fingerprint_sha256 == shared_card.auth_certificate.fingerprint(hashes.SHA256()).hex()
    assert auth.not_before.tzinfo is not None and auth.not_after.tzinfo is not None
    assert auth.basic_info is None
    assert sign.basic_info == YAMADA


def test_auth_certificate_carries_no_personal_data(shared_card):
    auth = shared_card.auth_certificate
    assert certificate_kind(auth) == "auth"
    assert read_basic_info(auth) is None
    with pytest.raises(x509.ExtensionNotFound):
        auth.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert {attribute.oid for attribute in auth.subject} == {
        x509.NameOID.COUNTRY_NAME,
        x509.NameOID.COMMON_NAME,
    }
    usage = auth.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.content_commitment


def test_signing_certificate_profile(shared_card):
    sign = shared_card.signing_certificate
    assert certificate_kind(sign) == "sign"
    usage = sign.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    san = sign.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    values = {other.type_id.dotted_string: other.value for other in san.get_values_for_type(x509.OtherName)}
    assert (
        values["1.2.392.200149.8.5.5.1"]
        == b"\x0c" + bytes([len("山田 太郎".encode())]) + "山田 太郎".encode()
    )
    assert values["1.2.392.200149.8.5.5.4"][2:] == b"319850401"  # 昭和 + 1985-04-01
    assert values["1.2.392.200149.8.5.5.3"][2:] == b"1"
    assert YAMADA.name not in sign.subject.rfc4514_string()


def test_validity_ends_on_fifth_birthday_and_basic_info_rules():
    issued = datetime(2024, 6, 1, 3, 0, tzinfo=UTC)
    assert profiles.default_not_after(date(1985, 4, 1), issued) == datetime(
        2029, 4, 1, 14, 59, 59, tzinfo=UTC
    )
    # Born 29 February: the birthday falls on 28 February in common years.
    assert profiles.default_not_after(date(2000, 2, 29), issued) == datetime(
        2029, 2, 28, 14, 59, 59, tzinfo=UTC
    )
    assert profiles.decode_date_of_birth("19850401") == date(1985, 4, 1)
    assert profiles.encode_date_of_birth(date(2019, 5, 1)) == "520190501"
    with pytest.raises(ValueError):
        BasicInfo(name="x", address="y", date_of_birth=date(2000, 1, 1), sex="3")
    with pytest.raises(errors.Malformed):
        profiles.decode_date_of_birth("2000-01-01")


def test_serials_are_random_positive_63_bit_and_indexed(ca, card):
    index = json.loads(ca.index_path.read_text())
    for cert, kind in ((card.auth_certificate, "auth"), (card.signing_certificate, "sign")):
        assert 2**62 <= cert.serial_number < 2**63
        record = index["certificates"][format(cert.serial_number, "x")]
        assert record["kind"] == kind and record["issuer"] == ca.issuer and record["revoked_at"] is None
    assert card.auth_certificate.serial_number != card.signing_certificate.serial_number


def test_certificate_from_another_ca_is_unknown(other_ca, store, tmp_path, now):
    stranger = VirtualCard(other_ca.issue_card(basic_info=SATO, pin=PIN, password=PASSWORD,
                                               out_path=tmp_path / "s.json").path)  # fmt: skip
    with pytest.raises(errors.UnknownCa) as caught:
        verify_certificate(stranger.auth_certificate, kind="auth", at=now, store=store)
    assert caught.value.code == "unknown_ca"


def test_forged_issuer_signature_is_rejected(ca, store, now):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # not the CA's key
    forged = craft_leaf(ca, policy=profiles.POLICY_AUTH, usage=profiles.key_usage(digital_signature=True),
                        signing_key=forger)  # fmt: skip
    with pytest.raises(errors.BadChainSignature):
        verify_certificate(forged, kind="auth", at=now, store=store)


def test_revoked_certificate(ca, card, now):
    ca.revoke(card.auth_certificate.serial_number, "keyCompromise")
    store = store_for(ca, load_crl(ca.crl()))
    with pytest.raises(errors.CertificateRevoked) as caught:
        verify_certificate(card.auth_certificate, kind="auth", at=now, store=store)
    assert caught.value.code == "certificate_revoked"
    # Only that certificate: the signing certificate of the same card is still good.
    verify_certificate(card.signing_certificate, kind="sign", at=now, store=store)
    entry = load_crl(ca.crl_path.read_bytes()).get_revoked_certificate_by_serial_number(
        card.auth_certificate.serial_number
    )
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert ca.revoke(format(card.auth_certificate.serial_number, "X"), "superseded").already_revoked


def test_expired_and_not_yet_valid(ca, tmp_path, store, now):
    expired = VirtualCard(ca.issue_expired_card(basic_info=SATO, pin=PIN, password=PASSWORD,
                                                out_path=tmp_path / "old.json").path)  # fmt: skip
    with pytest.raises(errors.CertificateExpired):
        verify_certificate(expired.auth_certificate, kind="auth", at=now, store=store)
    # It was good while it lasted.
    verify_certificate(expired.auth_certificate, kind="auth", at=now - timedelta(days=10), store=store)
    with pytest.raises(errors.CertificateNotYetValid):
        verify_certificate(expired.auth_certificate, kind="auth", at=now - timedelta(days=60), store=store)


def test_missing_or_stale_or_foreign_crl_fails_closed(ca, other_ca, shared_card, now):
    cert = shared_card.auth_certificate
    with pytest.raises(errors.CrlUnavailable):
        verify_certificate(cert, kind="auth", at=now, store=store_for(ca))
    stale = load_crl(ca.crl(now=now - timedelta(days=3), next_update_hours=48))
    with pytest.raises(errors.CrlUnavailable) as caught:
        verify_certificate(cert, kind="auth", at=now, store=store_for(ca, stale))
    assert caught.value.code == "crl_unavailable"
    # A CRL from another CA is no CRL for this issuer.
    with pytest.raises(errors.CrlUnavailable):
        verify_certificate(cert, kind="auth", at=now, store=store_for(ca, load_crl(other_ca.crl())))
    # A CRL with the right issuer name but signed by another key is ignored, too.
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.issuing_certificate.subject)
        .last_update(now)
        .next_update(now + timedelta(days=1))
        .sign(rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA256())
    )
    with pytest.raises(errors.CrlUnavailable):
        verify_certificate(cert, kind="auth", at=now, store=store_for(ca, forged))
    # Stale plus fresh: the newest one counts.
    verify_certificate(cert, kind="auth", at=now, store=store_for(ca, stale, load_crl(ca.crl())))


def test_wrong_certificate_type(shared_card, store, now):
    with pytest.raises(errors.WrongCertificateType) as caught:
        verify_certificate(shared_card.signing_certificate, kind="auth", at=now, store=store)
    assert caught.value.code == "wrong_certificate_type"
    with pytest.raises(errors.WrongCertificateType):
        verify_certificate(shared_card.auth_certificate, kind="sign", at=now, store=store)
    with pytest.raises(errors.WrongCertificateType):  # the CA certificate itself
        verify_certificate(store.intermediates[0], kind="auth", at=now, store=store)


def test_profile_violations(ca, store, now):
    encipher_only = x509.KeyUsage(False, False, True, False, False, False, False, False, False)
    with pytest.raises(errors.WrongKeyUsage) as caught:
        verify_certificate(craft_leaf(ca, policy=profiles.POLICY_AUTH, usage=encipher_only),
                           kind="auth", at=now, store=store)  # fmt: skip
    assert caught.value.code == "wrong_key_usage"
    # A signing certificate without nonRepudiation.
    with pytest.raises(errors.WrongKeyUsage):
        verify_certificate(
            craft_leaf(ca, policy=profiles.POLICY_SIGN, usage=profiles.key_usage(digital_signature=True),
                       basic_info=SATO),
            kind="sign", at=now, store=store,
        )  # fmt: skip
    # An authentication certificate with personal data in it.
    with pytest.raises(errors.WrongCertificateType):
        verify_certificate(
            craft_leaf(ca, policy=profiles.POLICY_AUTH, usage=profiles.key_usage(digital_signature=True),
                       basic_info=SATO),
            kind="auth", at=now, store=store,
        )  # fmt: skip
    # No JPKI policy at all.
    with pytest.raises(errors.WrongCertificateType):
        verify_certificate(
            craft_leaf(ca, policy=x509.ObjectIdentifier("1.2.3.4"), usage=profiles.key_usage(digital_signature=True)),
            kind="auth", at=now, store=store,
        )  # fmt: skip


def test_trust_store_from_files_autodetects_pem_and_der(ca, tmp_path, shared_card, now):
    root_der = tmp_path / "root.cer"
    root_der.write_bytes(ca.root_certificate.public_bytes(serialization.Encoding.DER))
    crl_dir = tmp_path / "crl"
    crl_dir.mkdir()
    (crl_dir / "ca.pem").write_bytes(load_crl(ca.crl()).public_bytes(serialization.Encoding.PEM))
    store = TrustStore.from_files([root_der], [crl_dir], intermediate_paths=[ca.issuing_path])
    verify_certificate(shared_card.auth_certificate, kind="auth", at=now, store=store)
    # The issuing CA may also be trusted directly as the anchor.
    verify_certificate(shared_card.auth_certificate, kind="auth", at=now,
                       store=TrustStore.from_files([ca.issuing_path], [ca.crl_path]))  # fmt: skip
    verify_certificate(shared_card.auth_certificate, kind="auth", at=now, store=ca.trust_store())
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(errors.Malformed):
        TrustStore.from_files([garbage])


def test_naive_datetimes_are_refused(shared_card, store):
    with pytest.raises(ValueError):
        verify_certificate(shared_card.auth_certificate, kind="auth", at=datetime(2030, 1, 1), store=store)  # noqa: DTZ001


# --- Challenge–response -------------------------------------------------------------------------------------
def test_challenge_signature_verifies_and_tampering_fails(shared_card, card):
    nonce = bytes.fromhex("5f" * 32)
    signature = shared_card.sign_challenge(PIN, nonce)
    verify_challenge_signature(shared_card.auth_certificate, nonce, signature)

    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(errors.BadSignature) as caught:
        verify_challenge_signature(shared_card.auth_certificate, nonce, tampered)
    assert caught.value.code == "bad_signature"
    with pytest.raises(errors.BadSignature):
        verify_challenge_signature(shared_card.auth_certificate, nonce + b"x", signature)
    with pytest.raises(errors.BadSignature):  # someone else's card
        verify_challenge_signature(card.auth_certificate, nonce, signature)


# --- PIN and password counters ------------------------------------------------------------------------------
def test_three_wrong_pins_lock_and_a_correct_pin_resets_the_counter(ca, card):
    nonce = b"n" * 32
    with pytest.raises(errors.WrongPin) as caught:
        card.sign_challenge("0000", nonce)
    assert caught.value.retries_left == 2 and caught.value.code == "wrong_pin"
    assert "あと2回" in caught.value.message_ja
    with pytest.raises(errors.WrongPin):
        card.sign_challenge("0000", nonce)
    card.sign_challenge(PIN, nonce)  # resets the counter
    assert card.status()["auth"]["failures"] == 0

    for expected_left in (2, 1):
        with pytest.raises(errors.WrongPin) as caught:
            card.sign_challenge("9999", nonce)
        assert caught.value.retries_left == expected_left
    with pytest.raises(errors.PinLocked):
        card.sign_challenge("9999", nonce)
    with pytest.raises(errors.PinLocked) as caught:
        card.sign_challenge(PIN, nonce)  # even the right PIN
    assert caught.value.code == "pin_locked"
    assert card.status()["auth"]["locked"] and card.status()["auth"]["retries_left"] == 0
    # The signing password is a separate counter.
    card.sign_document(PASSWORD, b"still usable")

    # A badly formed PIN is refused before the card and does not count.
    with pytest.raises(errors.InvalidPinFormat):
        card.reset_pin("12345", management_key=ca.management_key(card))
    card.reset_pin("4321", management_key=ca.management_key(card))
    assert not card.status()["auth"]["locked"]
    card.sign_challenge("4321", nonce)
    with pytest.raises(errors.WrongPin):
        card.sign_challenge(PIN, nonce)


def test_badly_formed_pin_does_not_count(card):
    for bad in ("123", "12345", "12a4", "１２３４"):
        with pytest.raises(errors.InvalidPinFormat):
            card.sign_challenge(bad, b"nonce")
    assert card.status()["auth"]["failures"] == 0


def test_five_wrong_passwords_lock(ca, card):
    for expected_left in (4, 3, 2, 1):
        with pytest.raises(errors.WrongPassword) as caught:
            card.sign_document("wrong1", b"doc")
        assert caught.value.retries_left == expected_left
    with pytest.raises(errors.PasswordLocked):
        card.sign_document("wrong1", b"doc")
    with pytest.raises(errors.PasswordLocked):
        card.sign_document(PASSWORD, b"doc")
    with pytest.raises(errors.PasswordLocked):
        card.export_signing_key_pem(PASSWORD, card.path.with_name("key.pem"))
    card.sign_challenge(PIN, b"nonce")  # the PIN is not affected
    with pytest.raises(ValueError):
        card.reset_password("Newpass9", management_key=b"\x00" * 32)
    card.reset_password("Newpass9", management_key=ca.management_key(card.path))
    card.sign_document("Newpass9", b"doc")


def test_pin_and_password_formats_are_checked_at_issue(ca, tmp_path):
    for pin, password, error in (
        ("123", PASSWORD, errors.InvalidPinFormat),
        ("12345", PASSWORD, errors.InvalidPinFormat),
        (PIN, "abc12", errors.InvalidPasswordFormat),
        (PIN, "a" * 17, errors.InvalidPasswordFormat),
        (PIN, "abc-123", errors.InvalidPasswordFormat),
    ):
        with pytest.raises(error):
            ca.issue_card(basic_info=SATO, pin=pin, password=password, out_path=tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_card_file_is_json_without_plain_keys(card):
    text = card.path.read_text()
    assert "ENCRYPTED PRIVATE KEY" in text and "BEGIN PRIVATE KEY" not in text and "BEGIN RSA" not in text
    assert card.path.stat().st_mode & 0o077 == 0
    assert not [p for p in card.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_malformed_card_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(errors.Malformed):
        VirtualCard(path)


# --- CMS signatures -----------------------------------------------------------------------------------------
DOCUMENT = "児童手当 認定請求書\n請求者: 山田 太郎\n".encode()


def test_own_cms_signature_verifies_with_basic_info(shared_card, store, now):
    signature = shared_card.sign_document(PASSWORD, DOCUMENT)
    signer = verify_detached_signature(signature, DOCUMENT, store=store, at=now)
    assert signer.kind == "sign"
    assert signer.serial == format(shared_card.signing_certificate.serial_number, "x")
    assert signer.basic_info == YAMADA


def test_changed_content_is_a_digest_mismatch(shared_card, store, now):
    signature = shared_card.sign_document(PASSWORD, DOCUMENT)
    with pytest.raises(errors.DigestMismatch) as caught:
        verify_detached_signature(signature, DOCUMENT + b" ", store=store, at=now)
    assert caught.value.code == "digest_mismatch"


def test_cms_signer_certificate_is_checked(ca, other_ca, card, tmp_path, now):
    stranger = VirtualCard(other_ca.issue_card(basic_info=SATO, pin=PIN, password=PASSWORD,
                                               out_path=tmp_path / "s.json").path)  # fmt: skip
    with pytest.raises(errors.UnknownCa):
        verify_detached_signature(stranger.sign_document(PASSWORD, DOCUMENT), DOCUMENT,
                                  store=store_for(ca, load_crl(ca.crl())), at=now)  # fmt: skip
    signature = card.sign_document(PASSWORD, DOCUMENT)
    ca.revoke(card.signing_certificate.serial_number, "keyCompromise")
    with pytest.raises(errors.CertificateRevoked):
        verify_detached_signature(signature, DOCUMENT, store=store_for(ca, load_crl(ca.crl())), at=now)


def test_garbage_is_malformed(shared_card, store, now):
    for junk in (b"", b"\x30\x03\x02\x01\x01", b"-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n",
                 shared_card.auth_certificate.public_bytes(serialization.Encoding.DER)):  # fmt: skip
        with pytest.raises(errors.Malformed):
            verify_detached_signature(junk, DOCUMENT, store=store, at=now)


@pytest.fixture(scope="module")
def openssl_material(shared_card, tmp_path_factory):
    if not Path(OPENSSL).exists() and not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    work = tmp_path_factory.mktemp("openssl")
    (work / "doc").write_bytes(DOCUMENT)
    (work / "cert.pem").write_bytes(shared_card.signing_certificate.public_bytes(serialization.Encoding.PEM))
    shared_card.export_signing_key_pem(PASSWORD, work / "key.pem")
    return work


def openssl_sign(work: Path, *extra: str) -> bytes:
    out = work / "sig"
    binary = OPENSSL if Path(OPENSSL).exists() else shutil.which("openssl")
    subprocess.run(  # noqa: S603  (fixed arguments, test only)
        [binary, "cms", "-sign", "-binary", "-in", str(work / "doc"), "-signer", str(work / "cert.pem"),
         "-inkey", str(work / "key.pem"), "-out", str(out), *extra],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


@pytest.mark.parametrize(
    "options",
    [
        ("-outform", "DER"),
        ("-outform", "DER", "-noattr"),
        ("-outform", "PEM"),
        ("-outform", "PEM", "-noattr"),
        ("-outform", "DER", "-md", "sha512"),
        ("-outform", "DER", "-md", "sha384", "-noattr"),
        ("-outform", "DER", "-keyid"),
    ],
    ids=["der", "der-noattr", "pem", "pem-noattr", "der-sha512", "der-sha384-noattr", "der-keyid"],
)
def test_openssl_cms_signature_verifies(openssl_material, options, store, now):
    signature = openssl_sign(openssl_material, *options)
    signer = verify_detached_signature(signature, DOCUMENT, store=store, at=now)
    assert signer.basic_info == YAMADA


def test_openssl_signature_over_other_content_fails(openssl_material, store, now):
    with pytest.raises(errors.DigestMismatch):
        verify_detached_signature(
            openssl_sign(openssl_material, "-outform", "DER"), b"other", store=store, at=now
        )
    # Without signed attributes there is no digest to compare: the signature itself fails.
    with pytest.raises(errors.BadSignature):
        verify_detached_signature(openssl_sign(openssl_material, "-outform", "DER", "-noattr"), b"other",
                                  store=store, at=now)  # fmt: skip


def test_openssl_signature_without_the_signer_certificate_is_malformed(openssl_material, store, now):
    with pytest.raises(errors.Malformed):
        verify_detached_signature(openssl_sign(openssl_material, "-outform", "DER", "-nocerts"), DOCUMENT,
                                  store=store, at=now)  # fmt: skip


def test_openssl_accepts_our_signature(openssl_material, shared_card, ca):
    (openssl_material / "ours.der").write_bytes(shared_card.sign_document(PASSWORD, DOCUMENT))
    subprocess.run(  # noqa: S603
        [OPENSSL, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(openssl_material / "ours.der"),
         "-content", str(openssl_material / "doc"), "-CAfile", str(ca.root_path), "-purpose", "any",
         "-out", "/dev/null"],
        check=True, capture_output=True,
    )  # fmt: skip


# --- Renewal and linkage ------------------------------------------------------------------------------------
def test_renewal_links_old_and_new_serials_and_revokes_the_old(ca, card, tmp_path, now):
    old_auth, old_sign = card.auth_certificate, card.signing_certificate
    moved = BasicInfo(name=SATO.name, address="新潟県新潟市中央区学校町通一番町602番地1",
                      date_of_birth=SATO.date_of_birth, sex=SATO.sex)  # fmt: skip
    renewed = ca.issue_card(basic_info=moved, pin="5678", password="Xyz98765", out_path=tmp_path / "new.json",
                            renew_of=card.path)  # fmt: skip

    rows = {row.kind: row for row in renewed.linkage}
    assert set(rows) == {"auth", "sign"}
    assert rows["auth"].old_serial == format(old_auth.serial_number, "x")
    assert rows["auth"].new_serial == renewed.auth_serial
    assert rows["sign"].old_serial == format(old_sign.serial_number, "x")
    assert rows["sign"].new_serial == renewed.sign_serial
    assert rows["auth"].issuer == rows["auth"].new_issuer == ca.issuer

    assert TestCA.linkage_csv(renewed.linkage).splitlines() == [
        "kind,issuer,old_serial,new_serial",
        f'auth,"{ca.issuer}",{rows["auth"].old_serial},{renewed.auth_serial}',
        f'sign,"{ca.issuer}",{rows["sign"].old_serial},{renewed.sign_serial}',
    ]

    store = store_for(ca, load_crl(ca.crl()))
    with pytest.raises(errors.CertificateRevoked):
        verify_certificate(old_auth, kind="auth", at=now, store=store)
    new_card = VirtualCard(renewed.path)
    assert (
        verify_certificate(new_card.signing_certificate, kind="sign", at=now, store=store).basic_info == moved
    )
    assert ca.certificates()[rows["sign"].old_serial]["reason"] == "superseded"


def test_renewing_in_place_overwrites_the_card(ca, card, now):
    old_serial = card.auth_certificate.serial_number
    renewed = ca.issue_card(
        basic_info=SATO, pin=PIN, password=PASSWORD, out_path=card.path, renew_of=card.path
    )
    assert renewed.linkage[0].old_serial == format(old_serial, "x")
    assert VirtualCard(card.path).auth_certificate.serial_number != old_serial


# --- Errors -------------------------------------------------------------------------------------------------
def test_every_error_has_a_stable_code_and_japanese_message():
    expected = {
        "unknown_ca", "bad_chain_signature", "certificate_expired", "certificate_not_yet_valid",
        "certificate_revoked", "crl_unavailable", "wrong_key_usage", "wrong_certificate_type", "bad_signature",
        "malformed", "digest_mismatch", "pin_locked", "wrong_pin", "password_locked", "wrong_password",
    }  # fmt: skip
    codes = [cls.code for cls in errors.ALL_ERRORS]
    assert len(codes) == len(set(codes)) and expected <= set(codes)
    for cls in errors.ALL_ERRORS:
        error = cls(1) if cls in (errors.WrongPin, errors.WrongPassword) else cls("detail")
        assert isinstance(error, errors.JpkiError)
        assert error.message_ja and error.message_en
        assert str(error).startswith(error.message_ja)
        assert not error.message_ja.isascii()
