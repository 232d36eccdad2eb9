"""Audit log throughput: one hash chain per municipality (what we built) vs one global chain (the baseline).

Every audited write locks its stream's head row until its transaction commits. With one global chain every
writer in the country queues on one row; with a chain per municipality only writers of the same municipality
do. This runs both side by side, in one run, on the same PostgreSQL server: W threads, each committing T
transactions of one audit record, spread over M municipalities (per-municipality streams) or all on the
"platform" stream (baseline). Needs PostgreSQL: set BENCH_DATABASE_URL or it uses the local server.

    .venv/bin/python bench/audit_streams.py [--writers 8] [--transactions 200] [--municipalities 8]
"""

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def setup(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ["VAULT_DATABASE_URL"] = db_url + "_vault"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run(label: str, municipalities, writers: int, transactions: int) -> dict:
    from django.db import connections, transaction

    from madoguchi.core import audit

    barrier = threading.Barrier(writers + 1)
    errors = []

    def worker(k: int) -> None:
        try:
            barrier.wait()
            for i in range(transactions):
                target = municipalities[(k + i) % len(municipalities)] if municipalities else None
                with transaction.atomic():
                    audit.record(
                        actor=None, action=f"bench.{label}", municipality=target, details={"k": k, "i": i}
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    n = writers * transactions
    return {
        "label": label,
        "records": n,
        "seconds": round(elapsed, 3),
        "records_per_second": round(n / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--transactions", type=int, default=200)
    parser.add_argument("--municipalities", type=int, default=8)
    args = parser.parse_args()

    import psycopg

    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
    name = f"madoguchi_bench_{os.getpid()}"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        for db in (name, name + "_vault"):
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        setup(f"{base}/{name}")
        from madoguchi.core import audit
        from madoguchi.core.models import Municipality
        from madoguchi.core.public_bodies import public_bodies_load

        public_bodies_load()
        municipalities = list(Municipality.objects.order_by("-population")[: args.municipalities])
        results = []
        # Alternate the two, twice, so that drift on a noisy machine hits both alike.
        for _ in range(2):
            results.append(run("one_global_chain", [], args.writers, args.transactions))
            results.append(run("chain_per_municipality", municipalities, args.writers, args.transactions))
        checked, problems = audit.verify()
        assert not problems, problems
        from django.db import connections

        connections.close_all()
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            for db in (name, name + "_vault"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def best(label):
        return max(r["records_per_second"] for r in results if r["label"] == label)

    summary = {
        "benchmark": "audit_streams",
        "writers": args.writers,
        "transactions_per_writer": args.transactions,
        "municipalities": args.municipalities,
        "runs": results,
        "best_records_per_second": {
            "one_global_chain": best("one_global_chain"),
            "chain_per_municipality": best("chain_per_municipality"),
        },
        "ratio_per_municipality_vs_global": round(
            best("chain_per_municipality") / best("one_global_chain"), 2
        ),
        "verified_records": checked,
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    (ROOT / "bench" / "results" / "audit_streams.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
