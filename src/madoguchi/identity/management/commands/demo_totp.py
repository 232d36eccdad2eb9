"""`madoguchi demo_totp USER`: the current two-step code of a demo staff account (development only).

`madoguchi demo` enrols an authenticator for each demo staff account so that a demonstration needs no
phone; this prints what that authenticator would show now. Refused in production.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from madoguchi.identity.demo import DEMO_STAFF
from madoguchi.identity.staff_auth import confirmed_device


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo staff account (development only)."

    def add_arguments(self, parser):
        parser.add_argument("username", choices=[row[0] for row in DEMO_STAFF])

    def handle(self, *args, username, **options):
        if settings.PRODUCTION or not settings.MADOGUCHI_DEMO:
            raise CommandError("Demo codes are not available in production.")
        from madoguchi.identity.models import User

        user = User.objects.filter(username=username).first()
        device = confirmed_device(user) if user else None
        if device is None:
            raise CommandError(f"{username} has no authenticator: run `madoguchi demo` first.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        self.stdout.write(f"{code:0{device.digits}d}")
