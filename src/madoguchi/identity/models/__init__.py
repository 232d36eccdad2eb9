"""Identity models: staff (users and roles), residents (My Number Card holders) and businesses (GビズID)."""

from madoguchi.identity.models.business import Business, BusinessAccount
from madoguchi.identity.models.desk import DeskSession
from madoguchi.identity.models.resident import (
    ApiToken,
    CertificateRenewal,
    DuplicateHolderReport,
    IssuedMyKeyId,
    JpkiChallenge,
    Resident,
    ResidentCertificate,
)
from madoguchi.identity.models.staff import StaffRole, User

__all__ = [
    "ApiToken",
    "Business",
    "BusinessAccount",
    "CertificateRenewal",
    "DeskSession",
    "DuplicateHolderReport",
    "IssuedMyKeyId",
    "JpkiChallenge",
    "Resident",
    "ResidentCertificate",
    "StaffRole",
    "User",
]
