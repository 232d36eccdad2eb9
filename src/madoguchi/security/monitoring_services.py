"""Security monitoring services and selectors (自治体情報セキュリティクラウド): the one way in for views,
commands and other apps. The parsing and the rules are pure (`security/monitoring/`); this module persists
what they find, opens and moves incidents, and exchanges incidents with other prefectures as STIX 2.1.

Personal data never leaves in a bundle: client addresses and user names stay in `SecurityAlert.subject_client`,
explanations and evidence are written without them, and every exported string is scrubbed of them again.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from madoguchi.core import audit
from madoguchi.core.models import AuditRecord, Municipality, Prefecture
from madoguchi.core.redaction import redact_my_numbers
from madoguchi.security.models import Incident, ProxyLogBatch, SecurityAlert
from madoguchi.security.monitoring import (
    Finding,
    ProxyLog,
    QuarantineEvent,
    SignInEvent,
    detect_proxy,
    detect_quarantined_files,
    detect_sign_in_bursts,
    new_id,
    parse_squid,
    stix_timestamp,
    validate_bundle,
)
from madoguchi.security.monitoring.rules import SIGN_IN_FAILURE_ACTIONS
from madoguchi.security.monitoring.stix import (
    SPEC_VERSION,
    StixError,
    file_hash_pattern,
    host_pattern,
    parse_timestamp,
    pattern_host,
    stable_id,
)

CHUNK_LINES = 200_000
HASH_BLOCK = 1 << 20
# How many earlier files of the municipality are compared with the start of a new one (the newest first).
PREFIX_CANDIDATES = 200
QUARANTINE_ACTION = "security.file_quarantined"


@dataclass(frozen=True)
class IngestResult:
    batch: ProxyLogBatch  # the new batch, or the earlier one when `already_ingested`
    alerts: list[SecurityAlert]  # new alerts only
    log: ProxyLog  # the lines parsed now (none when `already_ingested`)
    already_ingested: bool = False  # the same file (SHA-256 and size) was ingested before: nothing changed
    skipped_lines: int = 0  # lines at the start of the file that an earlier batch already ingested
    duplicate_alerts: int = 0  # findings already alerted (same natural key): not alerted again


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _window_start(ts: float) -> datetime:
    """The start of the local day of `ts`: the window of a proxy-log alert's natural key."""
    local = timezone.localtime(_dt(ts))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


def _natural_key(alert: SecurityAlert) -> tuple:
    return (alert.rule, alert.subject_host, alert.subject_client, alert.window_start)


def _alert(finding: Finding, *, municipality: Municipality, batch: ProxyLogBatch | None) -> SecurityAlert:
    return SecurityAlert(
        municipality=municipality,
        batch=batch,
        rule=finding.rule,
        severity=finding.severity,
        subject_host=finding.subject_host[:255],
        subject_client=finding.subject_client[:255],
        first_seen=_dt(finding.first_seen),
        last_seen=_dt(finding.last_seen),
        count=finding.count,
        explanation_ja=finding.explanation_ja,
        explanation_en=finding.explanation_en,
        evidence=finding.evidence,
    )


@dataclass(frozen=True)
class _FileScan:
    sha256: str
    size: int
    prefixes: dict[int, str]  # offset → SHA-256 of the bytes before it, for offsets that end a line


def _scan_file(path: Path, offsets: Iterable[int]) -> _FileScan:
    """One streaming pass: the file's SHA-256 and size, and the SHA-256 of its first `offset` bytes for each
    of `offsets` that falls on a line end (the byte before it is a newline)."""
    wanted = sorted({o for o in offsets if o > 0})
    digest = hashlib.sha256()
    prefixes: dict[int, str] = {}
    pos, i, last = 0, 0, b""
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            cut = 0
            while i < len(wanted) and wanted[i] <= pos + len(block):
                end = wanted[i] - pos
                digest.update(block[cut:end])
                before = block[end - 1 : end] if end > 0 else last
                if before == b"\n":
                    prefixes[wanted[i]] = digest.hexdigest()
                cut = end
                i += 1
            digest.update(block[cut:])
            pos += len(block)
            last = block[-1:]
    return _FileScan(sha256=digest.hexdigest(), size=pos, prefixes=prefixes)


