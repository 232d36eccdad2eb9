"""Staff sign-in: password, then a TOTP code (django-otp) for every staff role; throttling and lockout.

Failed attempts are read back from the audit log (actions identity.sign_in_failed and identity.mfa_failed),
so the lock holds across every web process without another store: after LOCK_AFTER failures for one
username within LOCK_WINDOW, or LOCK_AFTER_IP from one address, further attempts are refused until the
window has passed. The refusal itself is audited.
"""

from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi.core import audit
from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import User

LOCK_AFTER = 5
LOCK_AFTER_IP = 20
LOCK_WINDOW = timedelta(minutes=15)
FAILURE_ACTIONS = ("identity.sign_in_failed", "identity.mfa_failed")


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def sign_in_locked(*, username: str, ip: str) -> bool:
    """True when this username or address has failed too often within the window."""
    since = timezone.now() - LOCK_WINDOW
    recent = AuditRecord.objects.filter(stream="platform", action__in=FAILURE_ACTIONS, created_at__gte=since)
    if username and recent.filter(details__username=username).count() >= LOCK_AFTER:
        return True
    return bool(ip) and recent.filter(details__ip=ip).count() >= LOCK_AFTER_IP


class StaffAuthenticationForm(AuthenticationForm):
    """Django's sign-in form with the lockout checked before the password is even looked at."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many failed sign-in attempts. Sign-in is locked for 15 minutes. If this was not you, tell "
            "your administrator."
        ),
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "")[:150]
        ip = _client_ip(self.request)
        if sign_in_locked(username=username, ip=ip):
            audit.record(
                actor=None, action="identity.sign_in_blocked", details={"username": username, "ip": ip}
            )
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        return super().clean()


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code from your authenticator app"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )

    def clean_token(self):
        token = self.cleaned_data["token"].strip()
        if not token.isdigit():
            raise forms.ValidationError(_("The code has 6 digits."), code="format")
        return token


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def mfa_enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed TOTP device being set up (created on first call, reused until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


def _failure(request, user: User, stage: str) -> None:
    audit.record(actor=user, action="identity.mfa_failed", target=user,
                 details={"username": user.get_username(), "ip": _client_ip(request), "stage": stage})  # fmt: skip


def mfa_confirm(*, request, user: User, token: str) -> bool:
    """Confirm the enrolment device with a first code; marks this session as verified. Audited."""
    if sign_in_locked(username=user.get_username(), ip=_client_ip(request)):
        return False
    device = mfa_enrolment_device(user)
    if not device.verify_token(token):
        _failure(request, user, "enrol")
        return False
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit.record(actor=user, action="identity.mfa_enrolled", target=user)
    otp_login(request, device)
    return True


def mfa_verify(*, request, user: User, token: str) -> bool:
    """Check a code against the user's confirmed device; marks this session as verified. Audited."""
    if sign_in_locked(username=user.get_username(), ip=_client_ip(request)):
        return False
    device = confirmed_device(user)
    if device is None or not device.verify_token(token):
        _failure(request, user, "verify")
        return False
    audit.record(actor=user, action="identity.mfa_verified", target=user, details={"ip": _client_ip(request)})
    otp_login(request, device)
    return True


@transaction.atomic
def mfa_reset(*, user: User, actor) -> int:
    """Remove a staff member's authenticator (lost phone): they enrol again at the next sign-in. Audited."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    audit.record(actor=actor, action="identity.mfa_reset", target=user, details={"devices": deleted})
    return deleted
