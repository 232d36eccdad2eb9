"""`madoguchi ingest_proxy_log --municipality 131016 FILE [--blocklist FILE]`: one Squid access.log into the
security monitoring of a municipality, with a progress line while reading and a summary at the end.

Running it again on the same file changes nothing ("already ingested"); on a file that has grown since, only
the new lines are read; alerts already raised (from overlapping files) are not raised twice."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.core.audit import Actor
from madoguchi.core.selectors import municipality_by_code
from madoguchi.security.monitoring import parse_blocklist
from madoguchi.security.monitoring_services import proxy_log_ingest


class Command(BaseCommand):
    help = "Ingest a Squid access.log (native format) and run the detection rules (プロキシログの取り込み)."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--municipality", required=True, metavar="CODE", help="6-digit local government code"
        )
        parser.add_argument("--blocklist", metavar="FILE", help="known-bad domains, one a line")

    def handle(self, *args, **options):
        municipality = municipality_by_code(options["municipality"])
        if municipality is None:
            raise CommandError(
                f"{options['municipality']}: no such municipality (団体コードが見つかりません)"
            )
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        blocklist: frozenset[str] = frozenset()
        if options["blocklist"]:
            blocklist_path = Path(options["blocklist"])
            if not blocklist_path.is_file():
                raise CommandError(f"{blocklist_path}: no such file")
            blocklist = parse_blocklist(blocklist_path.read_text(encoding="utf-8").splitlines())

        def progress(lines: int) -> None:
            self.stderr.write(f"\r読み込み中 reading… {lines:,} lines", ending="")
            self.stderr.flush()

        result = proxy_log_ingest(
            municipality=municipality,
            actor=Actor("system", "", "ingest_proxy_log"),
            path=path,
            blocklist=blocklist,
            progress=progress,
        )
        self.stderr.write("")
        batch = result.batch
        if result.already_ingested:
            self.stdout.write(
                f"{municipality} {path.name}: 取り込み済み already ingested "
                f"(batch {batch.pk}, {batch.received_at:%Y-%m-%d %H:%M}); nothing changed"
            )
            return
        skipped = (
            f", first {result.skipped_lines:,} lines already ingested (取り込み済み)"
            if result.skipped_lines
            else ""
        )
        duplicates = (
            f", {result.duplicate_alerts} already alerted (通知済み)" if result.duplicate_alerts else ""
        )
        self.stdout.write(
            f"{municipality} {batch.file_name}: {batch.lines:,} lines{skipped}, {len(result.log):,} parsed, "
            f"{batch.malformed:,} malformed, {len(result.alerts)} alerts{duplicates}"
        )
        for m in batch.malformed_sample[:10]:
            self.stdout.write(f"  不正な行 malformed line {m['line']}: {m['reason']}")
        for alert in result.alerts:
            self.stdout.write(
                f"  [{alert.severity}] {alert.rule} {alert.subject_host}: {alert.explanation_ja}"
            )
