"""`madoguchi demo`: load every app's demo data (core's is the public bodies). Idempotent; refused in production.

Each app may ship `<app>/demo.py` with `load_demo(*, stdout) -> list[DemoSignIn]`; this command runs them in
INSTALLED_APPS order (so dependencies come first) and prints every demo sign-in at the end.
"""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Load public bodies and demo data (idempotent). Refused unless MADOGUCHI_DEMO is on."

    def handle(self, *args, **options):
        if not settings.MADOGUCHI_DEMO:
            raise CommandError("Demo data is disabled (MADOGUCHI_DEMO is off, as in production).")
        sign_ins = []
        for config in apps.get_app_configs():
            if not config.name.startswith("madoguchi."):
                continue
            try:
                module = import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            sign_ins += module.load_demo(stdout=self.stdout)
        if sign_ins:
            self.stdout.write("\nDemo sign-ins (development only):")
            for s in sign_ins:
                self.stdout.write(f"  {s.where:<42} {s.username:<18} {s.password:<18} {s.note}")
