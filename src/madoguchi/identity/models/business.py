"""Businesses that sign in with GビズID (OpenID Connect). A business is keyed by its 法人番号."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.core.codes import validate_corporate_number
from madoguchi.identity.models.staff import User


class Business(models.Model):
    """A corporation (corp_type 1, keyed by 法人番号) or a sole proprietor (corp_type 2, no 法人番号: keyed by
    the GビズID account that registered it)."""

    class CorpType(models.IntegerChoices):
        CORPORATION = 1, _("corporation (法人)")
        SOLE_PROPRIETOR = 2, _("sole proprietor (個人事業主)")

    corporate_number = models.CharField(_("corporate number"), max_length=13, unique=True, null=True, blank=True,
                                        validators=[validate_corporate_number])  # fmt: skip
    corp_type = models.PositiveSmallIntegerField(_("type"), choices=CorpType.choices)
    name = models.CharField(_("name"), max_length=200)
    prefecture = models.CharField(_("prefecture"), max_length=10, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    representative_name = models.CharField(_("representative"), max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("business")
        verbose_name_plural = _("businesses")

    def __str__(self) -> str:
        return self.name


class BusinessAccount(models.Model):
    """One GビズID account (a person) acting for a business."""

    class AccountType(models.IntegerChoices):
        ENTRY = 1, _("GビズID Entry (エントリー)")
        PRIME = 2, _("GビズID Prime (プライム)")
        MEMBER = 3, _("GビズID Member (メンバー)")

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="business_account")
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="accounts")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)  # the ID token's `sub`
    account_type = models.PositiveSmallIntegerField(_("account type"), choices=AccountType.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="business_account_sub")]

    def __str__(self) -> str:
        return f"{self.name or self.subject} @ {self.business}"

    @property
    def may_use_jgrants(self) -> bool:
        # jGrants accepts プライム and メンバー; エントリー is limited (DOMAIN.md §1).
        return self.account_type in (self.AccountType.PRIME, self.AccountType.MEMBER)
