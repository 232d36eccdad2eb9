"""Online grants: one transaction per HTTP request to POST /api/v1/points/transactions, served by gunicorn on
loopback, load from separate client processes; beside it `pgbench -N` on the same server in the same run
(the database's own simple-update limit on this machine).

Target (issue 4): >= 1,000 grants/s sustained with p99 <= 50 ms, and >= 0.2 of the pgbench -N TPS.

    .venv/bin/python bench/points_online.py [--seconds 15] [--clients 8] [--workers 4] [--accounts 20000]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time

from _common import BASE_URL, ROOT, django_setup, enrol_accounts, throwaway_databases  # noqa: E402

PORT = 8791


def prepare(url: str, accounts: int) -> str:
    django_setup(url, migrate=True)
    from madoguchi.points import services

    provider, _campaign = enrol_accounts(accounts)
    return services.api_key_issue(provider=provider, actor=None)


def client(args) -> tuple[int, list[float]]:
    worker, key, seconds, accounts = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    latencies, n, granted = [], 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = json.dumps([{"id": f"w{worker}-{n}", "account": f"acct{(worker * 7919 + n * 104729) % accounts}",
                            "kind": "charge", "amount": 1000 + n % 5000, "occurred_at": at}])  # fmt: skip
        started = time.perf_counter()
        conn.request("POST", "/api/v1/points/transactions", body, headers)
        response = conn.getresponse()
        payload = response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
        granted += json.loads(payload)["items"][0]["status"] in ("granted", "capped")
        n += 1
    return granted, latencies


def pgbench(base: str, seconds: int, clients: int) -> float:
    db = f"madoguchi_pgbench_{os.getpid()}"
    subprocess.run(["psql", base + "/postgres", "-qc", f'CREATE DATABASE "{db}"'], check=True)  # noqa: S603, S607
    try:
        subprocess.run(["pgbench", "-q", "-i", "-s", "10", base + "/" + db], check=True, capture_output=True)  # noqa: S603, S607
        out = subprocess.run(["pgbench", "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), base + "/" + db],  # noqa: S603, S607
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        return float(re.search(r"tps = ([0-9.]+)", out).group(1))
    finally:
        drop = ["psql", base + "/postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)']
        subprocess.run(drop, check=False)  # noqa: S603, S607


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=20_000)
    args = parser.parse_args()
    base = BASE_URL
    server = None
    with throwaway_databases("online") as url:
        try:
            key = prepare(url, args.accounts)
            from django.db import connections

            connections.close_all()
            env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
                   "PYTHONPATH": str(ROOT / "src"), "DATABASE_CONN_MAX_AGE": "600"}  # fmt: skip
            server = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "gunicorn", "madoguchi.conf.wsgi:application", "-b", f"127.0.0.1:{PORT}",
                 "-w", str(args.workers), "--log-level", "warning"], env=env, start_new_session=True)  # fmt: skip
            for _ in range(100):
                try:
                    http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/healthz")
                    break
                except OSError:
                    time.sleep(0.2)
            with multiprocessing.Pool(args.clients) as pool:
                pool.map(client, [(w + 1000, key, 2, args.accounts) for w in range(args.clients)])  # warm-up
                started = time.monotonic()
                outcomes = pool.map(
                    client, [(w, key, args.seconds, args.accounts) for w in range(args.clients)]
                )
                elapsed = time.monotonic() - started
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=20)
    tps = pgbench(base, args.seconds, args.clients)
    latencies = sorted(x for _, lat in outcomes for x in lat)
    requests_done = len(latencies)
    grants = sum(g for g, _ in outcomes)
    result = {
        "benchmark": "points_online",
        "gunicorn_workers": args.workers,
        "client_processes": args.clients,
        "seconds": round(elapsed, 1),
        "requests": requests_done,
        "grants": grants,
        "grants_per_second": round(grants / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "pgbench_N_tps": tps,
        "ratio_vs_pgbench": round(grants / elapsed / tps, 3),
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "points_online.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
