"""`madoguchi sanitize FILE… [--out DIR] [--strict-pdf] [--office-to-pdf]`: 無害化 of files on disk.

Each clean copy is written beside its input as NAME.sanitized.EXT (EXT of what the file now is: a .docm
comes out as .docx) unless --out is given, with its report as NAME.sanitized.report.json. Refused files are
reported on stderr and nothing is written for them; the exit status is 1 if any file was refused. Uses the
pure sanitizer only: no database, so it works on a machine where the platform is not set up.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.security.sanitize import OfficeMode, PdfMode, Policy, Tools, sanitize


class Command(BaseCommand):
    help = "Sanitize files (無害化): write NAME.sanitized.EXT and NAME.sanitized.report.json for each clean file."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--out", metavar="DIR", help="write the clean copies and reports here")
        parser.add_argument("--strict-pdf", action="store_true",
                            help="render PDF pages to images and rebuild the PDF (needs pdftoppm)")  # fmt: skip
        parser.add_argument("--office-to-pdf", action="store_true",
                            help="convert every Office document to PDF (needs LibreOffice)")  # fmt: skip

    def handle(self, *args, **options):
        policy = Policy(
            pdf_mode=PdfMode.RASTERIZE if options["strict_pdf"] else PdfMode.CLEAN,
            office_mode=OfficeMode.PDF if options["office_to_pdf"] else OfficeMode.STRIP,
        )
        out_dir = Path(options["out"]) if options["out"] else None
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        tools = Tools.discover()
        refused = 0
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            result = sanitize(path.read_bytes(), path.name, policy=policy, tools=tools)
            report = result.report
            if result.data is None:
                refused += 1
                self.stderr.write(f"拒否 REFUSED {path}")
                for reason in report.reasons:
                    self.stderr.write(f"  - {reason}")
                continue
            folder = out_dir or path.parent
            stem = Path(report.output_filename).stem
            suffix = Path(report.output_filename).suffix
            clean = folder / f"{stem}.sanitized{suffix}"
            clean.write_bytes(result.data)
            (folder / f"{stem}.sanitized.report.json").write_text(report.to_json() + "\n", encoding="utf-8")
            removed = len(report.removals)
            self.stdout.write(f"{report.outcome:9} {path} → {clean} ({removed} removed/converted)")
            if options["verbosity"] > 1:
                for item in report.all_findings():
                    self.stdout.write(f"  - [{item.action}] {item}")
        if refused:
            raise CommandError(f"{refused} of {len(options['files'])} files refused", returncode=1)
