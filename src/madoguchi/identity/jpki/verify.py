"""Verification of JPKI certificates: chain to a trust anchor, validity, profile, and revocation by CRL.

Everything fails closed: a certificate is accepted only if a chain to a configured anchor is found and
checked, every certificate in it is valid at the given time, the leaf matches the requested profile
(``"auth"`` or ``"sign"``), and a current CRL signed by the leaf's issuer does not list it.

Not implemented (documented gaps): OCSP; revocation of intermediate CAs (only the leaf's issuer CRL is
consulted); delta CRLs and CRLs with a partitioning issuingDistributionPoint (ignored, so a store holding only
those reports `crl_unavailable`); name constraints and policy mapping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from madoguchi.identity.jpki.errors import (
    BadChainSignature,
    BadSignature,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CrlUnavailable,
    Malformed,
    UnknownCa,
    WrongCertificateType,
    WrongKeyUsage,
)
from madoguchi.identity.jpki.profiles import (
    BasicInfo,
    Kind,
    certificate_kind,
    has_personal_data,
    read_basic_info,
)

MAX_CHAIN_DEPTH = 5  # certificates above the leaf
_DER = serialization.Encoding.DER


# --- Loading ------------------------------------------------------------------------------------------------
def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN" in data[:4096]


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """All certificates in PEM (one or more) or DER bytes."""
    try:
        if _is_pem(data):
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise Malformed(f"not a certificate: {exc}") from exc


def load_certificate(data: bytes) -> x509.Certificate:
    """Exactly one certificate, PEM or DER."""
    certs = load_certificates(data)
    if len(certs) != 1:
        raise Malformed(f"expected one certificate, found {len(certs)}")
    return certs[0]


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if _is_pem(data):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise Malformed(f"not a CRL: {exc}") from exc


def _expand(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; a directory stands for the regular, non-hidden files in it."""
    result: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            result.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        else:
            result.append(path)
    return result


@dataclasses.dataclass(frozen=True, init=False)
class TrustStore:
    """Trust anchors, untrusted intermediates that may complete a chain, and CRLs."""

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        crls: Sequence[x509.CertificateRevocationList] = (),
    ) -> None:
        if not anchors:
            raise ValueError("a trust store needs at least one anchor")
        object.__setattr__(self, "anchors", tuple(anchors))
        object.__setattr__(self, "intermediates", tuple(intermediates))
        object.__setattr__(self, "crls", tuple(crls))

    @classmethod
    def from_files(
        cls,
        anchor_paths: Iterable[Path | str],
        crl_paths: Iterable[Path | str] = (),
        *,
        intermediate_paths: Iterable[Path | str] = (),
    ) -> TrustStore:
        """Load PEM or DER files (autodetected; a PEM file may hold several certificates). A directory in
        `crl_paths` means every file in it."""
        anchors = [cert for path in _expand(anchor_paths) for cert in load_certificates(path.read_bytes())]
        intermediates = [
            cert for path in _expand(intermediate_paths) for cert in load_certificates(path.read_bytes())
        ]
        crls = [load_crl(path.read_bytes()) for path in _expand(crl_paths)]
        return cls(anchors, intermediates, crls)

    def with_crls(self, crls: Sequence[x509.CertificateRevocationList]) -> TrustStore:
        return TrustStore(self.anchors, self.intermediates, crls)


@dataclasses.dataclass(frozen=True)
class VerifiedCertificate:
    kind: Kind
    issuer: str  # RFC 4514
    serial: str  # lower-case hex, no 0x, no leading zeros
    fingerprint_sha256: str  # hex of SHA-256 over the DER
    not_before: datetime  # aware UTC
    not_after: datetime  # aware UTC
    basic_info: BasicInfo | None
    certificate: x509.Certificate = dataclasses.field(repr=False, compare=False)


# --- Chain building -----------------------------------------------------------------------------------------
def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def build_chain(
    cert: x509.Certificate, store: TrustStore, *, at: datetime, untrusted: Sequence[x509.Certificate] = ()
) -> list[x509.Certificate]:
    """[leaf, issuer, …, anchor]. Issuers are matched by name, then by signature; depth is bounded."""
    anchors = [anchor.public_bytes(_DER) for anchor in store.anchors]
    pool = list(store.anchors) + list(store.intermediates) + list(untrusted)
    chain = [cert]
    current = cert
    for _ in range(MAX_CHAIN_DEPTH):
        named = [candidate for candidate in pool if candidate.subject == current.issuer]
        if not named:
            raise UnknownCa(f"no trusted or known issuer named {current.issuer.rfc4514_string()}")
        signers = [candidate for candidate in named if _signed_by(current, candidate)]
        if not signers:
            raise BadChainSignature(f"signature by {current.issuer.rfc4514_string()} does not verify")
        # Prefer an anchor, then a certificate valid at `at` (CA key rollover keeps old and new side by side).
        signers.sort(key=lambda c: (c.public_bytes(_DER) not in anchors, not _valid_at(c, at)))
        issuer = signers[0]
        chain.append(issuer)
        if issuer.public_bytes(_DER) in anchors:
            return chain
        if any(issuer == seen for seen in chain[:-1]):
            raise UnknownCa("the chain loops without reaching a trust anchor")
        current = issuer
    raise UnknownCa("no trust anchor within the maximum chain length")


def _check_critical_extensions(cert: x509.Certificate, label: str) -> None:
    try:
        extensions = cert.extensions
    except ValueError as exc:
        raise Malformed(f"{label}: undecodable extensions ({exc})") from exc
    for extension in extensions:
        if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
            raise Malformed(f"{label}: unsupported critical extension {extension.oid.dotted_string}")


