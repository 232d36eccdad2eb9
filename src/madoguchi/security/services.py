"""security services: the one way in for other apps (procedures calls `sanitize_upload` for each attachment)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from madoguchi.core import audit
from madoguchi.core.models import Municipality
from madoguchi.core.redaction import redact_my_numbers
from madoguchi.security.models import QuarantinedFile
from madoguchi.security.sanitize import DEFAULT_POLICY, Action, Outcome, Policy, Report, Tools
from madoguchi.security.sanitize.report import Finding
from madoguchi.security.sanitize_worker import Failure, run_bounded

# Tests only: "module:function" that the worker runs instead of the engine's `sanitize` (same signature).
WORKER_SANITIZER_HOOK = ""

WORKER_FAILURES = {
    Failure.TIMEOUT: (
        "worker.timeout",
        "処理に時間がかかりすぎるため受け付けられません（上限 {timeout} 秒）。",
        "Processing took too long; the file is not accepted (limit {timeout} s).",
    ),
    Failure.MEMORY: (
        "worker.memory",
        "処理に必要なメモリが上限を超えるため受け付けられません（上限 {memory} MB）。",
        "Processing needed more memory than allowed; the file is not accepted (limit {memory} MB).",
    ),
    Failure.CRASHED: (
        "worker.crashed",
        "検査処理が異常終了したため受け付けられません（処理に必要な資源の上限を超えた可能性があります）。",
        "The sanitizer stopped abnormally (probably at a resource limit); the file is not accepted.",
    ),
}


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
    itself (CPU-bound, possibly seconds) runs before any transaction opens, so that no lock is held meanwhile,
    and in a separate process bounded by SANITIZE_TIMEOUT_SECONDS (wall clock) and SANITIZE_MEMORY_MB
    (address space): a file that exceeds them is refused and quarantined with that reason.
    """
    timeout = float(getattr(settings, "SANITIZE_TIMEOUT_SECONDS", 30))
    memory_mb = int(getattr(settings, "SANITIZE_MEMORY_MB", 1024))
    outcome = run_bounded(
        data,
        filename,
        policy=policy,
        tools=tools,
        timeout=timeout,
        memory_mb=memory_mb,
        sanitizer=WORKER_SANITIZER_HOOK,
    )
    if outcome.failure is not None:
        report = _failure_report(data, filename, outcome.failure, timeout=timeout, memory=memory_mb)
        record = file_quarantine(data=data, report=report, municipality=municipality, actor=actor)
        return SanitizeResult(ok=False, data=None, filename=filename, report=report, quarantined=record)
    report = outcome.report
    if outcome.data is None:
        record = file_quarantine(data=data, report=report, municipality=municipality, actor=actor)
        return SanitizeResult(ok=False, data=None, filename=filename, report=report, quarantined=record)
    if report.removals:
        _record_sanitized(report=report, municipality=municipality, actor=actor)
    return SanitizeResult(ok=True, data=outcome.data, filename=report.output_filename, report=report)


def _failure_report(data: bytes, filename: str, failure: Failure, *, timeout: float, memory: int) -> Report:
    code, ja, en = WORKER_FAILURES[failure]
    params = {"timeout": f"{timeout:g}", "memory": memory}
    report = Report.for_input(data, filename)
    report.findings.append(Finding(code, Action.REFUSED.value, ja.format(**params), en.format(**params)))
    report.outcome = Outcome.REFUSED.value
    return report


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


# --- The staff decision on a quarantined file ------------------------------------------------------------
logger = logging.getLogger(__name__)
Status = QuarantinedFile.Status
REASON_MAX = 2000


