"""JPKI (公的個人認証) for Madoguchi: certificate profiles, a test CA, virtual cards and verification.

A pure library: no Django imports; callers pass times (aware datetimes) and file paths. Services around it
(sign-in, signed applications, desk actions) live elsewhere and do the auditing.

    from madoguchi.identity.jpki import TestCA, VirtualCard, TrustStore, verify_certificate
"""

from madoguchi.identity.jpki.ca import CardIssue, LinkageRow, TestCA
from madoguchi.identity.jpki.card import VirtualCard, validate_password, validate_pin
from madoguchi.identity.jpki.cms import verify_detached_signature
from madoguchi.identity.jpki.errors import JpkiError
from madoguchi.identity.jpki.profiles import BasicInfo, certificate_kind, read_basic_info
from madoguchi.identity.jpki.verify import (
    TrustStore,
    VerifiedCertificate,
    verify_certificate,
    verify_challenge_signature,
)

__all__ = [
    "BasicInfo",
    "CardIssue",
    "JpkiError",
    "LinkageRow",
    "TestCA",
    "TrustStore",
    "VerifiedCertificate",
    "VirtualCard",
    "certificate_kind",
    "read_basic_info",
    "validate_password",
    "validate_pin",
    "verify_certificate",
    "verify_challenge_signature",
    "verify_detached_signature",
]
