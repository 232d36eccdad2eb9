from django.core.management.base import BaseCommand, CommandError

from madoguchi.core import audit


class Command(BaseCommand):
    help = "Audit log tools. `audit verify` recomputes every hash chain; exit 1 naming the first bad record."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="verify every audit stream")
        verify.add_argument("--all", action="store_true", help="report every problem, not only the first")

    def handle(self, *args, subcommand, **options):
        if subcommand == "verify":
            checked, problems = audit.verify(stop_at_first=not options["all"])
            if problems:
                for problem in problems:
                    self.stderr.write(f"BROKEN: {problem}")
                raise CommandError(
                    f"audit chain broken ({checked} records checked before stopping)", returncode=1
                )
            self.stdout.write(f"OK: {checked} audit records verified, every chain intact.")
