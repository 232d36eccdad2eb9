"""無害化 (content disarm and reconstruction) of files crossing from the Internet zone into LGWAN.

Pure: no Django, no database, no network. One call:

    result = sanitize(data, "申請書.pdf", policy=Policy(pdf_mode=PdfMode.RASTERIZE))
    result.data      # the clean file, or None when refused
    result.report    # what was removed, kept or refused, and why (JSON-serialisable, Japanese first)
"""

from .cdr import Result, sanitize
from .detect import KINDS, Kind, detect
from .errors import Refused
from .policy import DEFAULT_POLICY, STRICT_PDF_POLICY, OfficeMode, PdfMode, Policy, Tools
from .report import Action, Finding, Outcome, Report

__all__ = [
    "DEFAULT_POLICY", "KINDS", "STRICT_PDF_POLICY", "Action", "Finding", "Kind", "OfficeMode", "Outcome",
    "PdfMode", "Policy", "Refused", "Report", "Result", "Tools", "detect", "sanitize",
]  # fmt: skip