def _check_validity(chain: Sequence[x509.Certificate], at: datetime) -> None:
    for position, cert in enumerate(chain):
        label = "certificate" if position == 0 else f"CA {cert.subject.rfc4514_string()}"
        if at < cert.not_valid_before_utc:
            raise CertificateNotYetValid(f"{label} valid from {cert.not_valid_before_utc.isoformat()}")
        if at > cert.not_valid_after_utc:
            raise CertificateExpired(f"{label} expired at {cert.not_valid_after_utc.isoformat()}")


def _check_issuers(chain: Sequence[x509.Certificate]) -> None:
    for position, cert in enumerate(chain[1:], start=1):
        label = f"issuer {cert.subject.rfc4514_string()}"
        _check_critical_extensions(cert, label)
        try:
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            raise UnknownCa(f"{label} is not a CA (no basicConstraints)") from None
        if not constraints.ca:
            raise UnknownCa(f"{label} is not a CA")
        # CA certificates between this one and the leaf (self-issued ones do not count, RFC 5280 §4.2.1.9).
        below = sum(1 for c in chain[1:position] if c.subject != c.issuer)
        if constraints.path_length is not None and below > constraints.path_length:
            raise UnknownCa(f"{label}: path length constraint exceeded")
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if not usage.key_cert_sign:
            raise UnknownCa(f"{label} may not sign certificates (keyUsage)")


def _check_profile(cert: x509.Certificate, kind: Kind) -> BasicInfo | None:
    _check_critical_extensions(cert, "certificate")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.ca:
            raise WrongCertificateType("a CA certificate is not a card certificate")
    except x509.ExtensionNotFound:
        pass
    actual = certificate_kind(cert)
    if actual != kind:
        raise WrongCertificateType(f"expected a {kind} certificate, got {actual or 'no JPKI policy'}")
    if kind == "auth":
        if has_personal_data(cert):
            raise WrongCertificateType("a user-authentication certificate must not carry personal data")
        basic_info = None
    else:
        basic_info = read_basic_info(cert)
        if basic_info is None:
            raise WrongCertificateType("a signing certificate without the basic information")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise WrongKeyUsage("no keyUsage extension") from None
    if not usage.digital_signature:
        raise WrongKeyUsage("digitalSignature not allowed")
    if kind == "sign" and not usage.content_commitment:
        raise WrongKeyUsage("nonRepudiation not allowed")
    return basic_info


def _usable_crl(crl: x509.CertificateRevocationList) -> bool:
    """Full CRLs only: delta CRLs, partitioned scopes and unknown critical extensions are not understood."""
    for extension in crl.extensions:
        value = extension.value
        if isinstance(value, x509.DeltaCRLIndicator):
            return False
        if isinstance(value, x509.IssuingDistributionPoint) and (
            value.only_some_reasons
            or value.indirect_crl
            or value.only_contains_ca_certs
            or value.only_contains_attribute_certs
        ):
            return False
        if extension.critical and isinstance(value, x509.UnrecognizedExtension):
            return False
    return True


def _check_revocation(
    cert: x509.Certificate, issuer: x509.Certificate, store: TrustStore, at: datetime
) -> None:
    candidates = []
    for crl in store.crls:
        if crl.issuer != cert.issuer:
            continue
        try:
            signed = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        except (TypeError, ValueError):
            signed = False
        if signed and _usable_crl(crl):
            candidates.append(crl)
    if not candidates:
        raise CrlUnavailable(f"no CRL signed by {cert.issuer.rfc4514_string()}")
    crl = max(candidates, key=lambda c: c.last_update_utc)
    if crl.next_update_utc is None or crl.next_update_utc < at:
        raise CrlUnavailable(f"the newest CRL was due at {crl.next_update_utc}")
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise CertificateRevoked(f"serial {format(cert.serial_number, 'x')} is on the CRL")


# --- Public API ---------------------------------------------------------------------------------------------
def verify_certificate(
    cert: x509.Certificate,
    *,
    kind: Kind,
    at: datetime,
    store: TrustStore,
    untrusted: Sequence[x509.Certificate] = (),
) -> VerifiedCertificate:
    """Check `cert` as a JPKI certificate of `kind` at time `at` (aware). Raises a JpkiError subclass.

    `untrusted` are extra certificates that may complete the chain (e.g. those embedded in a CMS signature);
    they are never trusted by themselves.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be an aware datetime")
    if kind not in ("auth", "sign"):
        raise ValueError(f"unknown certificate kind {kind!r}")
    if cert.serial_number <= 0:
        raise Malformed("serial numbers must be positive")
    chain = build_chain(cert, store, at=at, untrusted=untrusted)
    _check_issuers(chain)
    _check_validity(chain, at)
    basic_info = _check_profile(cert, kind)
    _check_revocation(cert, chain[1], store, at)
    return VerifiedCertificate(
        kind=kind,
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        basic_info=basic_info,
        certificate=cert,
    )


def verify_challenge_signature(cert: x509.Certificate, nonce: bytes, signature: bytes) -> None:
    """RSASSA-PKCS1-v1_5 / SHA-256 signature over `nonce` by the certificate's key, or BadSignature.

    Checks the signature only: call `verify_certificate(..., kind="auth")` for the certificate itself.
    """
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadSignature("the certificate key is not RSA")
    try:
        public_key.verify(signature, nonce, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature("challenge signature does not verify") from exc
