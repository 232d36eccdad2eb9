"""`madoguchi vault …`: operator tools of the My Number vault.

madoguchi vault sealing-keygen   print a new X25519 key pair for the sealed hand-over of My Numbers
"""

from django.core.management.base import BaseCommand

from madoguchi.vault.sealing import generate_keypair


class Command(BaseCommand):
    help = "My Number vault tools: generate the key pair of the sealed hand-over (Internet → My Number zone)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "sealing-keygen",
            help="print a new MYNUMBER_SEALING_PRIVATE_KEY / MYNUMBER_SEALING_PUBLIC_KEY pair",
        )

    def handle(self, *args, action, **options):
        private, public = generate_keypair()
        self.stdout.write("# My Number zone only (and `all`); never give it to the Internet or LGWAN zone:")
        self.stdout.write(f"MYNUMBER_SEALING_PRIVATE_KEY={private}")
        self.stdout.write("# Internet zone (and every zone that takes My Numbers without the vault):")
        self.stdout.write(f"MYNUMBER_SEALING_PUBLIC_KEY={public}")
