"""Errors of the JPKI library: one stable `code` each, and a message in Japanese first, then English.

Callers branch on `code` (or on the subclass), show `message_ja` to residents and staff, and log `code` and
`detail`. `detail` is a technical note in English for logs (never shown to a resident); it never contains a
PIN, a password, a private key or the 基本4情報.
"""

from __future__ import annotations


class JpkiError(Exception):
    """Base class. `str(error)` is the Japanese message followed by the English one."""

    code = "jpki_error"
    message_ja = "電子証明書の処理でエラーが発生しました。"
    message_en = "The electronic certificate could not be processed."

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(self.message_ja)

    def __str__(self) -> str:
        return f"{self.message_ja} ({self.message_en})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


# --- Certificates and chains --------------------------------------------------------------------------------
class UnknownCa(JpkiError):
    code = "unknown_ca"
    message_ja = "信頼できる認証局が発行した電子証明書ではありません。"
    message_en = "The certificate was not issued by a trusted certification authority."


class BadChainSignature(JpkiError):
    code = "bad_chain_signature"
    message_ja = "電子証明書の発行者の署名を検証できませんでした。"
    message_en = "The issuer's signature on the certificate does not verify."


class CertificateExpired(JpkiError):
    code = "certificate_expired"
    message_ja = "電子証明書の有効期限が切れています。市区町村の窓口で更新してください。"
    message_en = "The certificate has expired. Renew it at your municipal office."


class CertificateNotYetValid(JpkiError):
    code = "certificate_not_yet_valid"
    message_ja = "電子証明書の有効期間がまだ始まっていません。"
    message_en = "The certificate is not valid yet."


class CertificateRevoked(JpkiError):
    code = "certificate_revoked"
    message_ja = "この電子証明書は失効しています。"
    message_en = "The certificate has been revoked."


class CrlUnavailable(JpkiError):
    code = "crl_unavailable"
    message_ja = (
        "失効情報を確認できないため、電子証明書を受け付けられません。しばらくしてからお試しください。"
    )
    message_en = (
        "The revocation status cannot be checked, so the certificate is not accepted. Try again later."
    )


class WrongKeyUsage(JpkiError):
    code = "wrong_key_usage"
    message_ja = "この電子証明書はこの用途には使えません(鍵用途が一致しません)。"
    message_en = "The certificate's key usage does not allow this use."


class WrongCertificateType(JpkiError):
    code = "wrong_certificate_type"
    message_ja = "電子証明書の種類が違います(利用者証明用と署名用を取り違えていないか確認してください)。"
    message_en = (
        "Wrong kind of certificate (user-authentication and signing certificates are not interchangeable)."
    )


# --- Signatures and input -----------------------------------------------------------------------------------
class BadSignature(JpkiError):
    code = "bad_signature"
    message_ja = "電子署名を検証できませんでした。"
    message_en = "The signature does not verify."


class Malformed(JpkiError):
    code = "malformed"
    message_ja = "データの形式が正しくありません。"
    message_en = "The data is malformed."


class DigestMismatch(JpkiError):
    code = "digest_mismatch"
    message_ja = "署名された内容と文書が一致しません(文書が改ざんされたおそれがあります)。"
    message_en = "The signed content does not match the document (it may have been altered)."


# --- The card: PIN (利用者証明用) and password (署名用) --------------------------------------------------------------
class PinLocked(JpkiError):
    code = "pin_locked"
    message_ja = "利用者証明用電子証明書の暗証番号がロックされています。市区町村の窓口で暗証番号の再設定をしてください。"
    message_en = "The user-authentication PIN is locked. Have it reset at your municipal office."


class WrongPin(JpkiError):
    code = "wrong_pin"

    def __init__(self, retries_left: int, detail: str = "") -> None:
        self.retries_left = retries_left
        self.message_ja = f"暗証番号が違います。あと{retries_left}回間違えるとロックされます。"
        self.message_en = f"Wrong PIN. {retries_left} more wrong attempt(s) will lock it."
        super().__init__(detail)


class PasswordLocked(JpkiError):
    code = "password_locked"
    message_ja = (
        "署名用電子証明書のパスワードがロックされています。市区町村の窓口でパスワードの再設定をしてください。"
    )
    message_en = "The signing password is locked. Have it reset at your municipal office."


class WrongPassword(JpkiError):
    code = "wrong_password"

    def __init__(self, retries_left: int, detail: str = "") -> None:
        self.retries_left = retries_left
        self.message_ja = f"パスワードが違います。あと{retries_left}回間違えるとロックされます。"
        self.message_en = f"Wrong password. {retries_left} more wrong attempt(s) will lock it."
        super().__init__(detail)


class InvalidPinFormat(JpkiError):
    """Not a well-formed PIN; rejected before it reaches the card, so it does not count as a wrong try."""

    code = "invalid_pin_format"
    message_ja = "暗証番号は数字4桁で入力してください。"
    message_en = "The PIN must be exactly 4 digits."


class InvalidPasswordFormat(JpkiError):
    """Not a well-formed password; rejected before it reaches the card, so it does not count as a wrong try."""

    code = "invalid_password_format"
    message_ja = "パスワードは英数字6文字以上16文字以下で入力してください。"
    message_en = "The password must be 6 to 16 ASCII letters or digits."


ALL_ERRORS: tuple[type[JpkiError], ...] = (
    UnknownCa,
    BadChainSignature,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CrlUnavailable,
    WrongKeyUsage,
    WrongCertificateType,
    BadSignature,
    Malformed,
    DigestMismatch,
    PinLocked,
    WrongPin,
    PasswordLocked,
    WrongPassword,
    InvalidPinFormat,
    InvalidPasswordFormat,
)
"""Every concrete error class, for callers that map codes to HTTP responses or translations."""
