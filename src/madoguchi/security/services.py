"""security services: the one way in for other apps (procedures calls `sanitize_upload` for each attachment)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from madoguchi.core import audit
from madoguchi.core.models import Municipality
from madoguchi.core.redaction import redact_my_numbers
from madoguchi.security.models import QuarantinedFile
from madoguchi.security.sanitize import DEFAULT_POLICY, Policy, Report, Tools, sanitize


@dataclass(frozen=True)
class SanitizeResult:
    ok: bool
    data: bytes | None  # the clean file to store in LGWAN; None when refused
    filename: str  # the clean file's name (extension may change: .docm → .docx), or the original when refused
    report: Report
    quarantined: QuarantinedFile | None = None


def sanitize_upload(
    *,
    data: bytes,
    filename: str,
    municipality: Municipality | None = None,
    actor: Any = None,
    policy: Policy = DEFAULT_POLICY,
    tools: Tools | None = None,
) -> SanitizeResult:
    """無害化 of one file crossing from the Internet zone into LGWAN.

    Returns the clean bytes and the report, or, when the file cannot be made safe, no bytes and the
    quarantine record. Side effects: a refused file is quarantined (bytes under VAR_DIR/quarantine/, a
    QuarantinedFile row, audit "security.file_quarantined"); a file from which something was removed or
    converted gets an audit record "security.file_sanitized"; a clean file writes nothing. The sanitization
    itself (CPU-bound, possibly seconds) runs before any transaction opens, so that no lock is held meanwhile.
    """
    result = sanitize(data, filename, policy=policy, tools=tools)
    report = result.report
    if result.data is None:
        record = file_quarantine(data=data, report=report, municipality=municipality, actor=actor)
        return SanitizeResult(ok=False, data=None, filename=filename, report=report, quarantined=record)
    if report.removals:
        _record_sanitized(report=report, municipality=municipality, actor=actor)
    return SanitizeResult(ok=True, data=result.data, filename=report.output_filename, report=report)


@transaction.atomic
def file_quarantine(
    *, data: bytes, report: Report, municipality: Municipality | None = None, actor: Any = None
) -> QuarantinedFile:
    """Keep a refused file and its reasons. File names are stored with any My Number redacted."""
    # The bytes go first: the row must never point at missing bytes. Content addressing makes the write
    # idempotent, so a rolled-back transaction leaves at most an orphan file, never a wrong one.
    store_quarantined_bytes(data, report.sha256)
    redacted = _redacted(report.to_dict())
    record = QuarantinedFile.objects.create(
        municipality=municipality,
        original_name=redact_my_numbers(report.filename)[:255],
        detected_type=report.detected_type,
        size=report.size,
        sha256=report.sha256,
        reasons=[
            {"code": f.code, "ja": f.ja, "en": f.en, "where": f.where}
            for f in _redacted_findings(report.reasons)
        ],
        report=redacted,
        uploaded_by=audit.actor_of(actor).label[:150],
    )
    audit.record(
        actor=actor,
        action="security.file_quarantined",
        target=record,
        municipality=municipality,
        details=_audit_details(report),
    )
    return record


@transaction.atomic
def _record_sanitized(*, report: Report, municipality: Municipality | None, actor: Any) -> None:
    audit.record(
        actor=actor,
        action="security.file_sanitized",
        target=("security.upload", report.sha256),
        municipality=municipality,
        details=_audit_details(report),
    )


def quarantine_dir() -> Path:
    return Path(settings.VAR_DIR) / "quarantine"


def store_quarantined_bytes(data: bytes, sha256: str) -> Path:
    folder = quarantine_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / sha256
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def _audit_details(report: Report) -> dict[str, Any]:
    findings = report.reasons if report.refused else report.removals
    return {
        "file": redact_my_numbers(report.filename)[:255],
        "sha256": report.sha256,
        "size": report.size,
        "detected_type": report.detected_type,
        "outcome": report.outcome,
        "codes": sorted({f.code for f in findings}),
        "output_sha256": report.output_sha256,
    }


_HASH_KEYS = {"sha256", "output_sha256"}


def _redacted(value: Any, key: str = "") -> Any:
    """File names and messages (which quote names) with My Numbers redacted; digests left alone."""
    if isinstance(value, dict):
        return {k: _redacted(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, str) and key not in _HASH_KEYS:
        return redact_my_numbers(value)
    return value


def _redacted_findings(findings):
    for f in findings:
        yield type(f)(
            f.code, f.action, redact_my_numbers(f.ja), redact_my_numbers(f.en), redact_my_numbers(f.where)
        )
