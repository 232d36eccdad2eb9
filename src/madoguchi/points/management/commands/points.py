"""`madoguchi points …`: provider batch files, API keys and fixed grants from the command line.

    madoguchi points ingest --provider CODE FILE [--refunds] [--results OUT.csv]
    madoguchi points api-key --provider CODE
    madoguchi points fixed-grant --campaign CODE --mykey-id ID --reference REF

`ingest` reads the CSV in chunks of 10,000 rows, each chunk one transaction, so an ingestion killed midway
and run again grants nothing twice (the recorded ids answer with their first result). A broken row is
reported with its line number and never stops or corrupts the rest.
"""

import csv
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.core import audit
from madoguchi.identity.models import Resident
from madoguchi.points import services
from madoguchi.points.models import Campaign, PaymentProvider

CHUNK = services.MAX_ITEMS
TX_COLUMNS = ["id", "account", "kind", "amount", "occurred_at"]
REFUND_COLUMNS = ["id", "original_id", "amount"]
OPERATOR = audit.Actor("system", "", "madoguchi points (command line)")


def _int_or_raw(value: str):
    text = (value or "").strip()
    return int(text) if text.lstrip("-").isdigit() else text


class Progress:
    """A one-line progress display on stderr (rows done, rate, elapsed)."""

    def __init__(self, stream, total: int | None):
        self.stream, self.total, self.started, self.done = stream, total, time.monotonic(), 0

    def update(self, n: int) -> None:
        self.done += n
        elapsed = max(time.monotonic() - self.started, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        self.stream.write(f"\r  {self.done:,}{of} rows  {self.done / elapsed:,.0f} rows/s  {elapsed:,.1f} s")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


class Command(BaseCommand):
    help = "マイナポイント: ingest provider files, issue provider API keys, record fixed grants."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ingest = sub.add_parser("ingest", help="record a provider's CSV of transactions (or refunds)")
        ingest.add_argument("--provider", required=True)
        ingest.add_argument("file")
        ingest.add_argument(
            "--refunds", action="store_true", help="the file holds refunds: id,original_id,amount"
        )
        ingest.add_argument("--results", help="where to write each row's outcome (default FILE.results.csv)")
        key = sub.add_parser("api-key", help="issue a new API key for a provider (shown once)")
        key.add_argument("--provider", required=True)
        fixed = sub.add_parser("fixed-grant", help="record a qualifying action of a fixed-grant campaign")
        fixed.add_argument("--campaign", required=True)
        fixed.add_argument("--mykey-id", required=True)
        fixed.add_argument("--reference", required=True)

    def _provider(self, code: str) -> PaymentProvider:
        provider = PaymentProvider.objects.filter(code=code).first()
        if provider is None:
            raise CommandError(f"決済事業者 {code!r} は登録されていません。 (No payment provider {code!r}.)")
        return provider

    def handle(self, *args, action, **options):
        if action == "api-key":
            key = services.api_key_issue(provider=self._provider(options["provider"]), actor=OPERATOR)
            self.stdout.write(f"API key (shown once, keep it secret): {key}")
        elif action == "fixed-grant":
            campaign = Campaign.objects.filter(code=options["campaign"]).first()
            resident = Resident.objects.filter(mykey_id=options["mykey_id"]).first()
            if campaign is None or resident is None:
                raise CommandError(
                    "キャンペーンまたはマイキーIDが見つかりません。 (Unknown campaign or MyKey ID.)"
                )
            try:
                row = services.fixed_grant_record(campaign=campaign, resident=resident,
                                                  reference=options["reference"], actor=OPERATOR)  # fmt: skip
            except services.PointsError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"Granted {row.points} points ({campaign.code}).")
        else:
            self._ingest(self._provider(options["provider"]), Path(options["file"]), options["refunds"],
                         options["results"])  # fmt: skip

    def _ingest(self, provider, path: Path, refunds: bool, results_path: str | None):
        if not path.is_file():
            raise CommandError(f"ファイルがありません: {path} (No such file.)")
        columns = REFUND_COLUMNS if refunds else TX_COLUMNS
        out_path = Path(results_path) if results_path else path.with_name(path.name + ".results.csv")
        record = services.refunds_record if refunds else services.transactions_record
        with open(path, encoding="utf-8-sig", newline="") as f:
            total = max(sum(1 for _ in f) - 1, 0)
        counts: dict[str, int] = {}
        progress = Progress(sys.stderr, total)
        with (
            open(path, encoding="utf-8-sig", newline="") as f,
            open(out_path, "w", encoding="utf-8", newline="") as out,
        ):
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not set(columns) <= set(reader.fieldnames):
                raise CommandError(
                    f"見出し行は {','.join(columns)} です。 (The header must be {','.join(columns)}.)"
                )
            writer = csv.writer(out)
            writer.writerow(["line", "id", "status", "granted", "remaining", "message"])
            chunk: list[tuple[int, dict]] = []

            def flush():
                if not chunk:
                    return
                items = [{k: _int_or_raw(row.get(k, "")) if k == "amount" else (row.get(k) or "").strip()
                          for k in columns} for _line, row in chunk]  # fmt: skip
                for (line, _row), result in zip(chunk, record(provider=provider, items=items, actor=OPERATOR),
                                                strict=True):  # fmt: skip
                    counts[result.status] = counts.get(result.status, 0) + 1
                    writer.writerow(
                        [line, result.id, result.status, result.granted, result.remaining, result.message]
                    )
                progress.update(len(chunk))
                chunk.clear()

            for line, row in enumerate(reader, start=2):
                chunk.append((line, row))
                if len(chunk) == CHUNK:
                    flush()
            flush()
        progress.close()
        summary = ", ".join(f"{status} {n:,}" for status, n in sorted(counts.items()))
        self.stdout.write(f"{progress.done:,} rows: {summary}. Results: {out_path}")
