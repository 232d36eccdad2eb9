"""`madoguchi procedures …`: the national catalogue and the retention purge from the command line.

madoguchi procedures load-catalogue      national templates and life-event bundles from the bundled data
madoguchi procedures purge [--dry-run]   delete contents of closed applications past their retention period
madoguchi procedures unseal [--municipality CODE]   hand sealed My Numbers over to the vault (unseal.py)
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from madoguchi.procedures import services
from madoguchi.procedures.models import Submission


class Command(BaseCommand):
    help = "Online procedures: load the national catalogue, or run the retention purge."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("load-catalogue", help="create or update the national templates and bundles")
        purge = sub.add_parser(
            "purge", help="delete the contents of applications past their retention period"
        )
        purge.add_argument("--dry-run", action="store_true", help="only count what would be purged")
        purge.add_argument("--limit", type=int, default=10_000)
        unseal = sub.add_parser("unseal", help="hand sealed My Numbers over to the vault (My Number zone)")
        unseal.add_argument("--municipality", metavar="CODE")

    def handle(self, *args, action, **options):
        if action == "load-catalogue":
            services.catalogue_load(stdout=self.stdout)
            return
        if action == "unseal":
            call_command("unseal", municipality=options["municipality"], stdout=self.stdout)
            return
        due = Submission.objects.filter(retain_until__lt=timezone.localdate(), purged_at__isnull=True)
        if options["dry_run"]:
            self.stdout.write(f"{due.count()} applications are past their retention period.")
            return
        purged = services.retention_purge(limit=options["limit"])
        self.stdout.write(f"Contents of {purged} applications deleted (each recorded in the audit log).")
