"""The audit log: append-only, hash-chained, one chain ("stream") per municipality plus "platform".

Every state change in the platform calls `record(...)` inside the transaction that makes the change, so the
change and its audit record commit or roll back together. `verify()` recomputes every chain and names the
first record that was altered, deleted, inserted or reordered.

Hash of a record = SHA-256( prev_hash ‖ canonical JSON of its content ), where the content is every column
but the two hashes, timestamps in UTC with microseconds, keys sorted, no whitespace. The first record of a
stream has prev_hash = 64 zeros.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from madoguchi.core import fastsql
from madoguchi.core.models import AuditChainHead, AuditRecord, Municipality
from madoguchi.core.redaction import contains_my_number

GENESIS = "0" * 64
PLATFORM_STREAM = "platform"
_HEAD_TABLE = AuditChainHead._meta.db_table
_HEAD_SELECT = f"SELECT id, seq, hash FROM {_HEAD_TABLE} WHERE stream = %s"  # noqa: S608 (a model table)
_HEAD_UPDATE = f"UPDATE {_HEAD_TABLE} SET seq = %s, hash = %s WHERE id = %s"  # noqa: S608


@dataclass(frozen=True)
class Actor:
    """Who did it. `type` is "user", "system", "anonymous" or what a later app defines (e.g. "provider")."""

    type: str
    id: str = ""
    label: str = ""


SYSTEM = Actor("system", "", "system")


def actor_of(who: Any) -> Actor:
    """An Actor for a user object, an Actor, or None (the system)."""
    if who is None:
        return SYSTEM
    if isinstance(who, Actor):
        return who
    if getattr(who, "is_anonymous", False):
        return Actor("anonymous", "", "anonymous")
    if hasattr(who, "get_username") and who.pk is not None:
        return Actor("user", str(who.pk), who.get_username())
    raise TypeError(f"cannot audit an actor of type {type(who).__name__}")


def _target(target: Any) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk)
    if isinstance(target, tuple) and len(target) == 2:
        return str(target[0]), str(target[1])
    raise TypeError("target must be a model instance, a (type, id) pair or None")


def _canonical(row: dict[str, Any]) -> bytes:
    created_at: datetime = row["created_at"]
    content = {
        "stream": row["stream"],
        "seq": row["seq"],
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "municipality_id": row["municipality_id"],
        "actor_type": row["actor_type"],
        "actor_id": row["actor_id"],
        "actor_label": row["actor_label"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "details": row["details"],
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def compute_hash(row: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + _canonical(row)).hexdigest()


def record(
    *,
    actor: Any,
    action: str,
    target: Any = None,
    municipality: Municipality | None = None,
    details: dict[str, Any] | None = None,
    stream: str | None = None,
) -> AuditRecord:
    """Append one record to the municipality's stream (or "platform", or the `stream` given) and return it.

    High-volume writers that are not a municipality's (e.g. payment providers' API calls) pass a stream from
    `sharded_stream`, so that their requests do not queue on one head row.

    Call it inside the caller's `transaction.atomic`: the stream's head row stays locked until that
    transaction ends, which is what keeps concurrent writers from forking the chain. Called outside a
    transaction it opens its own. Raises ValueError when `details` contain a My Number (they belong in the
    vault, never in the audit log) or are not JSON.
    """
    details = details or {}
    try:
        serialized = json.dumps(details, ensure_ascii=False, sort_keys=True)
    except TypeError as exc:
        raise ValueError(f"audit details must be JSON: {exc}") from None
    if contains_my_number(serialized, strict=True):
        raise ValueError("audit details must not contain a My Number")
    who = actor_of(actor)
    target_type, target_id = _target(target)
    if stream is None:
        stream = municipality.code if municipality is not None else PLATFORM_STREAM
    elif len(stream) > 16 or stream.isdigit():
        raise ValueError("a custom stream name has at most 16 characters and is not a municipality code")

    # No savepoint: a failure here must abort the caller's transaction anyway (what it did is not audited).
    # Plain statements for the head row and `fastsql.insert` for the record: this runs in every audited write,
    # and the ORM's compiling of these statements cost more than the database's work on them. On PostgreSQL
    # the record's INSERT carries the head's UPDATE (two statements in all, the lock first).
    with transaction.atomic(savepoint=False):
        connection = transaction.get_connection()
        with connection.cursor() as cursor:
            locked = _HEAD_SELECT + (" FOR UPDATE" if connection.features.has_select_for_update else "")
            cursor.execute(locked, [stream])
            found = cursor.fetchone()
            if found is None:
                # The first record of a stream creates its head; ON CONFLICT DO NOTHING makes concurrent first
                # writers safe (the loser then waits on the winner's row lock).
                AuditChainHead.objects.bulk_create([AuditChainHead(stream=stream)], ignore_conflicts=True)
                cursor.execute(locked, [stream])
                found = cursor.fetchone()
            head_id, head_seq, head_hash = found
            row = {
                "stream": stream,
                "seq": head_seq + 1,
                "created_at": timezone.now(),
                "municipality_id": municipality.pk if municipality is not None else None,
                "actor_type": who.type,
                "actor_id": who.id,
                "actor_label": who.label[:150],
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "details": json.loads(serialized),
            }
            prev_hash = head_hash or GENESIS
            digest = compute_hash(row, prev_hash)
            entry = fastsql.insert(  # the record and the head's move: one statement on PostgreSQL
                AuditRecord(**row, prev_hash=prev_hash, hash=digest),
                using=connection.alias,
                also=(_HEAD_UPDATE, [row["seq"], digest, head_id]),
            )
    return entry


def sharded_stream(prefix: str, key: str, shards: int = 16) -> str:
    """A stream name `<prefix>.<n>` spreading one writer's records over `shards` chains by a stable hash of
    `key`. Every chain is verified like any other; only the order across shards is not chained."""
    n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % shards
    return f"{prefix}.{n:02d}"[:16]


# --- Verification ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    stream: str
    seq: int | None
    record_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"record id={self.record_id} (stream {self.stream}, seq {self.seq})"
        if self.record_id is None:
            where = f"stream {self.stream}"
        return f"{where}: {self.reason}"


_FIELDS = [
    "id", "stream", "seq", "created_at", "municipality_id", "actor_type", "actor_id", "actor_label",
    "action", "target_type", "target_id", "details", "prev_hash", "hash",
]  # fmt: skip


def _rows(using: str) -> Iterator[dict[str, Any]]:
    return (
        AuditRecord.objects.using(using).order_by("stream", "seq").values(*_FIELDS).iterator(chunk_size=5000)
    )


def verify(*, using: str = "default", stop_at_first: bool = True) -> tuple[int, list[Problem]]:
    """Recompute every stream. Returns (records checked, problems in chain order).

    Detects: content altered (hash mismatch), a record deleted or inserted (seq gap or prev_hash mismatch),
    records reordered (seq is hashed), a record moved to another stream, and records removed from a stream's
    end (the head names a later record than the last one found).
    """
    problems: list[Problem] = []
    heads = {h.stream: h for h in AuditChainHead.objects.using(using).all()}
    seen_streams: set[str] = set()
    checked = 0
    stream: str | None = None
    expected_seq = 1
    prev_hash = GENESIS

    def close_stream(name: str, last_seq: int, last_hash: str) -> None:
        head = heads.get(name)
        if head is None:
            problems.append(Problem(name, None, None, "the stream has records but no head"))
        elif head.seq != last_seq or (head.hash or GENESIS) != last_hash:
            problems.append(
                Problem(
                    name, None, None, f"the head names seq {head.seq} but the last record is seq {last_seq}"
                )
            )

    for row in _rows(using):
        if row["stream"] != stream:
            if stream is not None:
                close_stream(stream, expected_seq - 1, prev_hash)
            stream, expected_seq, prev_hash = row["stream"], 1, GENESIS
            seen_streams.add(stream)
        checked += 1
        reason = None
        if row["seq"] != expected_seq:
            reason = f"expected seq {expected_seq}, found {row['seq']} (a record was deleted or inserted)"
        elif row["prev_hash"] != prev_hash:
            reason = "its prev_hash does not match the previous record (a record was deleted or inserted)"
        elif compute_hash(row, row["prev_hash"]) != row["hash"]:
            reason = "its content does not match its hash (the record was altered)"
        if reason:
            problems.append(Problem(row["stream"], row["seq"], row["id"], reason))
            if stop_at_first:
                return checked, problems
        expected_seq = row["seq"] + 1
        prev_hash = row["hash"]
    if stream is not None:
        close_stream(stream, expected_seq - 1, prev_hash)
    for name, head in heads.items():
        if name not in seen_streams and head.seq:
            problems.append(
                Problem(name, None, None, f"the head names seq {head.seq} but no record was found")
            )
    if stop_at_first:
        problems = problems[:1]
    return checked, problems
