"""The two certificate profiles of the My Number Card, modelled on J-LIS's JPKI profiles.

利用者証明用電子証明書 (user-authentication certificate, kind ``"auth"``)
    Proves "the holder of this card is here". It carries NO personal data: the subject is ``C=JP`` plus an
    opaque random ``CN``, and there is no subjectAltName. keyUsage = digitalSignature only (critical).
    certificatePolicies holds an OID under the JPKI authentication arc ``1.2.392.200149.8.5.1.3``.

署名用電子証明書 (signing certificate, kind ``"sign"``)
    Used to sign applications. keyUsage = digitalSignature + nonRepudiation (critical); certificatePolicies
    holds an OID under the JPKI signing arc ``1.2.392.200149.8.5.1.1``. The 基本4情報 travel in the
    subjectAltName as ``otherName`` entries whose values are UTF8String:

    ======================  ===========================  ===================================================
    氏名 name               1.2.392.200149.8.5.5.1       as registered in the 住民基本台帳
    性別 sex                1.2.392.200149.8.5.5.3       "1" male, "2" female, "9" not applicable (ISO 5218
                                                         codes; ISO's "0 not known" is not used)
    生年月日 date of birth  1.2.392.200149.8.5.5.4       era digit + Gregorian YYYYMMDD, e.g. "319850401"
                                                         (era: 1 明治 2 大正 3 昭和 4 平成 5 令和); a bare
                                                         YYYYMMDD is also accepted when reading
    住所 address            1.2.392.200149.8.5.5.5
    氏名カナ name kana      2.25.286217111883066386317578767333284207603  (Madoguchi's own OID, see below)
    ======================  ===========================  ===================================================

What is modelled: the split into two certificates and two secrets, the absence of personal data in the auth
certificate, key usages and their criticality, the policy arcs that tell the two kinds apart, the 基本4情報 as
otherName entries in the JPKI ``1.2.392.200149.8.5.5`` arc, RSA 2048 keys and SHA-256 signatures, validity
ending on the holder's 5th birthday after issue (capped by the issuing CA's own validity).

What is simplified or invented:

- The exact OIDs (both policy OIDs, ``...8.5.1.1.20`` and ``...8.5.1.3.30``, and the personal-data OIDs)
  and the date-of-birth encoding follow publicly described JPKI usage but MUST be confirmed against the
  profile J-LIS publishes (公的個人認証サービス 証明書プロファイル) before production. Reading never depends
  on the last policy arc, only on the two parent arcs.
- Real certificates also carry 代替文字 (substitute-character) positions for names and addresses with 外字
  (``...8.5.5.2`` and ``...8.5.5.6``); they are not produced or read here.
- The real profile has no name kana. It is optional here and deliberately NOT put in J-LIS's arc (whose
  numbers J-LIS assigns, ``.2`` already meaning something else) but under a UUID-based OID (X.667 ``2.25``),
  which needs no registration.
- Subject names are reduced to ``C=JP, CN=<random>``; CRL distribution points, authority information access
  (OCSP) and J-LIS's real CA names are left out.
"""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from asn1crypto import core
from cryptography import x509
from cryptography.x509.oid import NameOID

from madoguchi.identity.jpki.errors import Malformed

Kind = Literal["auth", "sign"]
KINDS: tuple[Kind, ...] = ("auth", "sign")

# Certificate policies: the two parent arcs tell the kinds apart; the leaves are what we issue.
POLICY_ARC_SIGN = "1.2.392.200149.8.5.1.1"
POLICY_ARC_AUTH = "1.2.392.200149.8.5.1.3"
POLICY_SIGN = x509.ObjectIdentifier(POLICY_ARC_SIGN + ".20")
POLICY_AUTH = x509.ObjectIdentifier(POLICY_ARC_AUTH + ".30")

# 基本4情報 (subjectAltName otherName type-ids).
OID_NAME = x509.ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_SEX = x509.ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_DATE_OF_BIRTH = x509.ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS = x509.ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_NAME_KANA = x509.ObjectIdentifier("2.25.286217111883066386317578767333284207603")
PERSONAL_DATA_OIDS = frozenset({OID_NAME, OID_SEX, OID_DATE_OF_BIRTH, OID_ADDRESS, OID_NAME_KANA})

