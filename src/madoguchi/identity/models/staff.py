"""Users and staff roles. Residents and businesses join this app in the identity issue."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality


class User(AbstractUser):
    """Every person who signs in. Custom from the first migration so later fields need no swap."""

    display_name = models.CharField(_("display name"), max_length=100, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name or self.get_username()


class StaffRole(models.Model):
    """A staff member's role in one municipality; platform operators hold theirs for the whole platform."""

    class Role(models.TextChoices):
        PLATFORM_OPERATOR = "platform_operator", _("platform operator")
        MUNICIPAL_ADMIN = "municipal_admin", _("municipal administrator")
        REVIEWER = "reviewer", _("reviewer")
        DESK_CLERK = "desk_clerk", _("desk clerk")
        AUDITOR = "auditor", _("auditor")

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="staff_roles", verbose_name=_("user")
    )
    municipality = models.ForeignKey(
        Municipality,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_roles",
        verbose_name=_("municipality"),
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("staff role")
        verbose_name_plural = _("staff roles")
        constraints = [
            # A platform operator's role is platform-wide; every other role belongs to exactly one tenant.
            models.CheckConstraint(
                condition=(
                    Q(role="platform_operator", municipality__isnull=True)
                    | (~Q(role="platform_operator") & Q(municipality__isnull=False))
                ),
                name="staffrole_operator_is_platform_wide",
            ),
            models.UniqueConstraint(fields=["user", "municipality", "role"], name="staffrole_unique"),
            models.UniqueConstraint(
                fields=["user"], condition=Q(role="platform_operator"), name="staffrole_one_operator_role"
            ),
        ]

    def __str__(self) -> str:
        where = self.municipality.code if self.municipality_id else "platform"
        return f"{self.user} {self.role} @ {where}"
