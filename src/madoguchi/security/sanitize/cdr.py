"""The sanitizer's entry point: detect, check the name, dispatch to the type's rebuild, report.

Fail closed: anything a sanitizer cannot account for — a parser error, an unexpected exception, a limit —
refuses the file. Nothing here touches Django, the database or the network.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from dataclasses import dataclass

from .archive import sanitize_archive
from .detect import KINDS, Kind, check_extension, check_filename, detect
from .errors import Refused
from .images import sanitize_image
from .office import office_to_pdf, sanitize_ole, sanitize_ooxml
from .pdf import sanitize_pdf
from .policy import DEFAULT_POLICY, Policy, Tools
from .report import Action, Outcome, Report
from .text import sanitize_text
from .zipsafe import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    data: bytes | None  # the clean file; None when refused
    report: Report

    @property
    def refused(self) -> bool:
        return self.data is None


def sanitize(
    data: bytes, filename: str, *, policy: Policy = DEFAULT_POLICY, tools: Tools | None = None
) -> Result:
    """Sanitize one file. `tools` defaults to the external programs found on PATH (pdftoppm, LibreOffice)."""
    ctx = Context.start(policy, tools if tools is not None else Tools.discover())
    cleaned, report = sanitize_member(data, filename, ctx)
    return Result(cleaned, report)


def sanitize_member(data: bytes, filename: str, ctx: Context) -> tuple[bytes | None, Report]:
    report = Report.for_input(data, filename)
    try:
        if len(data) > ctx.policy.max_bytes:
            raise Refused("type.too_big", size=len(data), limit=ctx.policy.max_bytes)
        check_filename(filename)
        kind = detect(data)
        report.detected_type = kind.name
        check_extension(kind, filename)
        cleaned, out_kind = _dispatch(data, kind, report, ctx)
    except Refused as refusal:
        report.add(refusal.code, Action.REFUSED, refusal.where, **refusal.params)
        report.outcome = Outcome.REFUSED.value
        return None, report
    except (MemoryError, RecursionError):
        report.add("internal.resources", Action.REFUSED)
        report.outcome = Outcome.REFUSED.value
        return None, report
    except Exception as exc:  # noqa: BLE001 - fail closed: an unexpected error refuses the file
        log.exception("sanitizer failed on a %s file", report.detected_type)
        report.add("internal.error", Action.REFUSED, error=type(exc).__name__)
        report.outcome = Outcome.REFUSED.value
        return None, report
    report.output_filename = output_name(filename, kind, out_kind)
    report.output_size = len(cleaned)
    report.output_sha256 = hashlib.sha256(cleaned).hexdigest()
    report.outcome = (Outcome.SANITIZED if report.removals else Outcome.CLEAN).value
    return cleaned, report


def _dispatch(data: bytes, kind: Kind, report: Report, ctx: Context) -> tuple[bytes, Kind]:
    family = kind.family
    if family == "image":
        return sanitize_image(data, kind.name, report, ctx), kind
    if family == "pdf":
        return sanitize_pdf(data, report, ctx), kind
    if family == "archive":
        return sanitize_archive(data, report, ctx, sanitize_member), kind
    if family == "text":
        if not ctx.policy.allow_text:
            raise Refused("type.not_allowed", type=kind.label)
        return sanitize_text(data, report), kind
    if family == "ooxml":
        cleaned, out_kind = sanitize_ooxml(data, kind, report, ctx, sanitize_member)
    elif family == "ole":
        cleaned, out_kind = sanitize_ole(data, kind, report, ctx)
    elif family == "odf":
        if not ctx.tools.soffice:
            raise Refused("office.odf_unsupported", type=kind.label)
        cleaned, out_kind = office_to_pdf(data, kind.extensions[0], ctx), KINDS["pdf"]
    else:  # pragma: no cover - every kind has a family above
        raise Refused("type.unknown")
    if out_kind.name == "pdf":
        report.add("office.converted_to_pdf", Action.CONVERTED)
        cleaned = sanitize_pdf(cleaned, report, ctx)
    return cleaned, out_kind


def output_name(filename: str, kind: Kind, out_kind: Kind) -> str:
    """The clean file's name: same name, the extension of what it now is (.docm → .docx, .doc → .pdf)."""
    folder, base = posixpath.split(filename.replace("\\", "/"))
    stem, ext = posixpath.splitext(base.rstrip(". "))
    if out_kind.name != kind.name or ext.lower() not in out_kind.extensions:
        ext = out_kind.extensions[0]
    return posixpath.join(folder, stem + ext) if folder else stem + ext