SEX_CODES = {"1": "男性", "2": "女性", "9": "適用不能"}
"""ISO 5218-like sex codes: 1 male, 2 female, 9 not applicable."""

# Japanese eras for the date-of-birth encoding: (first day, era digit).
_ERAS: tuple[tuple[date, str], ...] = (
    (date(2019, 5, 1), "5"),  # 令和
    (date(1989, 1, 8), "4"),  # 平成
    (date(1926, 12, 25), "3"),  # 昭和
    (date(1912, 7, 30), "2"),  # 大正
    (date(1868, 1, 25), "1"),  # 明治 (Gregorian dates only; earlier births are not represented)
)

CARD_VALIDITY_BIRTHDAYS = 5
"""Both certificates are valid until the holder's 5th birthday after issue (the card itself lasts longer)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BasicInfo:
    """The 基本4情報 read from (or written into) a signing certificate, plus optional name kana.

    ``sex`` is an ISO 5218-like code: ``"1"`` male, ``"2"`` female, ``"9"`` not applicable.
    """

    name: str
    name_kana: str | None = None
    address: str
    date_of_birth: date
    sex: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("BasicInfo.name must be a non-empty string")
        if not isinstance(self.address, str) or not self.address.strip():
            raise ValueError("BasicInfo.address must be a non-empty string")
        if self.name_kana is not None and (not isinstance(self.name_kana, str) or not self.name_kana.strip()):
            raise ValueError("BasicInfo.name_kana must be None or a non-empty string")
        if isinstance(self.date_of_birth, datetime) or not isinstance(self.date_of_birth, date):
            raise ValueError("BasicInfo.date_of_birth must be a date")
        if self.sex not in SEX_CODES:
            raise ValueError("BasicInfo.sex must be '1' (male), '2' (female) or '9' (not applicable)")


# --- Encoding helpers ---------------------------------------------------------------------------------------
def _utf8(value: str) -> bytes:
    return core.UTF8String(value).dump()


def _read_string(value: bytes) -> str:
    try:
        parsed = core.load(value, strict=True)
        if not isinstance(parsed, core.AbstractString):
            raise ValueError("not a string type")
        text = parsed.native
    except (ValueError, TypeError) as exc:
        raise Malformed(f"otherName value is not a DER string: {exc}") from exc
    if not isinstance(text, str):
        raise Malformed("otherName value is not a string")
    return text


def encode_date_of_birth(value: date) -> str:
    """Era digit + Gregorian YYYYMMDD (see the module docstring)."""
    for first_day, digit in _ERAS:
        if value >= first_day:
            return digit + value.strftime("%Y%m%d")
    raise ValueError("dates of birth before 1868-01-25 are not supported")


def decode_date_of_birth(text: str) -> date:
    digits = text[1:] if len(text) == 9 else text
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        raise Malformed(f"date of birth {len(text)} characters, not [era]YYYYMMDD")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError as exc:
        raise Malformed("date of birth is not a calendar date") from exc


# --- Reading ------------------------------------------------------------------------------------------------
def _extension(cert: x509.Certificate, ext_type: type):
    try:
        return cert.extensions.get_extension_for_class(ext_type)
    except x509.ExtensionNotFound:
        return None
    except ValueError as exc:  # duplicate or undecodable extensions
        raise Malformed(f"bad extensions: {exc}") from exc


def certificate_kind(cert: x509.Certificate) -> Kind | None:
    """``"auth"`` or ``"sign"`` according to the certificate-policy OIDs; None if neither or both."""
    ext = _extension(cert, x509.CertificatePolicies)
    if ext is None:
        return None
    kinds = set()
    for policy in ext.value:
        oid = policy.policy_identifier.dotted_string
        if oid.startswith(POLICY_ARC_SIGN + "."):
            kinds.add("sign")
        elif oid.startswith(POLICY_ARC_AUTH + "."):
            kinds.add("auth")
    return kinds.pop() if len(kinds) == 1 else None


def _personal_data(cert: x509.Certificate) -> dict[x509.ObjectIdentifier, str]:
    ext = _extension(cert, x509.SubjectAlternativeName)
    if ext is None:
        return {}
    values: dict[x509.ObjectIdentifier, str] = {}
    for other in ext.value.get_values_for_type(x509.OtherName):
        if other.type_id not in PERSONAL_DATA_OIDS:
            continue
        if other.type_id in values:
            raise Malformed(f"duplicate otherName {other.type_id.dotted_string}")
        values[other.type_id] = _read_string(other.value)
    return values


def has_personal_data(cert: x509.Certificate) -> bool:
    """True if any 基本4情報 (or kana) entry is present, which an auth certificate must never have."""
    return bool(_personal_data(cert))


def read_basic_info(cert: x509.Certificate) -> BasicInfo | None:
    """The 基本4情報 of a signing certificate; None if it carries none. Raises Malformed if incomplete."""
    values = _personal_data(cert)
    if not values:
        return None
    missing = [
        oid.dotted_string for oid in (OID_NAME, OID_SEX, OID_DATE_OF_BIRTH, OID_ADDRESS) if oid not in values
    ]
    if missing:
        raise Malformed(f"incomplete basic information, missing {', '.join(missing)}")
    try:
        return BasicInfo(
            name=values[OID_NAME],
            name_kana=values.get(OID_NAME_KANA),
            address=values[OID_ADDRESS],
            date_of_birth=decode_date_of_birth(values[OID_DATE_OF_BIRTH]),
            sex=values[OID_SEX],
        )
    except ValueError as exc:
        raise Malformed(f"invalid basic information: {exc}") from exc


# --- Building (used by the test CA) -------------------------------------------------------------------------
def random_subject() -> x509.Name:
    """``C=JP, CN=<opaque random>``: no personal data in any subject."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(12).upper()),
        ]
    )