class QuarantineError(ValueError):
    """A decision that is not allowed: wrong status, no reason, the requester approving their own request."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _reason(reason: str) -> str:
    reason = redact_my_numbers((reason or "").strip())
    if not reason:
        raise QuarantineError("reason_required", "a reason is required")
    return reason[:REASON_MAX]


def _locked(item: QuarantinedFile) -> QuarantinedFile:
    return QuarantinedFile.objects.select_for_update().get(pk=item.pk)


def _user_pk(actor: Any) -> Any:
    return getattr(actor, "pk", None)


@transaction.atomic
def quarantine_release_request(*, item: QuarantinedFile, actor: Any, reason: str) -> QuarantinedFile:
    """Ask for a quarantined file to be released to LGWAN (quarantined → release_requested), with the
    documented reason (e.g. "the sender confirmed the file by phone"); audit "security.quarantine_release_requested".
    """
    reason = _reason(reason)
    if _user_pk(actor) is None:
        raise QuarantineError("staff_required", "only a staff member can request a release")
    item = _locked(item)
    if item.status != Status.QUARANTINED:
        raise QuarantineError("wrong_status", f"a {item.status} file cannot be requested for release")
    item.status = Status.RELEASE_REQUESTED
    item.release_requested_by = actor
    item.release_requested_at = timezone.now()
    item.release_reason = reason
    item.save(update_fields=["status", "release_requested_by", "release_requested_at", "release_reason"])
    audit.record(
        actor=actor,
        action="security.quarantine_release_requested",
        target=item,
        municipality=item.municipality,
        details={"sha256": item.sha256, "reason": reason},
    )
    return item


@transaction.atomic
def quarantine_release(*, item: QuarantinedFile, actor: Any, reason: str) -> QuarantinedFile:
    """Approve a release request (release_requested → released); the approver must not be the requester
    (four-eyes, also a CHECK constraint); audit "security.quarantine_released". From then on the original
    bytes can be downloaded by staff of the municipality (`quarantine_download`)."""
    reason = _reason(reason)
    item = _locked(item)
    if item.status != Status.RELEASE_REQUESTED:
        raise QuarantineError("wrong_status", f"a {item.status} file cannot be released")
    if _user_pk(actor) is None or _user_pk(actor) == item.release_requested_by_id:
        raise QuarantineError("four_eyes", "the release must be approved by someone other than the requester")
    item.status = Status.RELEASED
    item.decided_by = actor
    item.decided_at = timezone.now()
    item.decision_reason = reason
    item.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit.record(
        actor=actor,
        action="security.quarantine_released",
        target=item,
        municipality=item.municipality,
        details={
            "sha256": item.sha256,
            "reason": reason,
            "requested_by": item.release_requested_by_id,
        },
    )
    return item


@transaction.atomic
def quarantine_delete(*, item: QuarantinedFile, actor: Any, reason: str) -> QuarantinedFile:
    """Delete a quarantined (or release-requested) file: the row stays with `deleted_at`, the bytes are
    removed from disk once the transaction commits (unless another row not deleted still holds the same
    content); audit "security.quarantine_deleted"."""
    reason = _reason(reason)
    if _user_pk(actor) is None:
        raise QuarantineError("staff_required", "only a staff member can delete a quarantined file")
    item = _locked(item)
    if item.status not in (Status.QUARANTINED, Status.RELEASE_REQUESTED):
        raise QuarantineError("wrong_status", f"a {item.status} file cannot be deleted")
    now = timezone.now()
    previous = item.status
    item.status = Status.DELETED
    item.deleted_at = now
    item.decided_by = actor
    item.decided_at = now
    item.decision_reason = reason
    item.save(update_fields=["status", "deleted_at", "decided_by", "decided_at", "decision_reason"])
    shared = QuarantinedFile.objects.filter(sha256=item.sha256).exclude(status=Status.DELETED).exists()
    audit.record(
        actor=actor,
        action="security.quarantine_deleted",
        target=item,
        municipality=item.municipality,
        details={
            "sha256": item.sha256,
            "reason": reason,
            "previous_status": previous,
            "bytes_removed": not shared,
        },
    )
    if not shared:
        transaction.on_commit(lambda: _remove_quarantined_bytes(item.sha256))
    return item


def _remove_quarantined_bytes(sha256: str) -> None:
    try:
        (quarantine_dir() / sha256).unlink(missing_ok=True)
    except OSError:  # the row says deleted; an orphan file is logged for the operators
        logger.exception("could not remove quarantined bytes %s", sha256)


@transaction.atomic
def quarantine_download(*, item: QuarantinedFile, actor: Any) -> bytes:
    """The original bytes of a released file, checked against their SHA-256; audit
    "security.quarantine_downloaded" (in the same transaction, before the bytes are handed out). Callers check
    that the actor is staff of the file's municipality."""
    item = QuarantinedFile.objects.get(pk=item.pk)
    if item.status != Status.RELEASED:
        raise QuarantineError("wrong_status", "only a released file can be downloaded")
    path = quarantine_dir() / item.sha256
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise QuarantineError("missing", "the quarantined bytes are missing") from exc
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise QuarantineError("corrupt", "the quarantined bytes do not match their SHA-256")
    audit.record(
        actor=actor,
        action="security.quarantine_downloaded",
        target=item,
        municipality=item.municipality,
        details={"sha256": item.sha256, "size": len(data)},
    )
    return data


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
