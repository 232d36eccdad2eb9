"""Staff sign-in: password, then TOTP (enrolment on first sign-in), lockout after repeated failures."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from madoguchi.core.models import AuditRecord
from madoguchi.identity import staff_auth
from madoguchi.identity.tests.factories import StaffRoleFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def _code(device: TOTPDevice, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


def _password_step(client, user, password=PASSWORD):
    return client.post(reverse("web:staff_login"), {"username": user.username, "password": password})


def test_first_sign_in_enrols_an_authenticator_then_opens_the_back_office(client):
    user = StaffRoleFactory().user
    response = _password_step(client, user)
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:staff_mfa"))
    # Signed in with the password only: the back office is still closed.
    assert client.get(reverse("web:staff_home"))["Location"].startswith(reverse("web:staff_mfa"))
    page = client.get(response["Location"])
    assert page.status_code == 200 and "<svg" in page.content.decode() and page.context["enrolling"]
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post(reverse("web:staff_mfa"), {"token": _code(device), "next": reverse("web:staff_home")})
    assert done.status_code == 302 and done["Location"] == reverse("web:staff_home")
    assert client.get(reverse("web:staff_home")).status_code == 200
    assert TOTPDevice.objects.get(user=user).confirmed
    assert AuditRecord.objects.filter(action="identity.mfa_enrolled", actor_id=str(user.pk)).exists()


def test_later_sign_ins_ask_for_the_code(client):
    user = StaffRoleFactory().user
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    _password_step(client, user)
    page = client.get(reverse("web:staff_mfa"))
    assert not page.context["enrolling"] and "<svg" not in page.content.decode()
    wrong = client.post(
        reverse("web:staff_mfa"), {"token": "000000" if _code(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert AuditRecord.objects.filter(action="identity.mfa_failed").count() == 1
    # django-otp also throttles the device itself after a failure (1 s, doubling): wait it out.
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        device.refresh_from_db()
        ok = client.post(reverse("web:staff_mfa"), {"token": _code(device)})
        assert ok.status_code == 302
        assert client.get(reverse("web:staff_home")).status_code == 200


def test_the_code_field_rejects_non_digits_with_a_message(client):
    user = StaffRoleFactory().user
    _password_step(client, user)
    response = client.post(reverse("web:staff_mfa"), {"token": "abcdef"})
    assert response.context["form"].errors["token"]
    assert 'aria-invalid="true"' in response.content.decode()


def test_lockout_after_five_failed_passwords(client):
    user = StaffRoleFactory().user
    for _ in range(staff_auth.LOCK_AFTER):
        assert _password_step(client, user, "wrong password").status_code == 200
    locked = _password_step(client, user)  # even the right password is refused now
    assert locked.status_code == 200
    assert (
        "locked" in str(locked.context["form"].non_field_errors()).lower()
        or "ロック" in locked.content.decode()
    )
    assert "_auth_user_id" not in client.session
    assert AuditRecord.objects.filter(action="identity.sign_in_blocked").count() == 1


def test_lock_expires_after_the_window(client):
    user = StaffRoleFactory().user
    for _ in range(staff_auth.LOCK_AFTER):
        _password_step(client, user, "wrong password")
    with time_machine.travel(timezone.now() + staff_auth.LOCK_WINDOW + staff_auth.LOCK_WINDOW / 10):
        assert _password_step(client, user).status_code == 302


def test_a_reset_authenticator_must_be_enrolled_again(client):
    user = StaffRoleFactory().user
    TOTPDevice.objects.create(user=user, name="lost phone", confirmed=True)
    assert staff_auth.mfa_reset(user=user, actor=None) == 1
    _password_step(client, user)
    assert client.get(reverse("web:staff_mfa")).context["enrolling"]


def test_next_is_kept_but_never_leaves_the_site(client):
    user = StaffRoleFactory().user
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    _password_step(client, user)
    evil = client.post(reverse("web:staff_mfa"), {"token": _code(device), "next": "https://evil.example/"})
    assert evil["Location"] == reverse("web:staff_home")
