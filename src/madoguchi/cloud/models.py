"""自治体クラウド: groups of municipalities that share one deployment and its operating cost.

Money is integer yen; shares are integer basis points (1/100 of a percent). A cost statement and its lines
are written once by `services.cost_statement_issue` and never change afterwards.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality

BASIS_POINTS = 10_000


class FrozenError(Exception):
    """An issued statement or one of its lines was about to be changed."""


class CloudGroup(models.Model):
    class SharingRule(models.TextChoices):
        EQUAL_AND_USAGE = "equal_usage", _("equal share + usage share")
        EQUAL_AND_POPULATION = "equal_population", _("equal share + population share")

    name = models.CharField(_("name"), max_length=120, unique=True)
    lead_municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        related_name="led_cloud_groups",
        verbose_name=_("lead municipality"),
    )
    sharing_rule = models.CharField(_("cost-sharing rule"), max_length=20, choices=SharingRule.choices)
    equal_share_bp = models.PositiveIntegerField(
        _("equal share (basis points)"),
        validators=[MaxValueValidator(BASIS_POINTS)],
        help_text=_(
            "The part of the cost split equally among members, in 1/100 %; the rest follows the rule."
        ),
    )
    reported_reduction_bp = models.PositiveIntegerField(
        _("reported cost reduction (basis points)"), null=True, blank=True
    )
    reported_reduction_source = models.CharField(
        _("source of the reported reduction"), max_length=255, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("cloud group")
        verbose_name_plural = _("cloud groups")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(equal_share_bp__lte=BASIS_POINTS), name="cloud_group_equal_share_bp_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def equal_share_percent(self) -> str:
        return f"{self.equal_share_bp / 100:.2f}%"


class GroupMembership(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        LEFT = "left", _("left")

    group = models.ForeignKey(CloudGroup, on_delete=models.CASCADE, related_name="memberships")
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        related_name="cloud_memberships",
        verbose_name=_("municipality"),
    )
    joined_on = models.DateField(_("joined on"))
    cost_before_yen = models.PositiveBigIntegerField(
        _("annual cost before joining (yen)"),
        null=True,
        blank=True,
        help_text=_("Left empty when not recorded."),
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        verbose_name = _("group membership")
        verbose_name_plural = _("group memberships")
        ordering = ["group", "municipality__code"]
        constraints = [
            models.UniqueConstraint(fields=["group", "municipality"], name="cloud_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group} — {self.municipality}"


class GroupProcedureStandard(models.Model):
    """A procedure the group runs one way for every member (no per-member customisation)."""

    group = models.ForeignKey(CloudGroup, on_delete=models.CASCADE, related_name="standards")
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("standard procedure")
        verbose_name_plural = _("standard procedures")
        ordering = ["group", "code"]
        constraints = [models.UniqueConstraint(fields=["group", "code"], name="cloud_standard_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProcedureAdoption(models.Model):
    membership = models.ForeignKey(GroupMembership, on_delete=models.CASCADE, related_name="adoptions")
    standard = models.ForeignKey(GroupProcedureStandard, on_delete=models.CASCADE, related_name="adoptions")
    adopted_on = models.DateField(_("adopted on"))

    class Meta:
        verbose_name = _("procedure adoption")
        verbose_name_plural = _("procedure adoptions")
        constraints = [
            models.UniqueConstraint(fields=["membership", "standard"], name="cloud_adoption_unique")
        ]

    def __str__(self) -> str:
        return f"{self.membership} — {self.standard}"


class UsageRecord(models.Model):
    membership = models.ForeignKey(GroupMembership, on_delete=models.CASCADE, related_name="usage")
    month = models.PositiveIntegerField(_("month (YYYYMM)"))
    submissions = models.PositiveBigIntegerField(_("submissions"), default=0)
    storage_bytes = models.PositiveBigIntegerField(_("storage (bytes)"), default=0)
    api_calls = models.PositiveBigIntegerField(_("API calls"), default=0)
    users = models.PositiveIntegerField(_("users"), default=0)

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        ordering = ["membership", "month"]
        constraints = [
            models.UniqueConstraint(fields=["membership", "month"], name="cloud_usage_unique_month"),
            models.CheckConstraint(
                condition=models.Q(month__gte=190001, month__lte=999912), name="cloud_usage_month_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership} {self.month}"


period_validator = RegexValidator(r"^(\d{4}(0[1-9]|1[0-2])|FY\d{4})$", _("Enter YYYYMM or FYYYYY."))


class CostStatement(models.Model):
    """One period's operating cost of a group, split among its members. Frozen once written."""

    group = models.ForeignKey(CloudGroup, on_delete=models.PROTECT, related_name="statements")
    period = models.CharField(
        _("period"),
        max_length=6,
        validators=[period_validator],
        help_text=_("YYYYMM, or FY and a fiscal year."),
    )
    total_cost_yen = models.PositiveBigIntegerField(_("total cost (yen)"))
    sharing_rule = models.CharField(
        _("cost-sharing rule"), max_length=20, choices=CloudGroup.SharingRule.choices
    )
    equal_share_bp = models.PositiveIntegerField(_("equal share (basis points)"))
    note = models.CharField(_("note"), max_length=255, blank=True)
    issued_at = models.DateTimeField(_("issued at"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("cost statement")
        verbose_name_plural = _("cost statements")
        ordering = ["group", "-period"]
        constraints = [
            models.UniqueConstraint(fields=["group", "period"], name="cloud_statement_unique_period")
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.period}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise FrozenError("an issued cost statement cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenError("an issued cost statement cannot be deleted")

    @property
    def equal_share_percent(self) -> str:
        return f"{self.equal_share_bp / 100:.2f}%"


class CostStatementLine(models.Model):
    statement = models.ForeignKey(CostStatement, on_delete=models.PROTECT, related_name="lines")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    basis = models.CharField(_("basis of the variable part"), max_length=120, blank=True)
    equal_part_yen = models.PositiveBigIntegerField(_("equal part (yen)"))
    variable_part_yen = models.PositiveBigIntegerField(_("variable part (yen)"))
    total_yen = models.PositiveBigIntegerField(_("total (yen)"))

    class Meta:
        verbose_name = _("cost statement line")
        verbose_name_plural = _("cost statement lines")
        ordering = ["statement", "municipality__code"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "municipality"], name="cloud_line_unique_member"),
            models.CheckConstraint(
                condition=models.Q(total_yen=models.F("equal_part_yen") + models.F("variable_part_yen")),
                name="cloud_line_parts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statement} — {self.municipality}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise FrozenError("a line of an issued cost statement cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise FrozenError("a line of an issued cost statement cannot be deleted")


class NationalCloudFigures(models.Model):
    """National figures for the savings report, as of a date and with their source. Any figure the source
    does not give stays empty and the report shows it as not recorded."""

    as_of = models.DateField(_("as of"), unique=True)
    bodies_on_cloud = models.PositiveIntegerField(_("bodies using the cloud"), null=True, blank=True)
    bodies_on_group_cloud = models.PositiveIntegerField(
        _("bodies using a shared (自治体) cloud"), null=True, blank=True
    )
    target_bodies_on_cloud = models.PositiveIntegerField(
        _("target: bodies using the cloud"), null=True, blank=True
    )
    target_bodies_on_group_cloud = models.PositiveIntegerField(
        _("target: bodies using a shared cloud"), null=True, blank=True
    )
    target_deadline = models.CharField(_("target deadline"), max_length=60, blank=True)
    source = models.CharField(_("source"), max_length=255)

    class Meta:
        verbose_name = _("national cloud figures")
        verbose_name_plural = _("national cloud figures")
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"{self.as_of}"
