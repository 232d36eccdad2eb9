"""STIX 2.1 (OASIS Standard, 2021-06-10): identifiers, timestamps, indicator patterns and a validator of the
required properties of the objects this platform exchanges.

Written by hand against the specification rather than with a library: we exchange six object types and need
only their required properties, id formats and spec_version checked, with messages a person can act on.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = "2.1"
_ID = re.compile(
    r"^([a-z][a-z0-9-]{1,248}[a-z0-9])--([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
# RFC 3339, UTC, "Z", optional fractional seconds (spec §3.2).
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$")
_DOMAIN_PATTERN = re.compile(r"^\[(domain-name|ipv4-addr|ipv6-addr):value = '((?:[^'\\]|\\.)*)'\]$")

# Required properties beyond the common ones (type, spec_version, id, created, modified), per object type.
REQUIRED = {
    "identity": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "incident": ("name",),
    "sighting": ("sighting_of_ref",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "observed-data": ("first_observed", "last_observed", "number_observed", "object_refs"),
}
_REFS = {"sighting_of_ref", "source_ref", "target_ref", "created_by_ref"}
_REF_LISTS = {"object_refs", "where_sighted_refs", "observed_data_refs", "object_marking_refs"}


class StixError(ValueError):
    """A bundle that is not valid STIX 2.1; `problems` lists every reason, the message the first ones."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:5]) + (f" (+{len(problems) - 5})" if len(problems) > 5 else "")
        super().__init__(f"STIX 2.1 バンドルとして不正です / invalid STIX 2.1 bundle: {shown}")


def new_id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


def stable_id(stix_type: str, name: str) -> str:
    """A deterministic id (UUIDv5 over `name`) for objects that must be the same across exports."""
    return f"{stix_type}--{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def stix_timestamp(value: datetime | float) -> str:
    """RFC 3339 in UTC with millisecond precision and "Z", as STIX requires."""
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, tz=UTC)
    if value.tzinfo is None:
        raise ValueError("naive datetime: STIX timestamps must be in UTC")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ip_kind(host: str) -> str:
    if ":" in host:
        return "ipv6-addr"
    if host.replace(".", "").isdigit() and host.count(".") == 3:
        return "ipv4-addr"
    return "domain-name"


def host_pattern(host: str) -> str:
    """A STIX pattern matching this host: `[domain-name:value = 'evil.example']` (or an IP address)."""
    escaped = host.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{_ip_kind(host)}:value = '{escaped}']"


def file_hash_pattern(sha256: str) -> str:
    """A STIX pattern matching a file by its SHA-256."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a lower-case hex SHA-256")
    return f"[file:hashes.'SHA-256' = '{sha256}']"


def pattern_host(pattern: str) -> str | None:
    """The host of a pattern written by `host_pattern`, or None for any other pattern."""
    m = _DOMAIN_PATTERN.match(pattern)
    if not m:
        return None
    return re.sub(r"\\(.)", r"\1", m.group(2))


def _check_ref(problems: list[str], where: str, value: Any) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        problems.append(f"{where}: {value!r} is not an identifier of the form type--uuid")


def validate_bundle(bundle: Any) -> list[dict[str, Any]]:
    """Check a STIX 2.1 bundle and return its objects; raise StixError listing every problem.

    Checked: the bundle's type and id; for every object its type, id (`type--uuid`, same type), spec_version
    "2.1", created/modified timestamps (modified not before created), the required properties of the types
    in REQUIRED, the form of every reference, unique ids, and that indicator patterns of type "stix" are
    bracketed. Objects of other types are accepted if the common properties are right.
    """
    problems: list[str] = []
    if not isinstance(bundle, dict):
        raise StixError(["the bundle is not a JSON object"])
    if bundle.get("type") != "bundle":
        problems.append(f"type must be 'bundle', found {bundle.get('type')!r}")
    bid = bundle.get("id")
    if not isinstance(bid, str) or not (m := _ID.match(bid)) or m.group(1) != "bundle":
        problems.append(f"bundle id {bid!r} is not of the form bundle--<uuid>")
    if "spec_version" in bundle:  # STIX 2.0 put it on the bundle; 2.1 puts it on each object
        problems.append("spec_version on the bundle is STIX 2.0; 2.1 puts it on each object")
    objects = bundle.get("objects")
    if not isinstance(objects, list) or not objects:
        problems.append("objects must be a non-empty list")
        raise StixError(problems)
    seen: set[tuple[str, str]] = set()
    for n, obj in enumerate(objects):
        where = f"objects[{n}]"
        if not isinstance(obj, dict):
            problems.append(f"{where} is not a JSON object")
            continue
        otype, oid = obj.get("type"), obj.get("id")
        if not isinstance(otype, str) or not _TYPE.match(otype):
            problems.append(f"{where}: type {otype!r} is missing or malformed")
            continue
        where = f"{where} ({otype})"
        m = _ID.match(oid) if isinstance(oid, str) else None
        if not m or m.group(1) != otype:
            problems.append(f"{where}: id {oid!r} is not of the form {otype}--<uuid>")
        if obj.get("spec_version") != SPEC_VERSION:
            problems.append(f"{where}: spec_version must be '2.1', found {obj.get('spec_version')!r}")
        version_key = (str(oid), str(obj.get("modified")))
        if version_key in seen:
            problems.append(f"{where}: duplicate object {oid}")
        seen.add(version_key)
        if otype in REQUIRED:
            for key in ("created", "modified"):
                value = obj.get(key)
                if not isinstance(value, str) or not _TIMESTAMP.match(value):
                    problems.append(
                        f"{where}: {key} {value!r} is not a UTC timestamp like 2026-01-02T03:04:05.000Z"
                    )
            created, modified = obj.get("created"), obj.get("modified")
            if (
                isinstance(created, str)
                and isinstance(modified, str)
                and _TIMESTAMP.match(created)
                and _TIMESTAMP.match(modified)
                and parse_timestamp(modified) < parse_timestamp(created)
            ):
                problems.append(f"{where}: modified is before created")
            for key in REQUIRED[otype]:
                if obj.get(key) in (None, "", []):
                    problems.append(f"{where}: required property {key!r} is missing")
        for key in _REFS & obj.keys():
            _check_ref(problems, f"{where}.{key}", obj[key])
        for key in _REF_LISTS & obj.keys():
            refs = obj[key]
            if not isinstance(refs, list):
                problems.append(f"{where}.{key} must be a list")
                continue
            for ref in refs:
                _check_ref(problems, f"{where}.{key}", ref)
        if otype == "indicator":
            pattern = obj.get("pattern")
            if obj.get("pattern_type") == "stix" and isinstance(pattern, str):
                if not (pattern.startswith("[") and pattern.rstrip().endswith("]")):
                    problems.append(f"{where}: pattern {pattern!r} is not a STIX pattern")
            valid_from = obj.get("valid_from")
            if isinstance(valid_from, str) and not _TIMESTAMP.match(valid_from):
                problems.append(f"{where}: valid_from {valid_from!r} is not a UTC timestamp")
        if otype == "sighting" and "count" in obj:
            count = obj["count"]
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 999_999_999:
                problems.append(f"{where}: count must be an integer 0–999,999,999")
    if problems:
        raise StixError(problems)
    return objects
