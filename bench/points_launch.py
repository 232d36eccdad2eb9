"""Launch rush: many residents applying at once, every one twice (a double click, a retry), each application
confirmed by the provider over HTTP (the sandbox provider served by gunicorn on loopback), on PostgreSQL.

Measures accepted applications per second and proves zero duplicates: the database's UNIQUE constraints
must turn every second attempt into a refusal. Beside it, in the same run, the same number of bare
INSERTs into the application table from the same processes — what the database alone costs. The client
processes start and set Django up before the clock starts (a barrier); the timed window is the applications.
The clients run with DEBUG off, as a deployment does. Beside the throughput, the CPU spent per accepted
application over the timed window (both attempts of a resident): the clients' own, the provider's server's
(its process group) and PostgreSQL's (every `postgres` process on the host, other work included), from /proc —
on a shared host the throughput moves with the neighbours' load, what one application costs much less.
Target (issue 4): >= 500 applications/s sustained with zero duplicates.

    .venv/bin/python bench/points_launch.py [--residents 4000] [--processes 8] [--workers 4]
"""

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import time

from _common import (  # noqa: E402
    ROOT,
    cpu_seconds,
    django_setup,
    postgres_cpu_seconds,
    server_command,
    throwaway_databases,
    wait_until_serving,
)

PORT = 8792


def prepare(residents: int) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from madoguchi.identity.models import Resident, User
    from madoguchi.points.models import Campaign, PaymentProvider, Reservation
    from madoguchi.sandboxpay.models import SandboxAccount

    call_command("migrate", verbosity=0)
    now = timezone.now()
    provider = PaymentProvider.objects.create(
        code="bench", name="bench", type="qr", modes=["charge"], callback_secret="bench-secret",  # noqa: S106
        callback_url=f"http://127.0.0.1:{PORT}/sandbox-pay/bench/confirm",
    )  # fmt: skip
    campaign = Campaign.objects.create(
        code="bench", name="bench", kind="premium", rate_bp=2500, cap=5000, modes=["charge"],
        budget=5000 * residents * 2, reservations=residents,
        reservation_starts_at=now - timedelta(days=1), reservation_ends_at=now + timedelta(days=1),
        application_starts_at=now - timedelta(days=1), application_ends_at=now + timedelta(days=1),
        earning_starts_at=now - timedelta(days=1), earning_ends_at=now + timedelta(days=1),
    )  # fmt: skip
    campaign.providers.add(provider)
    users = User.objects.bulk_create(
        [User(username=f"r{i}", password="!") for i in range(residents)],  # noqa: S106  (unusable)
        batch_size=5000,
    )
    people = Resident.objects.bulk_create(
        [Resident(user=u, mykey_id=f"B{i:07d}") for i, u in enumerate(users)], batch_size=5000
    )
    Reservation.objects.bulk_create(
        [Reservation(campaign=campaign, resident=r) for r in people], batch_size=5000
    )
    SandboxAccount.objects.bulk_create(
        [
            SandboxAccount(provider_code="bench", account=f"acct{i}", security_code="123")
            for i in range(residents)
        ],
        batch_size=5000,
    )


_WORLD: dict = {}


def ready(url: str, barrier) -> None:
    """Pool initializer, before the timed window: Django set up, the campaign and the provider loaded, one
    connection open; then wait until every process is ready."""
    django_setup(url)
    from madoguchi.points.models import Campaign, PaymentProvider

    _WORLD["campaign"] = Campaign.objects.get(code="bench")
    _WORLD["provider"] = PaymentProvider.objects.get(code="bench")
    barrier.wait()


def apply_all(indices: list[int]) -> dict:
    """Each resident's application as the application page makes it: the signed-in resident loaded, then
    `application_submit` (checks, the provider's confirmation over HTTP, the transaction)."""
    from madoguchi.identity.models import Resident
    from madoguchi.points import services

    campaign, provider = _WORLD["campaign"], _WORLD["provider"]
    outcome: dict[str, int] = {}
    cpu = time.process_time()
    for i in indices:
        resident = Resident.objects.get(mykey_id=f"B{i:07d}")
        request = services.ApplicationRequest(provider, "charge", f"acct{i}", f"acct{i}", "123")
        try:
            services.application_submit(resident=resident, campaign=campaign, request=request, actor=None)
            outcome["accepted"] = outcome.get("accepted", 0) + 1
        except services.PointsError as exc:
            outcome[exc.code] = outcome.get(exc.code, 0) + 1
    outcome[_CPU] = round((time.process_time() - cpu) * 1e6)
    return outcome


_CPU = "_cpu_us"  # the CPU a client process spent on its share, beside its outcomes


