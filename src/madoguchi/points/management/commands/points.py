"""`madoguchi points …`: provider batch files, API keys and fixed grants from the command line.

    madoguchi points ingest --provider CODE FILE [--refunds] [--results OUT.csv]
    madoguchi points api-key --provider CODE
    madoguchi points fixed-grant --campaign CODE --mykey-id ID --reference REF

`ingest` reads the CSV (UTF-8 or Shift_JIS, as the upload page does) in chunks of 10,000 rows, each chunk one
transaction, so an ingestion killed midway and run again grants nothing twice (the recorded ids answer with
their first result). A broken row is reported with its physical line number and never stops or corrupts the
rest; only a line that is not CSV at all stops the run there, with the rows before it recorded.
"""

import csv
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.core import audit
from madoguchi.core.documents import spreadsheet_text
from madoguchi.identity.models import Resident
from madoguchi.points import services
from madoguchi.points.forms import amount_from_text
from madoguchi.points.models import Campaign, PaymentProvider

CHUNK = services.MAX_ITEMS
TX_COLUMNS = ["id", "account", "kind", "amount", "occurred_at"]
REFUND_COLUMNS = ["id", "original_id", "amount"]
OPERATOR = audit.Actor("system", "", "madoguchi points (command line)")


# As the provider upload page (points/forms.py) reads a file: UTF-8 (a BOM or not), else Shift_JIS (CP932).
ENCODINGS = ("utf-8-sig", "cp932")


def _column(name: str | None) -> str:
    """A header name as written by hand or by a spreadsheet: surrounding spaces, a stray BOM, any case."""
    return (name or "").strip().lstrip("\ufeff").strip().lower()


def _encoding_and_lines(path: Path) -> tuple[str, int]:
    """The first of ENCODINGS that decodes the whole file, and its number of physical lines. The whole file is
    decoded before any row is recorded, so an undecodable file records nothing."""
    for encoding in ENCODINGS:
        try:
            with open(path, encoding=encoding, newline="") as f:
                return encoding, sum(1 for _ in f)
        except UnicodeDecodeError:
            continue
    raise CommandError(
        f"ファイルを読み込めませんでした。UTF-8（またはShift_JIS）のCSV形式で保存してください: {path} "
        "(The file could not be read: save it as CSV in UTF-8 (or Shift_JIS).)"
    )


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
        encoding, lines = _encoding_and_lines(path)
        counts: dict[str, int] = {}
        progress = Progress(sys.stderr, max(lines - 1, 0))
        with open(path, encoding=encoding, newline="") as f:
            reader = csv.DictReader(f)
            try:
                header = reader.fieldnames
            except csv.Error:  # not even a header line (a quoted field without its end quote)
                header = None
            reader.fieldnames = [_column(name) for name in header or []]
            if not set(columns) <= set(reader.fieldnames):
                expected, found = ",".join(columns), ",".join(reader.fieldnames) or "-"
                raise CommandError(
                    f"見出し行には、列名 {expected} を記載してください（この見出し行: {found}）。 "
                    f"(The header line must name the columns {expected}; this one has {found}.)"
                )
            with open(out_path, "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["line", "id", "status", "granted", "remaining", "message"])
                chunk: list[tuple[int, dict]] = []

                def flush():
                    if not chunk:
                        return
                    items = [{k: amount_from_text(row.get(k)) if k == "amount" else (row.get(k) or "").strip()
                              for k in columns} for _line, row in chunk]  # fmt: skip
                    for (line, _row), result in zip(chunk, record(provider=provider, items=items, actor=OPERATOR),
                                                    strict=True):  # fmt: skip
                        counts[result.status] = counts.get(result.status, 0) + 1
                        # A provider sets its own ids: a cell a spreadsheet would run as a formula stays text.
                        cells = (
                            line,
                            result.id,
                            result.status,
                            result.granted,
                            result.remaining,
                            result.message,
                        )
                        writer.writerow([spreadsheet_text(cell) for cell in cells])
                    progress.update(len(chunk))
                    chunk.clear()

                try:
                    # line_num: the physical line the row ends on (a quoted field may hold line breaks), as the
                    # upload page reports it.
                    for row in reader:
                        chunk.append((reader.line_num, row))
                        if len(chunk) == CHUNK:
                            flush()
                except csv.Error as exc:
                    broken = reader.reader.line_num  # DictReader.line_num is still the last good row's
                    flush()  # the rows before the broken line are recorded and answered
                    progress.close()
                    raise CommandError(
                        f"{broken}行目でCSVとして読めなくなりました。それより前の行は記録済みです"
                        f"（結果: {out_path}）。 (The file is not valid CSV from line {broken}: {exc}. "
                        "The rows before it are recorded; running the fixed file again grants nothing twice.)"
                    ) from None
                flush()
        progress.close()
        summary = ", ".join(f"{status} {n:,}" for status, n in sorted(counts.items()))
        self.stdout.write(f"{progress.done:,} rows: {summary}. Results: {out_path}")
