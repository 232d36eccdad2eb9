"""Verification of detached CMS (PKCS#7) signatures made with a 署名用電子証明書.

`cryptography` signs CMS but cannot verify it, so the structure is read with asn1crypto and each step is done
with `cryptography` primitives (hashing, RSA PKCS#1 v1.5 verification), following RFC 5652 §5.4:

- with signed attributes, the content-type attribute must equal the encapsulated content type, the
  message-digest attribute must equal the digest of the document, and the signature covers the DER of the
  signed attributes re-encoded with the SET OF tag (0x31) instead of the IMPLICIT [0] tag;
- without signed attributes, the signature covers the document itself.

The signer's certificate must be embedded in the signature; other embedded certificates may complete the chain
but are never trusted by themselves. Exactly one SignerInfo is supported. Digests: SHA-256/384/512.
"""

from __future__ import annotations

import dataclasses
import hmac
from datetime import datetime

from asn1crypto import cms as asn1_cms
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from madoguchi.identity.jpki.errors import BadSignature, DigestMismatch, Malformed
from madoguchi.identity.jpki.verify import TrustStore, VerifiedCertificate, verify_certificate

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_RSA_SIGNATURES = {"sha256_rsa": "sha256", "sha384_rsa": "sha384", "sha512_rsa": "sha512"}


@dataclasses.dataclass(frozen=True)
class _Parsed:
    digest_name: str
    signer: x509.Certificate
    others: tuple[x509.Certificate, ...]
    signed_attributes: bytes | None  # DER, re-tagged as SET OF
    message_digest: bytes | None
    embedded_content: bytes | None
    signature: bytes


def _der(signature: bytes) -> bytes:
    if signature.lstrip()[:10] == b"-----BEGIN":
        try:
            type_name, _headers, der = asn1_pem.unarmor(signature.strip())
        except ValueError as exc:
            raise Malformed(f"bad PEM: {exc}") from exc
        if type_name not in ("CMS", "PKCS7"):
            raise Malformed(f"PEM block {type_name!r} is not a CMS signature")
        return der
    return signature


def _single_value(attribute: asn1_cms.CMSAttribute, name: str):
    values = attribute["values"]
    if len(values) != 1:
        raise Malformed(f"the {name} attribute must have exactly one value")
    return values[0]


def _matches(sid: asn1_cms.SignerIdentifier, cert: asn1_x509.Certificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        wanted = sid.chosen
        return cert.issuer == wanted["issuer"] and cert.serial_number == wanted["serial_number"].native
    if sid.name == "subject_key_identifier":
        return cert.key_identifier is not None and cert.key_identifier == sid.chosen.native
    return False


def _parse(signature: bytes) -> _Parsed:
    """Everything the verification needs, or Malformed. asn1crypto parses lazily, hence one try block."""
    der = _der(signature)
    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise Malformed(f"not SignedData but {info['content_type'].native}")
        signed_data = info["content"]
        signer_infos = signed_data["signer_infos"]
        if len(signer_infos) != 1:
            raise Malformed(f"exactly one signer is supported, found {len(signer_infos)}")
        signer_info = signer_infos[0]

        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        if digest_name not in _HASHES:
            raise Malformed(f"unsupported digest algorithm {digest_name}")
        signature_name = signer_info["signature_algorithm"]["algorithm"].native
        if signature_name != "rsassa_pkcs1v15" and _RSA_SIGNATURES.get(signature_name) != digest_name:
            raise Malformed(f"unsupported signature algorithm {signature_name} with {digest_name}")

        certificates: list[asn1_x509.Certificate] = []
        for choice in signed_data["certificates"] or []:
            if choice.name == "certificate":
                certificates.append(choice.chosen)
        matching = [cert for cert in certificates if _matches(signer_info["sid"], cert)]
        if not matching:
            raise Malformed("the signer's certificate is not in the signature")
        signer_der = matching[0].dump()
        others = tuple(
            x509.load_der_x509_certificate(c.dump()) for c in certificates if c.dump() != signer_der
        )
        signer = x509.load_der_x509_certificate(signer_der)

        encap = signed_data["encap_content_info"]
        content_type = encap["content_type"].dotted
        embedded = encap["content"]
        embedded_content = embedded.native if embedded.native is not None else None
        if embedded_content is not None and not isinstance(embedded_content, bytes):
            raise Malformed("embedded content is not an OCTET STRING")

        attrs = signer_info["signed_attrs"]
        signed_attributes = message_digest = None
        if attrs.native is not None and len(attrs) > 0:
            seen: dict[str, asn1_cms.CMSAttribute] = {}
            for attribute in attrs:
                name = attribute["type"].dotted
                if name in seen:
                    raise Malformed(f"duplicate signed attribute {name}")
                seen[name] = attribute
            by_name = {attribute["type"].native: attribute for attribute in attrs}
            if "content_type" not in by_name or "message_digest" not in by_name:
                raise Malformed("signed attributes lack content-type or message-digest")
            if _single_value(by_name["content_type"], "content-type").dotted != content_type:
                raise Malformed("the content-type attribute does not match the content")
            message_digest = _single_value(by_name["message_digest"], "message-digest").native
            encoded = attrs.dump()
            signed_attributes = b"\x31" + encoded[1:]  # IMPLICIT [0] -> SET OF (RFC 5652 §5.4)
        raw_signature = signer_info["signature"].native
    except Malformed:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise Malformed(f"unparseable CMS signature: {type(exc).__name__}: {exc}") from exc
    return _Parsed(
        digest_name=digest_name,
        signer=signer,
        others=others,
        signed_attributes=signed_attributes,
        message_digest=message_digest,
        embedded_content=embedded_content,
        signature=raw_signature,
    )


def verify_detached_signature(
    signature: bytes, content: bytes, *, store: TrustStore, at: datetime
) -> VerifiedCertificate:
    """Verify a CMS signature (DER or PEM) over `content` and the signer's 署名用電子証明書 at `at`.

    Returns the signer's VerifiedCertificate (with basic_info). Raises Malformed, DigestMismatch,
    BadSignature or any certificate error of `verify_certificate`.
    """
    if not isinstance(signature, bytes) or not isinstance(content, bytes):
        raise TypeError("signature and content must be bytes")
    parsed = _parse(signature)
    if parsed.embedded_content is not None and not hmac.compare_digest(parsed.embedded_content, content):
        raise DigestMismatch("the embedded content differs from the document")
    hash_algorithm = _HASHES[parsed.digest_name]()
    if parsed.signed_attributes is not None:
        digest = hashes.Hash(hash_algorithm)
        digest.update(content)
        if not isinstance(parsed.message_digest, bytes) or not hmac.compare_digest(
            parsed.message_digest, digest.finalize()
        ):
            raise DigestMismatch("the message-digest attribute does not match the document")
        signed_bytes = parsed.signed_attributes
    else:
        signed_bytes = content
    public_key = parsed.signer.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise BadSignature("the signer's key is not RSA")
    try:
        public_key.verify(parsed.signature, signed_bytes, padding.PKCS1v15(), hash_algorithm)
    except (InvalidSignature, ValueError) as exc:
        if parsed.signed_attributes is None:
            # Without attributes a changed document shows up only here.
            raise BadSignature("the signature does not verify (document changed or wrong key)") from exc
        raise BadSignature("the signature over the signed attributes does not verify") from exc
    return verify_certificate(parsed.signer, kind="sign", at=at, store=store, untrusted=parsed.others)
