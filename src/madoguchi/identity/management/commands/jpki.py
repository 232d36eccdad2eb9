"""`madoguchi jpki …`: run the JPKI test CA (plays J-LIS in development and tests). Refused in production.

    madoguchi jpki init-ca [--dir DIR]
    madoguchi jpki issue-card --name 山田太郎 --kana ヤマダタロウ --address 東京都… --dob 1985-04-01 --sex 1 \\
        --pin 1234 --password abc123 --out card.json [--renew-of old.json] [--expired]
    madoguchi jpki revoke --serial HEX [--reason keyCompromise]
    madoguchi jpki crl [--hours 48]

DIR defaults to settings.JPKI_TEST_CA_DIR. Writes no audit records: services that wrap the library do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from madoguchi.identity.jpki import BasicInfo, JpkiError, TestCA
from madoguchi.identity.jpki.ca import CardIssue
from madoguchi.identity.jpki.profiles import SEX_CODES


def command_error(exc: Exception) -> CommandError:
    if isinstance(exc, JpkiError):
        return CommandError(f"{exc.message_ja} ({exc.message_en}) [{exc.code}]")
    return CommandError(str(exc))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--dob は YYYY-MM-DD 形式で指定してください (not a date: {text!r})") from exc


def _local(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Command(BaseCommand):
    help = "JPKI test CA: init-ca, issue-card, revoke, crl. Development and tests only."
    requires_system_checks = []  # file tools: no database, URLs or templates involved

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def with_dir(subparser):
            subparser.add_argument("--dir", type=Path, default=None, help="CA directory (JPKI_TEST_CA_DIR)")
            return subparser

        init = with_dir(sub.add_parser("init-ca", help="create the root and issuing CA and publish a CRL"))
        init.add_argument("--ca-name", default="JPKI Test CA (Madoguchi)")

        issue = with_dir(
            sub.add_parser("issue-card", help="issue a virtual My Number Card (both certificates)")
        )
        issue.add_argument("--name", required=True, help="氏名")
        issue.add_argument("--kana", default=None, help="氏名カナ (optional)")
        issue.add_argument("--address", required=True, help="住所")
        issue.add_argument("--dob", required=True, help="生年月日 YYYY-MM-DD")
        issue.add_argument("--sex", required=True, choices=sorted(SEX_CODES), help="1 male, 2 female, 9 n/a")
        issue.add_argument("--pin", required=True, help="利用者証明用 PIN: 4 digits")
        issue.add_argument("--password", required=True, help="署名用 password: 6–16 letters/digits")
        issue.add_argument("--out", required=True, type=Path, help="card file to write")
        issue.add_argument(
            "--renew-of", type=Path, default=None, help="old card file (renewal: linkage + revoke)"
        )
        issue.add_argument("--expired", action="store_true", help="issue certificates that expired yesterday")

        revoke = with_dir(sub.add_parser("revoke", help="revoke a card certificate and publish a new CRL"))
        revoke.add_argument("--serial", required=True, help="serial number in hex")
        revoke.add_argument("--reason", default="unspecified", help="e.g. keyCompromise, superseded")

        crl = with_dir(sub.add_parser("crl", help="publish a new CRL"))
        crl.add_argument("--hours", type=float, default=48, help="hours until nextUpdate (default 48)")

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("The JPKI test CA is refused in production (MADOGUCHI_PRODUCTION is on).")
        directory = options["dir"] or Path(settings.JPKI_TEST_CA_DIR)
        action = options["action"]
        try:
            if action == "init-ca":
                self._init(directory, options)
            else:
                ca = TestCA.load(directory)
                getattr(self, "_" + action.replace("-", "_"))(ca, options)
        except (JpkiError, ValueError, OSError) as exc:
            raise command_error(exc) from exc

    # --- actions --------------------------------------------------------------------------------------------
    def _init(self, directory: Path, options) -> None:
        try:
            ca = TestCA.init(directory, name=options["ca_name"])
            self.stdout.write(f"Test CA created in {directory}")
        except FileExistsError:
            ca = TestCA.load(directory)
            self.stdout.write(f"Test CA already exists in {directory} (left unchanged)")
        if not ca.crl_path.exists():
            ca.crl()
        self._describe(ca)

    def _describe(self, ca: TestCA) -> None:
        root, issuing = ca.root_certificate, ca.issuing_certificate
        self.stdout.write(f"  root CA (trust anchor): {ca.root_path}  serial {root.serial_number:x}")
        self.stdout.write(f"  issuing CA:             {ca.issuing_path}  serial {issuing.serial_number:x}")
        self.stdout.write(f"  issuer name:            {ca.issuer}")
        self.stdout.write(f"  valid until:            {_local(issuing.not_valid_after_utc)}")
        self.stdout.write(f"  CRL:                    {ca.crl_path}")
        self.stdout.write(f"  index:                  {ca.index_path}")

    def _issue_card(self, ca: TestCA, options) -> None:
        info = BasicInfo(
            name=options["name"],
            name_kana=options["kana"] or None,
            address=options["address"],
            date_of_birth=_date(options["dob"]),
            sex=options["sex"],
        )
        common = {
            "basic_info": info,
            "pin": options["pin"],
            "password": options["password"],
            "out_path": options["out"],
        }
        if options["expired"]:
            if options["renew_of"]:
                raise CommandError("--expired and --renew-of cannot be combined")
            issue: CardIssue = ca.issue_expired_card(**common)
        else:
            issue = ca.issue_card(**common, renew_of=options["renew_of"])
        self.stdout.write(f"Card written: {issue.path} (card id {issue.card_id})")
        for label, cert in (("auth", issue.auth_certificate), ("sign", issue.signing_certificate)):
            self.stdout.write(
                f"  {label}  serial {cert.serial_number:x}  valid {_local(cert.not_valid_before_utc)}"
                f" → {_local(cert.not_valid_after_utc)}"
            )
        if issue.linkage:
            # The old certificates were revoked (superseded): publish that at once.
            ca.crl()
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            path = ca.directory / "linkage" / f"{stamp}-{issue.card_id}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            csv_text = TestCA.linkage_csv(issue.linkage)
            path.write_text(csv_text, encoding="utf-8")
            self.stdout.write(f"Linkage (old → new serials): {path}")
            self.stdout.write(csv_text.rstrip("\n"))
            self.stdout.write(f"Old certificates revoked (superseded); CRL: {ca.crl_path}")

    def _revoke(self, ca: TestCA, options) -> None:
        entry = ca.revoke(options["serial"], options["reason"])
        state = "already revoked" if entry.already_revoked else "revoked"
        self.stdout.write(f"Serial {entry.serial} {state} ({entry.reason}, {_local(entry.revoked_at)})")
        ca.crl()
        self.stdout.write(f"CRL published: {ca.crl_path}")

    def _crl(self, ca: TestCA, options) -> None:
        ca.crl(next_update_hours=options["hours"])
        revoked = ca.revoked()
        self.stdout.write(
            f"CRL published: {ca.crl_path} ({len(revoked)} revoked, next update in {options['hours']:g} h)"
        )
        for entry in revoked:
            self.stdout.write(f"  {entry.serial}  {entry.reason}  {_local(entry.revoked_at)}")
