"""Batch ingestion end to end (validation, idempotency, cap, persistence) vs a raw COPY of the same rows.

On a throwaway PostgreSQL database: R residents with applications, then T transactions recorded through
`points.services.transactions_record` in chunks of 10,000 (what the API and `madoguchi points ingest` do);
beside it, in the same run, a COPY of the same rows into an equivalent plain table — the floor of what any
ingestion can cost on this server — and a COPY of the ledger rows into a copy of the ledger table (same indexes,
CHECKs and deferred foreign keys on account, provider and original), committed: the floor of writing this
ledger. On PostgreSQL, batches of `ingest.MIN_ITEMS` items or more take the set-based path of points/ingest.py
(`--row-path` forces the former row-by-row path, for comparison). Target (issue 4): 1,000,000 tx of 200,000
residents at >= 100,000 tx/s.

    .venv/bin/python bench/points_ingest.py [--transactions 200000] [--residents 200000] [--row-path]
"""

import argparse
import io
import json
import os
import time

from _common import ROOT, django_setup, enrol_accounts, throwaway_databases  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--row-path", action="store_true",
                        help="force the row-by-row path (before the set-based one), for comparison; not saved")  # fmt: skip
    args = parser.parse_args()
    with throwaway_databases("points") as url:
        django_setup(url, migrate=True)
        if args.row_path:
            from madoguchi.points import ingest

            ingest.MIN_ITEMS = 10**9
        result = run(args) | {"path": "row-by-row" if args.row_path else "set-based (points/ingest.py)"}
    print(json.dumps(result, indent=2))
    if not args.row_path:
        (ROOT / "bench" / "results" / "points_ingest.json").write_text(json.dumps(result, indent=2) + "\n")


def run(args) -> dict:
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from madoguchi.points import services
    from madoguchi.points.models import PointAccount

    now = timezone.now()
    load_before = list(os.getloadavg())
    t0 = time.perf_counter()
    provider, _campaign = enrol_accounts(args.residents)
    setup_seconds = time.perf_counter() - t0

    rng = np.random.default_rng(2020)
    who = rng.integers(0, args.residents, args.transactions)
    amounts = rng.integers(1, 30_001, args.transactions)
    at = now.isoformat()
    items = [{"id": f"tx{i}", "account": f"acct{w}", "kind": "charge", "amount": int(a), "occurred_at": at}
             for i, (w, a) in enumerate(zip(who.tolist(), amounts.tolist(), strict=True))]  # fmt: skip

    # Baseline: COPY the same rows into an equivalent table (no validation, no lookups, no cap).
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_copy (external_id varchar(64), account varchar(64), kind varchar(8), "
                       "amount bigint, occurred_at timestamptz, status varchar(16), points integer)")  # fmt: skip
        buffer = io.StringIO()
        for it in items:
            buffer.write(f"{it['id']}\t{it['account']}\tcharge\t{it['amount']}\t{at}\tgranted\t0\n")
        started = time.perf_counter()
        with cursor.cursor.copy("COPY bench_copy FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        copy_seconds = time.perf_counter() - started

    # Second floor: the ledger rows themselves COPYed into a table with the ledger's indexes, CHECKs and
    # foreign keys (deferred, checked at commit), in one transaction — what writing the rows costs here.
    from django.db import transaction

    pks = dict(PointAccount.objects.values_list("service_account", "pk"))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_ledger (LIKE points_providertransaction INCLUDING ALL)")
        for column, table in (
            ("account_id", "points_pointaccount"),
            ("provider_id", "points_paymentprovider"),
            ("original_id", "bench_ledger"),
        ):
            cursor.execute(f"ALTER TABLE bench_ledger ADD FOREIGN KEY ({column}) REFERENCES {table} (id) "
                           "DEFERRABLE INITIALLY DEFERRED")  # fmt: skip
        buffer = io.StringIO()
        for it in items:
            buffer.write(f"{provider.pk}\ttx\t{it['id']}\t{'0' * 64}\t{pks[it['account']]}\t{it['amount']}\t"
                         f"{at}\tgranted\t0\t0\t{at}\t202601\t0\n")  # fmt: skip
        started = time.perf_counter()
        with transaction.atomic():
            with cursor.cursor.copy(
                "COPY bench_ledger (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, "
                "status, points, remaining, recorded_at, month, clawed_back) FROM STDIN"
            ) as copy:
                copy.write(buffer.getvalue())
        copy_ledger_seconds = time.perf_counter() - started

    started = time.perf_counter()
    granted = 0
    for start in range(0, len(items), services.MAX_ITEMS):
        results = services.transactions_record(
            provider=provider, items=items[start : start + services.MAX_ITEMS]
        )
        granted += sum(r.granted for r in results)
    ingest_seconds = time.perf_counter() - started

    # Re-run the first chunk: idempotency must grant nothing and write no row.
    from madoguchi.points.models import ProviderTransaction

    rows_before = ProviderTransaction.objects.count()
    stored_before = sum(PointAccount.objects.values_list("granted", flat=True))
    services.transactions_record(provider=provider, items=items[: services.MAX_ITEMS])
    rerun_new_rows = ProviderTransaction.objects.count() - rows_before
    stored = sum(PointAccount.objects.values_list("granted", flat=True))
    expected = {}
    for w, a in zip(who.tolist(), amounts.tolist(), strict=True):
        expected[w] = min(5000, expected.get(w, 0) + a * 2500 // 10000)
    return {
        "benchmark": "points_ingest",
        "database": f"PostgreSQL {connection.pg_version}",
        "residents": args.residents,
        "transactions": args.transactions,
        "setup_seconds": round(setup_seconds, 1),
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_tx_per_second": round(args.transactions / ingest_seconds),
        "copy_seconds": round(copy_seconds, 3),
        "copy_tx_per_second": round(args.transactions / copy_seconds),
        "ratio_ingest_vs_copy": round(copy_seconds / ingest_seconds, 3),
        "copy_ledger_seconds": round(copy_ledger_seconds, 3),
        "copy_ledger_tx_per_second": round(args.transactions / copy_ledger_seconds),
        "ratio_ingest_vs_copy_ledger": round(copy_ledger_seconds / ingest_seconds, 3),
        "load_average_before_after": [load_before, list(os.getloadavg())],
        "points_granted": granted,
        "ledger_equals_reference": stored == granted == sum(expected.values()),
        "rerun_points_added": stored - stored_before,
        "rerun_new_rows": rerun_new_rows,
    }


if __name__ == "__main__":
    main()