def _parse_path(
    path: Path,
    progress: Callable[[int], None] | None,
    *,
    offset: int = 0,
    end: int | None = None,
    first_line: int = 1,
) -> ProxyLog:
    """Parse the file's bytes [offset, end) as lines numbered from `first_line`, a chunk at a time (the file
    is never held whole). Lines are split on LF only, so line numbers agree with byte offsets."""
    log = ProxyLog()
    with path.open("rb") as fh:
        fh.seek(offset)
        remaining = None if end is None else end - offset

        def lines():
            nonlocal remaining
            for raw in fh:
                if remaining is not None:
                    if remaining <= 0:
                        return
                    raw = raw[:remaining]
                    remaining -= len(raw)
                yield raw.decode("utf-8", errors="replace")

        source = lines()
        start = first_line
        while chunk := list(itertools.islice(source, CHUNK_LINES)):
            parse_squid(chunk, start_line=start, into=log)
            start += len(chunk)
            if progress is not None:
                progress(start - 1)
    log.lines = start - 1
    return log


def proxy_log_ingest(
    *,
    municipality: Municipality,
    actor: Any,
    lines: Iterable[str] | None = None,
    path: str | Path | None = None,
    file_name: str = "",
    blocklist: frozenset[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Parse a Squid access.log (`lines` or `path`), run the proxy rules, and store the batch and its alerts.

    Parsing and detection run before the transaction opens (they take seconds on big files); the batch, the
    alerts and the audit record "security.proxy_log_ingested" are then written in one transaction. Malformed
    lines are counted, the first ones kept with their line numbers; they never stop the ingestion.
    `progress(lines_read)` is called after each chunk of a file.

    Idempotent: a file (`path`) already ingested for the municipality (same SHA-256 and size) changes nothing
    and comes back with `already_ingested`; a file that starts with an ingested file (the same log, appended
    to since) is ingested from the first new line on. Alerts have a natural key (municipality, rule, host,
    client, local day of the first request, with a UNIQUE constraint): a finding already alerted, from
    overlapping files or lines given twice, is counted in `duplicate_alerts` and not stored again.
    """
    if (lines is None) == (path is None):
        raise ValueError("give exactly one of lines or path")
    scan: _FileScan | None = None
    skipped = 0
    if path is not None:
        path = Path(path)
        file_name = file_name or path.name
        earlier = list(
            ProxyLogBatch.objects.filter(municipality=municipality)
            .exclude(sha256="")
            .order_by("-received_at", "-id")
            .values_list("sha256", "size", "lines")[:PREFIX_CANDIDATES]
        )
        scan = _scan_file(path, (size for _sha, size, _lines in earlier if size))
        done = ProxyLogBatch.objects.filter(
            municipality=municipality, sha256=scan.sha256, size=scan.size
        ).first()
        if done is not None:
            return IngestResult(
                batch=done, alerts=[], log=ProxyLog(), already_ingested=True, skipped_lines=done.lines
            )
        offset = 0
        for sha, size, line_count in earlier:
            if size and size > offset and scan.prefixes.get(size) == sha:
                offset, skipped = size, line_count
        log = _parse_path(path, progress, offset=offset, end=scan.size, first_line=skipped + 1)
        log.lines = max(log.lines, skipped)
    else:
        log = parse_squid(lines)  # type: ignore[arg-type]
    findings = detect_proxy(log, blocklist=blocklist)
    with transaction.atomic():
        batch = ProxyLogBatch.objects.create(
            municipality=municipality,
            file_name=redact_my_numbers(file_name or "-")[:255],
            lines=log.lines,
            malformed=log.malformed,
            malformed_sample=[{"line": m.line_no, "reason": m.reason} for m in log.malformed_sample],
            received_by=audit.actor_of(actor).label[:150],
            sha256=scan.sha256 if scan else "",
            size=scan.size if scan else None,
            skipped_lines=skipped,
        )
        candidates: dict[tuple, SecurityAlert] = {}
        for f in findings:
            alert = _alert(f, municipality=municipality, batch=batch)
            alert.window_start = _window_start(f.first_seen)
            candidates.setdefault(_natural_key(alert), alert)
        # The UNIQUE constraint is the backstop against a concurrent ingestion; this read keeps the usual
        # case (a re-run, overlapping files) from ever reaching it.
        windows = {a.window_start for a in candidates.values()}
        existing = set(
            SecurityAlert.objects.filter(
                municipality=municipality, window_start__in=windows, rule__in={k[0] for k in candidates}
            ).values_list("rule", "subject_host", "subject_client", "window_start")
        )
        new = [a for key, a in candidates.items() if key not in existing]
        duplicates = len(findings) - len(new)
        alerts = SecurityAlert.objects.bulk_create(new)
        by_rule: dict[str, int] = {}
        for a in alerts:
            by_rule[a.rule] = by_rule.get(a.rule, 0) + 1
        audit.record(
            actor=actor,
            action="security.proxy_log_ingested",
            target=batch,
            municipality=municipality,
            details={
                "file": batch.file_name,
                "sha256": batch.sha256,
                "lines": log.lines,
                "skipped_lines": skipped,
                "parsed": len(log),
                "malformed": log.malformed,
                "alerts": by_rule,
                "duplicate_alerts": duplicates,
            },
        )
    return IngestResult(
        batch=batch, alerts=alerts, log=log, skipped_lines=skipped, duplicate_alerts=duplicates
    )


@transaction.atomic
def security_events_scan(
    *,
    municipality: Municipality,
    actor: Any,
    since: datetime | None = None,
    include_platform: bool = False,
    threshold: int = 5,
    window_minutes: float = 10.0,
) -> list[SecurityAlert]:
    """Run the rules over the platform's own security events in the audit log; store new alerts.

    Reads identity.sign_in_failed / identity.mfa_failed / identity.jpki_refused records (failed sign-in
    bursts) and security.file_quarantined records (files refused by 無害化) of the municipality's stream, and
    of the platform stream when `include_platform` (events that happen before a tenant is known), from `since`
    on. A finding already alerted (same rule, subject and first event) is not alerted again.
    """
    scope = Q(municipality=municipality)
    if include_platform:
        scope |= Q(stream=audit.PLATFORM_STREAM)
    records = AuditRecord.objects.filter(scope, action__in=SIGN_IN_FAILURE_ACTIONS | {QUARANTINE_ACTION})
    if since is not None:
        records = records.filter(created_at__gte=since)
    sign_ins, quarantined = [], []
    for created_at, action, details in records.values_list("created_at", "action", "details"):
        details = details or {}
        if action == QUARANTINE_ACTION:
            quarantined.append(
                QuarantineEvent(
                    time=created_at.timestamp(),
                    sha256=str(details.get("sha256") or ""),
                    codes=tuple(str(c) for c in details.get("codes") or ()),
                    detected_type=str(details.get("detected_type") or ""),
                )
            )
        else:
            sign_ins.append(
                SignInEvent(
                    time=created_at.timestamp(),
                    action=action,
                    username=str(details.get("username") or ""),
                    ip=str(details.get("ip") or ""),
                )
            )
    findings = [
        *detect_sign_in_bursts(sign_ins, threshold=threshold, window_minutes=window_minutes),
        *detect_quarantined_files(quarantined),
    ]
    existing = set(
        SecurityAlert.objects.filter(
            municipality=municipality,
            rule__in=[SecurityAlert.Rule.SIGN_IN_BURST, SecurityAlert.Rule.QUARANTINED_FILE],
            batch__isnull=True,
        ).values_list("rule", "subject_client", "first_seen")
    )
    new = [
        _alert(f, municipality=municipality, batch=None)
        for f in findings
        if (f.rule, f.subject_client[:255], _dt(f.first_seen)) not in existing
    ]
    alerts = SecurityAlert.objects.bulk_create(new)
    if alerts:
        audit.record(
            actor=actor,
            action="security.events_scanned",
            municipality=municipality,
            details={"events": len(sign_ins) + len(quarantined), "alerts": len(alerts)},
        )
    return alerts


# --- Incidents ---------------------------------------------------------------------------------------------
_NEXT_STATUS = {
    Incident.Status.OPEN: {Incident.Status.INVESTIGATING, Incident.Status.RESOLVED, Incident.Status.CLOSED},
    Incident.Status.INVESTIGATING: {Incident.Status.RESOLVED, Incident.Status.CLOSED, Incident.Status.OPEN},
    Incident.Status.RESOLVED: {Incident.Status.CLOSED, Incident.Status.INVESTIGATING},
    Incident.Status.CLOSED: set(),
}


@transaction.atomic
def incident_open_from_alerts(
    *, alerts: Sequence[SecurityAlert], actor: Any, title: str = "", owner: Any = None
) -> Incident:
    """Open one incident over alerts of one municipality (or of one prefecture's shared alerts); audit
    "security.incident_opened".

    The default title names the rules and hosts (never the clients). Raises ValueError for no alerts or
    alerts of several owners.
    """
    alerts = list(alerts)
    if not alerts:
        raise ValueError("an incident needs at least one alert")
    owners = {(a.municipality_id, a.prefecture_id) for a in alerts}
    if len(owners) != 1:
        raise ValueError("alerts of several municipalities cannot form one incident")
    if not title:
        hosts = sorted({a.subject_host for a in alerts if a.subject_host})
        labels = sorted({SecurityAlert.Rule(a.rule).label for a in alerts})
        title = f"{' / '.join(str(x) for x in labels)}: {', '.join(hosts[:3]) or '-'}"
    incident = Incident.objects.create(
        municipality_id=alerts[0].municipality_id,
        prefecture_id=alerts[0].prefecture_id,
        title=title[:200],
        description="\n".join(a.explanation_ja for a in alerts)[:10_000],
        owner=owner,
    )
    incident.alerts.set(alerts)
    audit.record(
        actor=actor,
        action="security.incident_opened",
        target=incident,
        municipality=alerts[0].municipality,
        details={"alerts": [a.pk for a in alerts], "owner": owner.pk if owner else None},
    )
    return incident


_UNCHANGED: Any = object()


@transaction.atomic
def incident_update(
    *, incident: Incident, actor: Any, status: str | None = None, owner: Any = _UNCHANGED
) -> Incident:
    """Change the status (open → investigating → resolved → closed; closed is final) and/or the owner
    (None clears it); audit "security.incident_updated" with the old and new values. Raises ValueError for a
    transition that is not allowed."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    changes: dict[str, Any] = {}
    if status is not None and status != incident.status:
        if status not in _NEXT_STATUS.get(incident.status, set()):
            raise ValueError(f"an incident cannot go from {incident.status} to {status}")
        changes["status"] = [incident.status, status]
        incident.status = status
    if owner is not _UNCHANGED and (owner.pk if owner else None) != incident.owner_id:
        changes["owner"] = [incident.owner_id, owner.pk if owner else None]
        incident.owner = owner
    if changes:
        incident.save()
        audit.record(
            actor=actor,
            action="security.incident_updated",
            target=incident,
            municipality=incident.municipality,
            details=changes,
        )
    return incident


# --- STIX 2.1 exchange -------------------------------------------------------------------------------------
# The identity keeps one id across exports, so its `created` must not change either (STIX versioning).
IDENTITY_CREATED = "2026-01-01T00:00:00.000Z"


def _security_cloud_identity(prefecture: Prefecture) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "id": stable_id("identity", f"madoguchi:security-cloud:{prefecture.code}"),
        "created": IDENTITY_CREATED,
        "modified": IDENTITY_CREATED,
        "name": f"{prefecture.name} 自治体情報セキュリティクラウド",
        "identity_class": "organization",
        "sectors": ["government"],
    }


def _indicator_pattern(alert: SecurityAlert) -> str | None:
    """What other prefectures can match: the host, or a refused file's hash; None for alerts whose only
    subject is a person (failed sign-ins)."""
    if alert.subject_host:
        return host_pattern(alert.subject_host)
    sha256 = (alert.evidence or {}).get("sha256")
    if alert.rule == SecurityAlert.Rule.QUARANTINED_FILE and isinstance(sha256, str):
        try:
            return file_hash_pattern(sha256)
        except ValueError:
            return None
    return None


def _secrets_of(alerts: Iterable[SecurityAlert]) -> set[str]:
    """The personal values an export must not contain: client addresses and user names."""
    secrets = set()
    for a in alerts:
        if a.subject_client:
            secrets.add(a.subject_client)
            secrets.add(
                a.subject_client.partition(":")[2] if a.rule == SecurityAlert.Rule.SIGN_IN_BURST else ""
            )
    secrets.discard("")
    return {s for s in secrets if len(s) >= 3}


# The indicator itself and identifiers are what is shared: a user name that happens to be part of a domain
# must not corrupt the pattern.
_NOT_SCRUBBED = {"pattern", "id", "type", "spec_version", "created", "modified", "valid_from"}


def _scrub(value: Any, secrets: set[str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v, secrets, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets, key) for v in value]
    if isinstance(value, str) and key not in _NOT_SCRUBBED and not key.endswith(("_ref", "_refs")):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, "[削除]")
        return redact_my_numbers(value)
    return value


def incidents_export_stix(*, incidents: Sequence[Incident], actor: Any) -> dict[str, Any]:
    """A STIX 2.1 bundle of the incidents with personal data stripped; audit "security.incidents_exported".

    Objects: one `identity` per prefecture security cloud, per incident an `incident`, per host- or
    file-bearing alert an `indicator` (domain, IP or SHA-256 pattern), a `relationship` (indicator indicates incident) and a `sighting`
    (when, how often, seen by the prefecture's cloud). Alerts without a host (failed sign-in bursts) appear in
    the incident's description only. Incidents get a stable STIX id on their first export.
    """
    incidents = list(incidents)
    if not incidents:
        raise ValueError("nothing to export")
    now = stix_timestamp(timezone.now())
    objects: list[dict[str, Any]] = []
    identities: dict[int, dict[str, Any]] = {}
    all_alerts: list[SecurityAlert] = []
    with transaction.atomic():
        for incident in incidents:
            if not incident.stix_id:
                incident.stix_id = new_id("incident")
                Incident.objects.filter(pk=incident.pk).update(stix_id=incident.stix_id)
        for incident in incidents:
            prefecture = (
                incident.prefecture if incident.municipality_id is None else incident.municipality.prefecture
            )
            if prefecture.pk not in identities:
                identities[prefecture.pk] = _security_cloud_identity(prefecture)
                objects.append(identities[prefecture.pk])
            identity = identities[prefecture.pk]
            alerts = list(incident.alerts.order_by("pk"))
            all_alerts.extend(alerts)
            objects.append(
                {
                    "type": "incident",
                    "spec_version": SPEC_VERSION,
                    "id": incident.stix_id,
                    "created": stix_timestamp(incident.created_at),
                    "modified": stix_timestamp(max(incident.updated_at, incident.created_at)),
                    "name": incident.title,
                    "description": "\n".join(a.explanation_ja for a in alerts) or incident.description,
                    "created_by_ref": identity["id"],
                    "x_madoguchi_status": incident.status,
                }
            )
            for alert in alerts:
                pattern = _indicator_pattern(alert)
                if pattern is None:
                    continue
                indicator_id = new_id("indicator")
                objects.append(
                    {
                        "type": "indicator",
                        "spec_version": SPEC_VERSION,
                        "id": indicator_id,
                        "created": now,
                        "modified": now,
                        "created_by_ref": identity["id"],
                        "name": f"{SecurityAlert.Rule(alert.rule).label}: {alert.subject_host or 'file'}",
                        "description": alert.explanation_ja,
                        "indicator_types": [
                            "malicious-activity"
                            if alert.rule == SecurityAlert.Rule.BLOCKLISTED_DOMAIN
                            else "anomalous-activity"
                        ],
                        "pattern": pattern,
                        "pattern_type": "stix",
                        "valid_from": stix_timestamp(alert.first_seen),
                        "x_madoguchi_rule": alert.rule,
                        "x_madoguchi_severity": alert.severity,
                    }
                )
                objects.append(
                    {
                        "type": "relationship",
                        "spec_version": SPEC_VERSION,
                        "id": new_id("relationship"),
                        "created": now,
                        "modified": now,
                        "relationship_type": "indicates",
                        "source_ref": indicator_id,
                        "target_ref": incident.stix_id,
                    }
                )
                objects.append(
                    {
                        "type": "sighting",
                        "spec_version": SPEC_VERSION,
                        "id": new_id("sighting"),
                        "created": now,
                        "modified": now,
                        "sighting_of_ref": indicator_id,
                        "first_seen": stix_timestamp(alert.first_seen),
                        "last_seen": stix_timestamp(alert.last_seen),
                        "count": min(alert.count, 999_999_999),
                        "where_sighted_refs": [identity["id"]],
                    }
                )
        bundle = {
            "type": "bundle",
            "id": new_id("bundle"),
            "objects": _scrub(objects, _secrets_of(all_alerts)),
        }
        validate_bundle(bundle)
        municipalities = {i.municipality_id for i in incidents}
        audit.record(
            actor=actor,
            action="security.incidents_exported",
            municipality=incidents[0].municipality if len(municipalities) == 1 else None,
            details={"bundle": bundle["id"], "incidents": [i.pk for i in incidents]},
        )
    return bundle


def incidents_import_stix(
    *,
    bundle: Any,
    actor: Any,
    municipality: Municipality | None = None,
    prefecture: Prefecture | None = None,
) -> list[Incident]:
    """Validate a STIX 2.1 bundle and create its incidents (shared=True) with one shared alert per indicator
    that indicates them, for `municipality` or, prefecture-wide, for `prefecture` (exactly one of the two);
    audit "security.incidents_imported".

    Raises StixError (a ValueError) naming the problems when the bundle is invalid or holds no incident;
    nothing is written then. An incident already imported for the same owner (same STIX id) is skipped.
    """
    if (municipality is None) == (prefecture is None):
        raise ValueError("give exactly one of municipality or prefecture")
    owner = {"municipality": municipality, "prefecture": prefecture}
    objects = validate_bundle(bundle)
    by_id = {o["id"]: o for o in objects}
    incident_objs = [o for o in objects if o["type"] == "incident"]
    if not incident_objs:
        raise StixError(["the bundle holds no incident object"])
    sightings: dict[str, list[dict[str, Any]]] = {}
    indicates: dict[str, list[str]] = {}
    for o in objects:
        if o["type"] == "sighting":
            sightings.setdefault(o["sighting_of_ref"], []).append(o)
        elif o["type"] == "relationship" and o["relationship_type"] == "indicates":
            indicates.setdefault(o["target_ref"], []).append(o["source_ref"])
    created: list[Incident] = []
    alerts_made = 0
    with transaction.atomic():
        known = set(Incident.objects.filter(**owner).values_list("stix_id", flat=True))
        for obj in incident_objs:
            if obj["id"] in known:
                continue
            source = by_id.get(obj.get("created_by_ref", ""), {}).get("name", "")
            incident = Incident.objects.create(
                **owner,
                title=str(obj["name"])[:200],
                description=str(obj.get("description", ""))[:10_000],
                shared=True,
                stix_id=obj["id"],
            )
            alerts = []
            for ref in indicates.get(obj["id"], []):
                indicator = by_id.get(ref)
                if indicator is None or indicator["type"] != "indicator":
                    continue
                seen = sightings.get(ref, [])
                first = min((s.get("first_seen", indicator["valid_from"]) for s in seen), default=None)
                last = max((s.get("last_seen", indicator["valid_from"]) for s in seen), default=None)
                severity = indicator.get("x_madoguchi_severity")
                if severity not in SecurityAlert.Severity.values:
                    severity = SecurityAlert.Severity.MEDIUM
                host = pattern_host(indicator["pattern"]) or ""
                alerts.append(
                    SecurityAlert(
                        **owner,
                        rule=SecurityAlert.Rule.SHARED_INDICATOR,
                        severity=severity,
                        subject_host=host[:255],
                        first_seen=parse_timestamp(first or indicator["valid_from"]),
                        last_seen=parse_timestamp(last or indicator["valid_from"]),
                        count=sum(int(s.get("count", 1)) for s in seen) or 1,
                        explanation_ja=str(indicator.get("description") or indicator.get("name") or host),
                        explanation_en=f"Indicator shared by {source or 'another security cloud'}.",
                        evidence={
                            "pattern": indicator["pattern"],
                            "original_rule": str(indicator.get("x_madoguchi_rule", "")),
                            "source": source,
                            "bundle": bundle["id"],
                        },
                        shared=True,
                        stix_id=ref,
                    )
                )
            alerts = SecurityAlert.objects.bulk_create(alerts)
            alerts_made += len(alerts)
            incident.alerts.set(alerts)
            created.append(incident)
        audit.record(
            actor=actor,
            action="security.incidents_imported",
            municipality=municipality,
            details={
                "bundle": bundle["id"],
                "prefecture": prefecture.code if prefecture is not None else None,
                "incidents": len(created),
                "alerts": alerts_made,
            },
        )
    return created


# --- Selectors ---------------------------------------------------------------------------------------------
def alerts_of_municipality(municipality: Municipality) -> QuerySet[SecurityAlert]:
    """A municipality's alerts, newest first. Callers check the staff role first."""
    return SecurityAlert.objects.filter(municipality=municipality).order_by("-created_at", "-id")


def alerts_of_prefecture(prefecture: Prefecture) -> QuerySet[SecurityAlert]:
    """The prefecture-wide view: alerts of every municipality of the prefecture and those shared with the
    whole prefecture, newest first."""
    return (
        SecurityAlert.objects.filter(Q(municipality__prefecture=prefecture) | Q(prefecture=prefecture))
        .select_related("municipality")
        .order_by("-created_at", "-id")
    )


def incidents_of_municipality(municipality: Municipality) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(municipality=municipality)
        .select_related("owner")
        .order_by("-created_at", "-id")
    )


def incidents_of_prefecture(prefecture: Prefecture) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(Q(municipality__prefecture=prefecture) | Q(prefecture=prefecture))
        .select_related("municipality", "owner")
        .order_by("-created_at", "-id")
    )
