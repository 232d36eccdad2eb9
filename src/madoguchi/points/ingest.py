"""Set-based recording of provider transactions on PostgreSQL (the batch path of `transactions_record`).

Same rules, same answers as the row-by-row path in services.py (the tests compare both on random batches):

1. Validate each item. The common, well-formed item takes a fast path (plain types checked inline, the
   fingerprint built with the same JSON encoder pieces `json.dumps(sort_keys=True, ensure_ascii=False)` uses);
   anything else goes through `services._parse_transaction`, so invalid items get exactly the same message.
2. COPY the ids and account keys into a TEMP staging table; one join answers ids already recorded (idempotency,
   conflicts); one statement finds the accounts of the new items and locks them in primary-key order
   (concurrent batches never deadlock, and each sees the other's committed totals) and returns their headroom.
   Every join is index probes, whatever the statistics say (lateral subqueries; hash and merge joins off).
3. Grants in recording order with `calc.grants_batch`: within an account, with c_i the running sum of the raw
   premiums floor(amount × rate) and H the headroom before the batch, grant_i = min(c_i, H) − min(c_{i−1}, H).
   This is the item rule min(floor(amount_i × rate), max(0, H − Σ_{j<i} grant_j)): by induction
   Σ_{j<i} grant_j = min(c_{i−1}, H), so the item gets min(raw_i, H − min(c_{i−1}, H)) = min(c_i, H) − min(c_{i−1}, H).
   Items that earn nothing (wrong mode, outside the period) take part with raw 0, so that the `remaining` they
   report is the account's headroom at their place in the order, as on the row-by-row path.
4. COPY the ledger rows (the ledger has four indexes and its three foreign keys, see models.py) and add the
   totals with one UPDATE … FROM unnest() (HOT: `granted` is in no index, the table keeps room); the CHECK (granted ≤ cap) and the
   UNIQUE (provider, kind, external_id) still hold whatever happens. A race on a new id raises IntegrityError
   and `transactions_record` retries once, as before. One audit record per batch, as before.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import UTC, datetime
from json.encoder import encode_basestring

import numpy as np
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.points import calc
from madoguchi.points.models import Campaign, PaymentProvider, ProviderTransaction

# Below this many items the row-by-row path is as fast (fewer round trips); tests lower it to 1.
MIN_ITEMS = 200
_KEYS = frozenset({"id", "account", "kind", "amount", "occurred_at"})
_TX = ProviderTransaction.Kind.TRANSACTION
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS points_ingest_staging "
    "(external_id text NOT NULL, account text NOT NULL) ON COMMIT DELETE ROWS"
)

# The accounts of the keys in a JSON array (%s), of one provider and campaigns, locked in primary-key order.
ACCOUNTS_SQL = (
    "SELECT a.id, a.service_account, a.campaign_id, a.mode, a.cap, a.granted, a.enrolled_at FROM "
    "(SELECT f.id FROM (SELECT DISTINCT value AS account FROM json_array_elements_text(%s::json)) s "
    "CROSS JOIN LATERAL (SELECT f.id FROM points_pointaccount f WHERE f.provider_id = %s "
    "AND f.service_account = s.account AND f.campaign_id = ANY(%s) OFFSET 0) f "
    "ORDER BY f.id OFFSET 0) u CROSS JOIN LATERAL "
    "(SELECT * FROM points_pointaccount a WHERE a.id = u.id FOR UPDATE) a"
)


# Control characters (C0, DEL, C1) have no place in an id or an account, and PostgreSQL text cannot hold NUL:
# items with them leave the fast path, and the general one (services._parse_transaction) refuses them.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# The instants an item may name: a charge or purchase of this century. Anything else is a data error (a .NET
# zero date 0001-01-01, a 9999-12-31 "no end") and answered `invalid`: outside years 1–9999 in UTC no database
# can store it, and a row read back from PostgreSQL outside them would fail every later read.
WHEN_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def within_range(at: datetime) -> bool:
    """Comparing aware datetimes never overflows, whatever their offsets (unlike converting them to UTC)."""
    return WHEN_RANGE[0] <= at < WHEN_RANGE[1]


def applies(items: list) -> bool:
    return connection.vendor == "postgresql" and len(items) >= MIN_ITEMS


def _fast_item(raw, modes, max_amount, when_cache):
    """(id, account, kind, amount, occurred_at, fingerprint) for a plainly valid item, else None."""
    if type(raw) is not dict or raw.keys() != _KEYS:
        return None
    item_id, account, kind, amount, occurred = (
        raw["id"], raw["account"], raw["kind"], raw["amount"], raw["occurred_at"]
    )  # fmt: skip
    if (
        type(item_id) is not str
        or type(account) is not str
        or type(kind) is not str
        or type(amount) is not int
        or type(occurred) is not str
        or not 1 <= len(item_id) <= 64
        or kind not in modes
        or not 1 <= amount <= max_amount
    ):
        return None
    key = account.strip()
    if not 1 <= len(key) <= 64 or CONTROL_CHARACTERS.search(item_id) or CONTROL_CHARACTERS.search(account):
        return None
    at = when_cache.get(occurred)
    if at is None:
        try:
            at = datetime.fromisoformat(occurred)  # what parse_datetime tries first
        except ValueError:
            return None
        if at.tzinfo is None or at.utcoffset() is None or not within_range(at):
            return None
        when_cache[occurred] = at
    text = (
        f'{{"account": {encode_basestring(account)}, "amount": {amount}, "id": {encode_basestring(item_id)}, '
        f'"kind": {encode_basestring(kind)}, "occurred_at": {encode_basestring(occurred)}}}'
    )
    return item_id, key, kind, amount, at, hashlib.sha256(text.encode()).hexdigest()


def record(provider: PaymentProvider, items: list, actor):
    """The batch path: the caller holds the retry loop (IntegrityError) and has checked the batch size."""
    from madoguchi.points import services  # services imports this module

    ItemResult, Status = services.ItemResult, services.Status
    modes, max_amount, when_cache = services._MODES, services.MAX_AMOUNT, {}
    results: list = [None] * len(items)
    valid: list[tuple] = []  # (index, id, account, kind, amount, occurred_at, fingerprint)
    for i, raw in enumerate(items):
        fast = _fast_item(raw, modes, max_amount, when_cache)
        if fast is None:
            parsed = services._parse_transaction(raw)
            if isinstance(parsed, ItemResult):
                results[i] = parsed
                continue
            fast = (
                parsed.id,
                parsed.account,
                parsed.kind,
                parsed.amount,
                parsed.occurred_at,
                parsed.fingerprint,
            )
        valid.append((i, *fast))

    now = timezone.now()
    month = services._month(now)
    with services.transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        pg = cursor.cursor
        fresh: list[tuple] = []
        if valid:
            # Every join below is meant as index probes, one per id or key: a hash or merge join would read
            # the whole ledger or account table when the statistics are stale. SET LOCAL ends with the
            # transaction; the former values are restored at the end, for an enclosing transaction.
            pg.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
            planner = pg.fetchone()
            # The staging table may hold rows of an earlier batch in the same (enclosing) transaction.
            pg.execute(f"SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; {_STAGING}; "
                       "TRUNCATE points_ingest_staging")  # fmt: skip
            buffer = io.StringIO()
            esc = _COPY_ESCAPE
            buffer.write("".join([f"{v[1].translate(esc)}\t{v[2].translate(esc)}\n" for v in valid]))
            with pg.copy("COPY points_ingest_staging (external_id, account) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            # One index probe per id (LIMIT 1 keeps the lateral subquery from being flattened into a join that
            # would read all of the provider's ledger when the statistics are stale).
            pg.execute(
                "SELECT t.external_id, t.fingerprint, t.status, t.points, t.remaining "
                "FROM (SELECT DISTINCT external_id FROM points_ingest_staging) s CROSS JOIN LATERAL "
                "(SELECT * FROM points_providertransaction t WHERE t.provider_id = %s AND t.kind = %s "
                "AND t.external_id = s.external_id LIMIT 1) t",
                [provider.pk, _TX],
            )
            existing = {row[0]: row for row in pg.fetchall()}
            conflict = _("this id was sent before with other content")
            duplicate = _("this id appears twice in the batch")
            seen: dict[str, str] = {}
            for v in valid:
                i, item_id, fingerprint = v[0], v[1], v[6]
                earlier = existing.get(item_id)
                if earlier is not None:
                    results[i] = (
                        ItemResult(item_id, earlier[2], max(earlier[3], 0), earlier[4])
                        if earlier[1] == fingerprint else ItemResult(item_id, "conflict", message=conflict)
                    )  # fmt: skip
                    continue
                first = seen.get(item_id)
                if first is not None:
                    results[i] = (
                        ItemResult(item_id, "duplicate", message=duplicate)
                        if first == fingerprint else ItemResult(item_id, "conflict", message=conflict)
                    )  # fmt: skip
                    continue
                seen[item_id] = fingerprint
                fresh.append(v)

        rows_written, points_total = 0, 0
        if fresh:
            campaigns = {
                c.pk: c for c in Campaign.objects.filter(kind=Campaign.Kind.PREMIUM, providers=provider)
            }
            accounts: dict[str, list[tuple]] = {}
            account_pk: list[int] = []
            headroom: list[int] = []
            if campaigns:
                # The accounts of the new items, locked in primary-key order, in one statement: a lateral
                # subquery with OFFSET 0 is never flattened, so whatever the statistics say (a table just
                # filled has none) it is one index probe per key, then one probe and lock per id in the
                # sorted order. Concurrent batches touching the same accounts thus never deadlock, and each
                # reads the other's committed totals. The keys travel as one JSON text parameter.
                pg.execute(
                    ACCOUNTS_SQL,
                    [json.dumps([v[2] for v in fresh], ensure_ascii=False), provider.pk, list(campaigns)],
                )
                for pk, key, campaign_id, mode, cap, granted, enrolled_at in pg.fetchall():
                    c = campaigns[campaign_id]
                    index = len(account_pk)
                    account_pk.append(pk)
                    headroom.append(cap - granted)
                    # Spending before the application earns nothing: the window opens at the later of the two.
                    accounts.setdefault(key, []).append(
                        (
                            index,
                            max(c.earning_starts_at, enrolled_at),
                            c.earning_ends_at,
                            mode,
                            c.rate_bp,
                            cap,
                        )
                    )
            n = len(fresh)
            status = [""] * n
            acc_l, amount_l, rate_l = [-1] * n, [0] * n, [0] * n
            not_enrolled, outside, wrong_mode = (
                str(Status.NOT_ENROLLED), str(Status.OUTSIDE_PERIOD), str(Status.WRONG_MODE)
            )  # fmt: skip
            for k, (_i, _id, key, kind, value, at, _fp) in enumerate(fresh):
                candidates = accounts.get(key)
                if not candidates:
                    status[k] = not_enrolled
                    continue
                if len(candidates) == 1:
                    chosen = candidates[0]
                    if not chosen[1] <= at <= chosen[2]:
                        status[k] = outside
                    elif chosen[3] != kind:
                        status[k] = wrong_mode
                else:
                    chosen = next((a for a in candidates if a[1] <= at <= a[2]), None)
                    if chosen is None:
                        status[k], chosen = outside, candidates[0]
                    elif chosen[3] != kind:
                        status[k] = wrong_mode
                acc_l[k] = chosen[0]
                if not status[k]:
                    amount_l[k], rate_l[k] = value, chosen[4]
            acc = np.array(acc_l, dtype=np.int64)
            amount = np.array(amount_l, dtype=np.int64)
            rate = np.array(rate_l, dtype=np.int64)
            with_account = np.flatnonzero(acc >= 0)
            points = np.zeros(n, dtype=np.int64)
            remaining = np.zeros(n, dtype=np.int64)
            if with_account.size:
                a = acc[with_account]
                head = np.asarray(headroom, dtype=np.int64)
                got = calc.grants_batch(a, amount[with_account], rate[with_account], head)
                # Headroom after each item: the account's headroom minus its grants so far, in recording order.
                order = np.argsort(a, kind="stable")
                a_sorted, got_sorted = a[order], got[order]
                running = np.cumsum(got_sorted)
                starts = np.flatnonzero(np.r_[True, a_sorted[1:] != a_sorted[:-1]])
                base = np.repeat(running[starts] - got_sorted[starts], np.diff(np.r_[starts, a_sorted.size]))
                after = np.empty_like(running)
                after[order] = head[a_sorted] - (running - base)
                points[with_account] = got
                remaining[with_account] = after
                raw = (amount * rate // calc.BP).tolist()
                got_list = points.tolist()
                granted, capped = str(Status.GRANTED), str(Status.CAPPED)
                for k in with_account.tolist():
                    if not status[k]:
                        status[k] = granted if got_list[k] == raw[k] else capped
            points_list, remaining_list, acc_list = points.tolist(), remaining.tolist(), acc.tolist()
            stamp, buffer, when_text = now.isoformat(), io.StringIO(), {}
            provider_pk, esc = provider.pk, _COPY_ESCAPE
            lines = []
            for k, (i, item_id, _key, _kind, value, at, fingerprint) in enumerate(fresh):
                s, p, r, x = status[k], points_list[k], remaining_list[k], acc_list[k]
                pk = account_pk[x] if x >= 0 else "\\N"
                when = when_text.get(at)
                if when is None:
                    when = when_text[at] = at.isoformat()
                lines.append(f"{provider_pk}\t{_TX}\t{item_id.translate(esc)}\t{fingerprint}\t{pk}\t{value}\t"
                             f"{when}\t{s}\t{p}\t{r}\t{stamp}\t{month}\t0\n")  # fmt: skip
                results[i] = ItemResult(item_id, s, p, r)
            buffer.write("".join(lines))
            columns = ", ".join(services._ROW_COLUMNS)
            with pg.copy(f"COPY points_providertransaction ({columns}, clawed_back) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            rows_written = n
            if with_account.size:
                deltas = np.zeros(len(account_pk), dtype=np.int64)
                np.add.at(deltas, acc[with_account], points[with_account])
                touched = np.flatnonzero(deltas)
                if touched.size:
                    # One statement for every account; ids and deltas as two comma-separated text parameters.
                    pg.execute(
                        "UPDATE points_pointaccount AS a SET granted = a.granted + d.delta "
                        "FROM unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::integer[]) "
                        "AS d(id, delta) WHERE a.id = d.id",
                        [",".join(map(str, np.asarray(account_pk, dtype=np.int64)[touched].tolist())),
                         ",".join(map(str, deltas[touched].tolist()))],
                    )  # fmt: skip
                points_total = int(deltas.sum())
        if valid:
            pg.execute("SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
                       list(planner))  # fmt: skip
        if rows_written:
            audit.record(actor=actor or audit.Actor("provider", str(provider.pk), provider.code),
                         action="points.transactions_record", target=provider,
                         stream=audit.sharded_stream(f"p{provider.pk}", fresh[0][1]),
                         details={"items": len(items), "recorded": rows_written, "points": points_total})  # fmt: skip
    return [r for r in results if r is not None]
