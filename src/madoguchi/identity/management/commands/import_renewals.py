"""`madoguchi import_renewals FILE [--source NAME]`: import J-LIS style old→new certificate linkage (CSV).

The CSV header is kind,issuer,old_serial,new_serial[,new_issuer]. All rows or none: a bad row is reported
with its line and nothing is written. Residents whose renewed card was already seen are merged.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.core import audit
from madoguchi.identity import resident_services


class Command(BaseCommand):
    help = "Import J-LIS style certificate renewal linkage (old serial → new serial) from a CSV file."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--source", default="", help="where the file came from (recorded in the audit log)"
        )

    def handle(self, *args, file, source, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"ファイルがありません: {path} (No such file.)")
        try:
            rows = resident_services.renewal_links_from_csv(path.read_text(encoding="utf-8-sig"))
            result = resident_services.renewal_links_import(
                rows=rows,
                source=source or path.name,
                actor=audit.Actor("system", "", "madoguchi import_renewals"),
            )
        except resident_services.LinkageImportError as exc:
            raise CommandError("取り込みませんでした (nothing imported):\n" + "\n".join(exc.errors)) from None
        except UnicodeDecodeError:
            raise CommandError(
                "UTF-8 のCSVファイルを指定してください。 (The file must be UTF-8 CSV.)"
            ) from None
        self.stdout.write(
            f"{result.rows} rows: {result.new_links} new links, {result.residents_merged} residents merged."
        )
