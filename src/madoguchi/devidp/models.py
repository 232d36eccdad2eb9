"""What the development provider remembers: its signing key, registered clients, demo GビズID accounts, and
the codes and tokens it issued (only their SHA-256 hashes: a database dump yields no usable credential)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SigningKey(models.Model):
    """An RS256 key pair as a private JWK. Development only: a real provider keeps its key in an HSM.

    Every stored key is published in the JWKS; the newest one signs. Two processes that race to create the
    first key both succeed, and tokens signed with either still verify.
    """

    kid = models.CharField(max_length=100, unique=True)
    private_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.kid


class RegisteredClient(models.Model):
    """A relying party allowed to use the provider (client_secret_basic; exact redirect URI match)."""

    client_id = models.CharField(_("client ID"), max_length=100, unique=True)
    secret_hash = models.CharField(max_length=256)  # django.contrib.auth.hashers format
    name = models.CharField(_("name"), max_length=200)
    redirect_uris = models.JSONField(_("redirect URIs"), default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_id


class DemoAccount(models.Model):
    """A GビズID account the developer can pick on the consent page. The fields are the claims it releases."""

    class AccountType(models.IntegerChoices):
        ENTRY = 1, _("GビズID Entry (エントリー)")
        PRIME = 2, _("GビズID Prime (プライム)")
        MEMBER = 3, _("GビズID Member (メンバー)")

    class CorpType(models.IntegerChoices):
        CORPORATION = 1, _("corporation (法人)")
        SOLE_PROPRIETOR = 2, _("sole proprietor (個人事業主)")

    key = models.SlugField(max_length=50, unique=True)  # stable name for the demo loader
    subject = models.CharField(max_length=64, unique=True)  # the `sub` claim: opaque, never reused
    sort_order = models.PositiveSmallIntegerField(default=0)
    # scope `profile`: the business
    account_type = models.PositiveSmallIntegerField(_("account type"), choices=AccountType.choices)
    corp_type = models.PositiveSmallIntegerField(_("type"), choices=CorpType.choices)
    corporate_number = models.CharField(_("corporate number"), max_length=13, blank=True)
    corporate_name = models.CharField(_("business name"), max_length=200)
    prefecture = models.CharField(_("prefecture"), max_length=10, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    representative_name = models.CharField(_("representative"), max_length=100, blank=True)
    # scope `user`: the person
    user_name = models.CharField(_("name"), max_length=100)
    user_department = models.CharField(_("department"), max_length=100, blank=True)
    user_phone = models.CharField(_("phone"), max_length=30, blank=True)
    # scope `email`
    email = models.EmailField(_("email"), blank=True)

    class Meta:
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return f"{self.user_name} ({self.corporate_name})"


class AuthorizationCode(models.Model):
    """One authorization code: single use, short-lived, bound to its client, redirect URI and PKCE challenge."""

    code_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(RegisteredClient, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(DemoAccount, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.CharField(max_length=500)
    scope = models.CharField(max_length=200)
    nonce = models.CharField(max_length=255, blank=True)
    code_challenge = models.CharField(max_length=128, blank=True)  # S256 only; blank: no PKCE
    auth_time = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"code {self.pk} for {self.client_id}"


class AccessToken(models.Model):
    """A Bearer token for the userinfo endpoint. Revoked when its code is replayed (RFC 6749 §4.1.2)."""

    token_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(RegisteredClient, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(DemoAccount, on_delete=models.CASCADE, related_name="+")
    code = models.ForeignKey(AuthorizationCode, on_delete=models.CASCADE, related_name="access_tokens")
    scope = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"access token {self.pk} for {self.client_id}"
