"""`madoguchi card …`: use a virtual My Number Card file (the resident's side, for development and tests).

    madoguchi card status FILE
    madoguchi card sign-challenge FILE --nonce HEX --pin 1234 [--cert-out auth.pem]
    madoguchi card sign-document FILE --in DOC --out SIG --password abc123 [--pem]
    madoguchi card export-key FILE --password abc123 --out KEY.pem

PIN and password are taken from the command line: test cards only. Writes no audit records.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC
from pathlib import Path

from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand, CommandError

from madoguchi.identity.jpki import JpkiError, VirtualCard
from madoguchi.identity.jpki._files import write_atomic
from madoguchi.identity.management.commands.jpki import command_error


class Command(BaseCommand):
    help = "Virtual My Number Card: status, sign-challenge, sign-document, export-key."
    requires_system_checks = []  # file tools: no database, URLs or templates involved

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        status = sub.add_parser("status", help="serials, validity and PIN/password retry counters")
        status.add_argument("file", type=Path)

        challenge = sub.add_parser("sign-challenge", help="sign a sign-in nonce with the auth key (PIN)")
        challenge.add_argument("file", type=Path)
        challenge.add_argument("--nonce", required=True, help="the challenge in hex")
        challenge.add_argument("--pin", required=True)
        challenge.add_argument(
            "--cert-out", type=Path, default=None, help="also write the auth certificate (PEM)"
        )

        document = sub.add_parser(
            "sign-document", help="detached CMS signature with the signing key (password)"
        )
        document.add_argument("file", type=Path)
        document.add_argument("--in", dest="input", required=True, type=Path)
        document.add_argument("--out", required=True, type=Path)
        document.add_argument("--password", required=True)
        document.add_argument("--pem", action="store_true", help="write PEM instead of DER")

        export = sub.add_parser("export-key", help="write the signing key unencrypted (for openssl tests)")
        export.add_argument("file", type=Path)
        export.add_argument("--password", required=True)
        export.add_argument("--out", required=True, type=Path)

    def handle(self, *args, **options):
        try:
            card = VirtualCard(options["file"])
            getattr(self, "_" + options["action"].replace("-", "_"))(card, options)
        except (JpkiError, ValueError, OSError) as exc:
            raise command_error(exc) from exc

    def _status(self, card: VirtualCard, options) -> None:
        status = card.status()
        self.stdout.write(f"Card {card.path} (card id {status['card_id']})")
        for slot, label, secret, limit in (
            ("auth", "利用者証明用 (auth)", "PIN", 3),
            ("sign", "署名用 (sign)", "password", 5),
        ):
            entry = status[slot]
            state = "LOCKED" if entry["locked"] else f"{entry['retries_left']}/{limit} tries left"
            self.stdout.write(
                f"  {label}: serial {entry['serial']}  "
                f"valid {entry['not_before'].astimezone(UTC):%Y-%m-%d} → {entry['not_after'].astimezone(UTC):%Y-%m-%d}"
                f"  {secret} {state}"
            )
        self.stdout.write(f"  issuer: {status['auth']['issuer']}")

    def _sign_challenge(self, card: VirtualCard, options) -> None:
        try:
            nonce = binascii.unhexlify(options["nonce"].strip())
        except (binascii.Error, ValueError) as exc:
            raise CommandError("--nonce は16進数で指定してください (not hex)") from exc
        signature = card.sign_challenge(options["pin"], nonce)
        cert = card.auth_certificate
        self.stdout.write(f"signature: {base64.b64encode(signature).decode('ascii')}")
        self.stdout.write(
            f"certificate: {base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode('ascii')}"
        )
        if options["cert_out"]:
            write_atomic(options["cert_out"], cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
            self.stdout.write(f"certificate PEM: {options['cert_out']}")

    def _sign_document(self, card: VirtualCard, options) -> None:
        content = options["input"].read_bytes()
        signature = card.sign_document(options["password"], content)
        if options["pem"]:
            signature = asn1_pem.armor("CMS", signature)
        write_atomic(options["out"], signature, mode=0o644)
        self.stdout.write(
            f"Signature written: {options['out']} ({'PEM' if options['pem'] else 'DER'}, detached CMS, "
            f"signer serial {card.signing_certificate.serial_number:x})"
        )

    def _export_key(self, card: VirtualCard, options) -> None:
        path = card.export_signing_key_pem(options["password"], options["out"])
        self.stdout.write(f"Signing key written UNENCRYPTED to {path} (mode 0600). Delete it after use.")