def bare_inserts(args) -> None:
    url, indices = args
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for i in indices:
            conn.execute("INSERT INTO bench_apps (resident, account) VALUES (%s, %s)", (i, f"acct{i}"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--residents", type=int, default=4000)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    import psycopg

    # The client processes run as a deployment does: DEBUG off. With DEBUG on, Django's debug cursor renders
    # and keeps every statement's SQL (about a quarter of a client's CPU per application, none of it the
    # product's work). The spawned processes inherit this environment.
    os.environ["DEBUG"] = "false"
    server = None
    with throwaway_databases("launch") as url:
        try:
            django_setup(url)
            prepare(args.residents)
            from django.db import connections

            connections.close_all()
            env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
                   "PYTHONPATH": str(ROOT / "src"), "DATABASE_CONN_MAX_AGE": "600"}  # fmt: skip
            command = server_command("madoguchi.conf.wsgi:application", PORT, workers=args.workers)
            server = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
            if not wait_until_serving(PORT):
                raise RuntimeError("the provider's server did not come up")
            # Every resident twice, the two attempts in different processes at about the same time.
            order = list(range(args.residents))
            chunks = [order[k :: args.processes] for k in range(args.processes)]
            twice = chunks + [list(reversed(c)) for c in chunks[1:] + chunks[:1]]
            ctx = multiprocessing.get_context("spawn")
            # Process start-up and Django set-up happen before the clock starts (they were inside the timed
            # window before): every process signals ready on the barrier, then all the work is handed out.
            barrier = ctx.Barrier(len(twice) + 1)
            # CPU per application, read from /proc over the timed window: the provider's server (its process
            # group) and PostgreSQL (every `postgres` process); the clients report their own. On a shared host
            # these say what the throughput cannot: what one application costs.
            provider_cpu = lambda: cpu_seconds(lambda name, f: f[2] == str(server.pid))  # noqa: E731
            postgres_cpu = postgres_cpu_seconds
            load_before = os.getloadavg()[0]
            with ctx.Pool(len(twice), initializer=ready, initargs=(url, barrier)) as pool:
                barrier.wait(timeout=300)
                cpu_before = provider_cpu(), postgres_cpu()
                started = time.monotonic()
                outcomes = pool.map(apply_all, twice, chunksize=1)
                elapsed = time.monotonic() - started
                cpu_after = provider_cpu(), postgres_cpu()
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "CREATE TABLE bench_apps (id bigserial primary key, resident bigint unique, account text)"
                )
            with ctx.Pool(args.processes) as pool:
                started = time.monotonic()
                pool.map(bare_inserts, [(url, c) for c in chunks])
                insert_seconds = time.monotonic() - started
            with psycopg.connect(url, autocommit=True) as conn:
                stored = conn.execute("SELECT count(*), count(DISTINCT resident_id), count(DISTINCT service_account) "
                                      "FROM points_application").fetchone()  # fmt: skip
                reserved = conn.execute(
                    "SELECT reserved_budget FROM points_campaign WHERE code = 'bench'"
                ).fetchone()[0]
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=20)
    totals: dict[str, int] = {}
    for outcome in outcomes:
        for key, n in outcome.items():
            totals[key] = totals.get(key, 0) + n
    accepted = max(totals.get("accepted", 0), 1)
    cpu_ms = {"clients": totals.pop(_CPU) / 1000 / accepted,
              "provider_server": (cpu_after[0] - cpu_before[0]) * 1000 / accepted,
              "postgresql": (cpu_after[1] - cpu_before[1]) * 1000 / accepted}  # fmt: skip
    cpu_ms["total"] = sum(cpu_ms.values())
    result = {
        "benchmark": "points_launch",
        "residents": args.residents,
        "attempts": 2 * args.residents,
        "processes": len(twice),
        "gunicorn_workers_for_the_provider_callback": args.workers,
        "seconds": round(elapsed, 2),
        "outcomes": totals,
        "accepted_per_second": round(totals.get("accepted", 0) / elapsed, 1),
        "attempts_per_second": round(2 * args.residents / elapsed, 1),
        "bare_insert_per_second": round(args.residents / insert_seconds, 1),
        "applications_stored": stored[0],
        "distinct_residents": stored[1],
        "distinct_accounts": stored[2],
        "duplicates": stored[0] - stored[1],
        "reserved_budget_matches": reserved == 5000 * stored[0],
        # Both attempts of a resident counted against its one accepted application.
        "cpu_ms_per_accepted_application": {k: round(v, 2) for k, v in cpu_ms.items()},
        "accepted_per_second_if_cpu_bound": round(os.cpu_count() * 1000 / cpu_ms["total"], 1),
        "cores": os.cpu_count(),
        "load_average_before": round(load_before, 2),
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "points_launch.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