def basic_info_san(info: BasicInfo) -> x509.SubjectAlternativeName:
    names = [
        x509.OtherName(OID_NAME, _utf8(info.name)),
        x509.OtherName(OID_SEX, _utf8(info.sex)),
        x509.OtherName(OID_DATE_OF_BIRTH, _utf8(encode_date_of_birth(info.date_of_birth))),
        x509.OtherName(OID_ADDRESS, _utf8(info.address)),
    ]
    if info.name_kana:
        names.append(x509.OtherName(OID_NAME_KANA, _utf8(info.name_kana)))
    return x509.SubjectAlternativeName(names)


def key_usage(
    *, digital_signature: bool = False, content_commitment: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def leaf_extensions(kind: Kind, basic_info: BasicInfo | None) -> list[tuple[x509.ExtensionType, bool]]:
    """The profile-specific extensions (and their criticality) of an end-entity certificate of `kind`."""
    if kind == "auth":
        return [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (key_usage(digital_signature=True), True),
            (x509.CertificatePolicies([x509.PolicyInformation(POLICY_AUTH, None)]), False),
        ]
    if kind == "sign":
        if basic_info is None:
            raise ValueError("a signing certificate needs the basic information")
        return [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (key_usage(digital_signature=True, content_commitment=True), True),
            (x509.CertificatePolicies([x509.PolicyInformation(POLICY_SIGN, None)]), False),
            (basic_info_san(basic_info), False),
        ]
    raise ValueError(f"unknown certificate kind {kind!r}")


def default_not_after(date_of_birth: date, issued: datetime) -> datetime:
    """End of the holder's 5th birthday after `issued` (Asia/Tokyo day, expressed in UTC).

    A 29 February birthday falls on 28 February in common years.
    """
    jst = timedelta(hours=9)
    issued_day = (issued.astimezone(UTC) + jst).date()
    count = 0
    year = issued_day.year
    while True:
        try:
            birthday = date_of_birth.replace(year=year)
        except ValueError:
            birthday = date(year, 2, 28)
        if birthday > issued_day:
            count += 1
            if count == CARD_VALIDITY_BIRTHDAYS:
                end_jst = datetime.combine(birthday, time(23, 59, 59), tzinfo=UTC)
                return end_jst - jst
        year += 1
