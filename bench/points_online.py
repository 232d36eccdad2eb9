"""Online grants: one transaction per HTTP request to POST /api/v1/points/transactions, load from separate client
processes on loopback; beside it `pgbench -N` on the same server in the same run (the database's own
simple-update limit on this machine).

Target (issue 4): >= 1,000 grants/s sustained with p99 <= 50 ms, and >= 0.2 of the pgbench -N TPS.

Each round serves, one after the other with the same load:
- `front`: the deployment's online-grant front, `madoguchi.conf.asgi:application` on granian's ASGI interface
  (`--front-workers` processes): one-item grants answered on the event loop with group commit
  (points/front.py, points/coalesce.py);
- `wsgi_lane`: the WSGI entry point on gunicorn sync workers (`--workers`), one transaction per request through
  the lane (the deployment before the front; group commit does not apply to single-threaded workers);
- `without_lane`: the same without the lane (every request resolved to the ninja view).
and says the CPU per request of the load generator, the server and PostgreSQL over its timed window (/proc).
Before the run every account gets one earlier grant and the database is ANALYZEd, as a database in service is.

    .venv/bin/python bench/points_online.py [--seconds 10] [--clients 28] [--front-workers 2] [--workers 4]
        [--accounts 20000] [--rounds 2] [--compare] [--only front,wsgi_lane] [--threads 8 --server granian]
    .venv/bin/python bench/points_online.py --profile-only 500   # one request path in-process: statements, CPU
"""

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import re
import signal
import socket
import subprocess
import time

from _common import (  # noqa: E402
    BASE_URL,
    ROOT,
    cpu_seconds,
    django_setup,
    enrol_accounts,
    grouped_by_library,
    per_request,
    postgres_cpu_seconds,
    server_command,
    throwaway_databases,
    wait_until_serving,
    wsgi_post,
)

PORT = 8791
ASGI_APPS = {"madoguchi.conf.asgi:application"}


def prepare(url: str, accounts: int) -> str:
    django_setup(url, migrate=True)
    from madoguchi.points import services

    provider, _campaign = enrol_accounts(accounts)
    key = services.api_key_issue(provider=provider, actor=None)
    # A history and statistics, as a database in service has them: one earlier grant of 100 yen per account, then
    # ANALYZE (autovacuum's would come only after the run). Statistics of an empty ledger make the planner read
    # the provider's whole index range for the IN (…) look-up of a batch (group commit's path) instead of
    # probing it once per id.
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    for start in range(0, accounts, 5_000):
        services.transactions_record(provider=provider, items=[
            {"id": f"history{i}", "account": f"acct{i}", "kind": "charge", "amount": 100, "occurred_at": at}
            for i in range(start, min(start + 5_000, accounts))
        ])  # fmt: skip
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return key


def client(args) -> tuple[int, list[float], float]:
    """One client: one request after another, each a new transaction id, on a kept-alive connection where the
    server keeps it (gunicorn's sync workers close it after every answer: a new connection each time, as any
    client of theirs must). HTTP/1.1 spoken directly over the socket (a prepared request head, the answer read
    by its Content-Length, chunks or the end of the connection): the standard library's http.client cost about
    three times the CPU per request, all of it on the machine under test. Every answer is checked: status 200
    and the item's own status."""
    worker, key, seconds, accounts = args
    sock = _connect()
    head = ("POST /api/v1/points/transactions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: ").encode()  # fmt: skip
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    latencies, n, granted = [], 0, 0
    cpu = time.process_time()
    deadline = time.monotonic() + seconds
    buffer = b""
    while time.monotonic() < deadline:
        body = json.dumps([{"id": f"w{worker}-{n}", "account": f"acct{(worker * 7919 + n * 104729) % accounts}",
                            "kind": "charge", "amount": 1000 + n % 5000, "occurred_at": at}]).encode()  # fmt: skip
        started = time.perf_counter()
        sock.sendall(head + str(len(body)).encode() + b"\r\n\r\n" + body)
        while b"\r\n\r\n" not in buffer:
            buffer += _recv(sock)
        header, _sep, buffer = buffer.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", header)
        if length is not None:
            while len(buffer) < int(length.group(1)):
                buffer += _recv(sock)
            payload, buffer = buffer[: int(length.group(1))], buffer[int(length.group(1)) :]
        elif re.search(rb"(?i)\r\ntransfer-encoding: *chunked", header):
            payload, buffer = _read_chunks(sock, buffer)
        else:  # to the end of the connection
            while chunk := sock.recv(65536):
                buffer += chunk
            payload, buffer = buffer, b""
        if re.search(rb"(?i)\r\nconnection: *close", header) or length is None and b"chunked" not in header:
            sock.close()
            sock, buffer = _connect(), b""
        latencies.append(time.perf_counter() - started)
        if not header.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{header[:40]!r}: {payload[:200]!r}")
        granted += json.loads(payload)["items"][0]["status"] in ("granted", "capped")
        n += 1
    sock.close()
    return granted, latencies, time.process_time() - cpu


def _connect() -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_chunks(sock, buffer: bytes) -> tuple[bytes, bytes]:
    """The body of a chunked response: (payload, what follows it)."""
    payload = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += _recv(sock)
        size_line, _sep, buffer = buffer.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        while len(buffer) < size + 2:
            buffer += _recv(sock)
        payload, buffer = payload + buffer[:size], buffer[size + 2 :]
        if size == 0:
            return payload, buffer


def _recv(sock) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise RuntimeError("the server closed the connection")
    return chunk


def profile(key: str, n: int, accounts: int) -> dict:
    """One grant per request through the project's WSGI handler (as gunicorn calls it), in this process,
    single-threaded: time and CPU per request, the statements of one request, and a cProfile (CPU) grouped by
    library. No HTTP parsing and no gunicorn; cProfile inflates the figures."""

    from madoguchi.conf.wsgi import application

    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())

    def post(i: int) -> None:
        body = json.dumps([{"id": f"p{i}", "account": f"acct{(i * 104729) % accounts}", "kind": "charge",
                            "amount": 1000 + i % 5000, "occurred_at": at}]).encode()  # fmt: skip
        payload = wsgi_post(application, "/api/v1/points/transactions", body, expect="200",
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        if b'"granted"' not in payload:
            raise RuntimeError(f"unexpected answer: {payload[:300]!r}")

    whole_ms, whole_cpu_ms, statements = per_request(post, n, warmup=50)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for i in range(n):
        post(100_000 + i)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(r"madoguchi|ninja|handlers|middleware", 40)
    return {
        "requests": n,
        "whole_request_ms": round(whole_ms, 3),
        "whole_request_cpu_ms": round(whole_cpu_ms, 3),
        "statements_per_request": len(statements),
        "request_statements": statements + ["(and BEGIN / COMMIT, which psycopg sends itself)"],
        "cpu_ms_by_library": {k: round(v / n * 1000, 3) for k, v in grouped_by_library(stats).items()},
        "cprofile": stream.getvalue(),
    }


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


_general = None


def general_application(environ, start_response):
    """The server of `--compare`: the same application with the one-item path of transactions_record off (every
    request takes the general row-by-row path: known-id SELECT, lock, INSERT, UPDATE)."""
    global _general
    if _general is None:
        from madoguchi.conf.wsgi import application
        from madoguchi.points import services

        services.ONE_ITEM_FAST_PATH = False
        _general = application
    return _general(environ, start_response)


_router_only = None


def router_application(environ, start_response):
    """The server of the lane's baseline: the same entry point without the online grant's lane
    (points.api.transactions_lane), so every request is resolved to the ninja view as before it."""
    global _router_only
    if _router_only is None:
        import madoguchi.conf.wsgi  # noqa: F401  (sets Django up)
        from madoguchi.core.handlers import Dispatcher

        _router_only = Dispatcher()
    return _router_only(environ, start_response)


_uncoalesced = None


def uncoalesced_application(environ, start_response):
    """The deployment's entry point with group commit off (points/coalesce.py): every one-item request records
    its own transaction, as before group commit."""
    global _uncoalesced
    if _uncoalesced is None:
        from django.conf import settings

        from madoguchi.conf.wsgi import application

        settings.POINTS_GRANT_COALESCING = False
        _uncoalesced = application
    return _uncoalesced(environ, start_response)


def _uptime() -> str:
    """Load averages (1, 5, 15 min) now, in UTC (Django sets TZ for this process)."""
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return f"{time.strftime('%H:%M:%S', time.gmtime())} UTC load average {load}"


def measure(app: str, key: str, args, offset: int) -> dict:
    """Serve `app` with `args.server` (gunicorn: sync workers), warm up 2 s, then `args.clients` client processes for
    `args.seconds`; the server is stopped after."""
    env = {**os.environ, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'bench'}", "DATABASE_CONN_MAX_AGE": "600"}  # fmt: skip
    threads = args.threads
    if app in ASGI_APPS:  # the online grant's ASGI front, on granian's ASGI interface
        command = server_command(app, PORT, server="granian", interface="asgi", workers=args.front_workers)
        env.pop("DATABASE_CONN_MAX_AGE")  # as deployed: no kept connections for Django's per-request threads
    else:
        command = server_command(app, PORT, server=args.server, workers=args.workers, threads=threads,
                                 worker_class="gthread" if threads > 1 else "sync")  # fmt: skip
    server = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
    try:
        if not wait_until_serving(PORT):
            raise RuntimeError(f"{args.server} did not come up")
        with multiprocessing.Pool(args.clients) as pool:
            warm = [(offset + 50 + w, key, 2, args.accounts) for w in range(args.clients)]
            pool.map(client, warm)
            # CPU over the timed window, from /proc: the server's process group, every postgres process (other
            # work on the host included); the clients report their own.
            server_cpu = lambda: cpu_seconds(lambda name, f: f[2] == str(server.pid))  # noqa: E731
            before = server_cpu(), postgres_cpu_seconds()
            started = time.monotonic()
            outcomes = pool.map(
                client, [(offset + w, key, args.seconds, args.accounts) for w in range(args.clients)]
            )
            elapsed = time.monotonic() - started
            after = server_cpu(), postgres_cpu_seconds()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    latencies = sorted(x for _, lat, _ in outcomes for x in lat)
    grants = sum(g for g, _, _ in outcomes)
    per = 1000 / max(len(latencies), 1)
    cpu_ms = {"load_generator": sum(c for _, _, c in outcomes) * per, "server": (after[0] - before[0]) * per,
              "postgresql": (after[1] - before[1]) * per}  # fmt: skip
    cpu_ms["total"] = sum(cpu_ms.values())
    return {
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "grants": grants,
        "grants_per_second": round(grants / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "cpu_ms_per_request": {k: round(v, 2) for k, v in cpu_ms.items()},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=28)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--profile-only", type=int, default=0, metavar="N",
                        help="only profile N requests in-process (statements, CPU by library); no file written")  # fmt: skip
    parser.add_argument("--compare", action="store_true",
                        help="also serve with the one-item path of transactions_record off, rounds alternating")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per server process (gunicorn: gthread workers when > 1)",
    )
    parser.add_argument(
        "--front-workers",
        type=int,
        default=2,
        help="granian processes serving the ASGI front (points/front.py)",
    )
    parser.add_argument("--only", default="", help="comma-separated paths to serve (default: all)")
    parser.add_argument("--server", choices=["gunicorn", "granian"], default="gunicorn",
                        help="the WSGI server: gunicorn sync workers (the deployment's) or granian")  # fmt: skip
    args = parser.parse_args()
    base = BASE_URL
    uptime_before = _uptime()
    if args.profile_only:
        with throwaway_databases("online") as url:
            key = prepare(url, args.accounts)
            found = profile(key, args.profile_only, args.accounts)
        print(found.pop("cprofile"))
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return
    # Every round serves the front and, after it, the WSGI entry point with and without the lane.
    paths = ["front", "wsgi_lane", "without_lane"] + (["general_path"] if args.compare else [])
    if args.only:  # exploring: print the runs, write nothing
        paths = args.only.split(",")
    apps = {"front": "madoguchi.conf.asgi:application", "wsgi_lane": "madoguchi.conf.wsgi:application",
            "without_lane": "points_online:router_application",
            "without_coalescing": "points_online:uncoalesced_application",
            "general_path": "points_online:general_application"}  # fmt: skip
    runs: dict[str, list[dict]] = {p: [] for p in paths}
    with throwaway_databases("online") as url:
        key = prepare(url, args.accounts)
        from django.db import connections

        connections.close_all()
        for r in range(args.rounds):
            for path in paths:
                runs[path].append(
                    measure(apps[path], key, args, offset=100 * (len(paths) * r + paths.index(path)))
                )
    if args.only:
        print(json.dumps(runs, indent=2))
        return
    tps = pgbench(base, args.seconds, args.clients)
    best = {p: max(rs, key=lambda x: x["grants_per_second"]) for p, rs in runs.items()}
    met = [
        run for run in runs["front"]
        if run["grants_per_second"] >= 1000 and run["p99_ms"] <= 50 and run["grants_per_second"] >= 0.2 * tps
    ]  # fmt: skip
    result = {
        "benchmark": "points_online",
        "front": f"granian ASGI, {args.front_workers} processes",
        "baseline_server": f"{args.server} ({args.workers} workers)",
        "client_processes": args.clients,
        **best["front"],
        "pgbench_N_tps": tps,
        "ratio_vs_pgbench": round(best["front"]["grants_per_second"] / tps, 3),
        "target_met_in_rounds": f"{len(met)} of {len(runs['front'])}",
        "uptime_before": uptime_before,
        "uptime_after": _uptime(),
        "wsgi_lane_best": best["wsgi_lane"],
        "without_lane_best": best["without_lane"],
        "runs": runs,
    }
    if args.compare:
        result["general_path_best"] = best["general_path"]
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results" / "points_online.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
