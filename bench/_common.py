"""What the PostgreSQL benchmarks share: a throwaway database pair, Django set up on it, enrolled accounts, and
the HTTP server (gunicorn or granian) started on loopback."""

import contextlib
import http.client
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")


def django_setup(url: str, *, migrate: bool = False) -> None:
    """Point Django at `url` (and `url`_vault) and set it up; optionally migrate."""
    os.environ["DATABASE_URL"] = url
    os.environ["VAULT_DATABASE_URL"] = url + "_vault"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def server_command(
    app: str, port: int, *, server: str = "gunicorn", worker_class: str = "sync", workers: int = 4,
    threads: int = 1, factory: bool = False, backlog: int | None = None, interface: str = "wsgi",
) -> list[str]:  # fmt: skip
    """The command serving WSGI `app` ("module:name"; with `factory`, a function returning the application) on
    127.0.0.1:`port`: gunicorn (`worker_class` sync or gthread, `threads` per gthread worker) or granian (the Rust
    HTTP server's WSGI interface, `threads` blocking Python threads per worker; `interface="asgi"`: its ASGI
    interface, `app` an ASGI application)."""
    if server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", interface, *(["--factory"] if factory else []),
                   app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--blocking-threads", str(threads), "--log-level", "warning", "--no-ws"]  # fmt: skip
    else:
        command = [sys.executable, "-m", "gunicorn", app + ("()" if factory else ""), "-b", f"127.0.0.1:{port}",
                   "-w", str(workers), "-k", worker_class, "--log-level", "warning"]  # fmt: skip
        if worker_class == "gthread":
            command += ["--threads", str(threads)]
    return command + (["--backlog", str(backlog)] if backlog else [])


def wait_until_serving(port: int, attempts: int = 150) -> bool:
    """Poll GET /healthz on 127.0.0.1:`port` every 0.2 s until it answers 200; False if it never does."""
    for _ in range(attempts):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def throwaway_databases(tag: str):
    """Create `madoguchi_bench_<tag>_<pid>` and its `_vault` twin, yield the main URL, drop both after."""
    import psycopg

    name = f"madoguchi_bench_{tag}_{os.getpid()}"
    with psycopg.connect(BASE_URL + "/postgres", autocommit=True) as conn:
        for db in (name, name + "_vault"):
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"{BASE_URL}/{name}"
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(BASE_URL + "/postgres", autocommit=True) as conn:
            for db in (name, name + "_vault"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def enrol_accounts(n: int):
    """A provider, a premium campaign open now and n residents applied with accounts acct0 … acct{n-1}."""
    from datetime import timedelta

    from django.utils import timezone

    from madoguchi.identity.models import Resident, User
    from madoguchi.points.models import Application, Campaign, PaymentProvider, PointAccount

    now = timezone.now()
    provider = PaymentProvider.objects.create(code="bench", name="bench", type="qr", modes=["charge"],
                                              callback_url="http://127.0.0.1/")  # fmt: skip
    campaign = Campaign.objects.create(
        code="bench", name="bench", kind="premium", rate_bp=2500, cap=5000, modes=["charge"],
        budget=5000 * n, reservations=n, reserved_budget=5000 * n,
        application_starts_at=now - timedelta(days=1), application_ends_at=now + timedelta(days=1),
        earning_starts_at=now - timedelta(days=1), earning_ends_at=now + timedelta(days=1),
    )  # fmt: skip
    campaign.providers.add(provider)
    users = User.objects.bulk_create(
        [User(username=f"r{i}", password="!") for i in range(n)],  # noqa: S106  (unusable)
        batch_size=5000,
    )
    residents = Resident.objects.bulk_create([Resident(user=u) for u in users], batch_size=5000)
    apps = Application.objects.bulk_create(
        [Application(campaign=campaign, resident=r, provider=provider, mode="charge", service_account=f"acct{i}")
         for i, r in enumerate(residents)], batch_size=5000)  # fmt: skip
    # Enrolled when earning starts: the benchmarks' spending (dated from `now` on) all falls after enrolment.
    PointAccount.objects.bulk_create(
        [PointAccount(application=a, campaign=campaign, provider=provider, service_account=a.service_account,
                      mode="charge", cap=5000, enrolled_at=campaign.earning_starts_at) for a in apps],
        batch_size=5000)  # fmt: skip
    return provider, campaign


def wsgi_post(application, path: str, body: bytes, *, expect: str, headers: dict | None = None) -> bytes:
    """POST `body` (JSON) to `path` through a WSGI application in this process, as gunicorn would call it (no HTTP
    parsing, no socket); raises unless the status starts with `expect`. Returns the response body."""
    import io

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
               "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
               "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
               **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}}  # fmt: skip
    status: list[str] = []
    response = application(environ, lambda s, h, exc_info=None: status.append(s))
    payload = b"".join(response)
    response.close()
    if not status[0].startswith(expect):
        raise RuntimeError(f"{status[0]}: {payload[:300]!r}")
    return payload


def per_request(post, n: int, *, warmup: int) -> tuple[float, float, list[str]]:
    """Call `post(i)` `warmup` times, then `n` times timed: (wall ms, CPU ms) per call, and the SQL statements one
    more call sends (first 160 characters each)."""
    import time

    from django.db import connection

    for i in range(warmup):
        post(-100 - i)
    started, cpu0 = time.perf_counter(), time.process_time()
    for i in range(n):
        post(i)
    wall_ms = (time.perf_counter() - started) / n * 1000
    cpu_ms = (time.process_time() - cpu0) / n * 1000
    statements: list[str] = []

    def log(execute, sql, params, many, context):
        statements.append(sql[:160])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(log):
        post(-1)
    return wall_ms, cpu_ms, statements


PROFILE_GROUPS = [("psycopg", "psycopg"), ("django/db/", "django ORM and db backend"), ("pydantic", "pydantic"),
                  ("/ninja/", "ninja"), ("/django/", "django (handler, middleware, urls, http)"),
                  ("/src/madoguchi/", "madoguchi"), ("/whitenoise/", "whitenoise"), ("/django_otp/", "django_otp")]  # fmt: skip


def grouped_by_library(stats) -> dict[str, float]:
    """A cProfile's own time (tottime) per library (PROFILE_GROUPS), in seconds, largest first."""
    import collections

    total: dict[str, float] = collections.defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        group = next((label for part, label in PROFILE_GROUPS if part in filename), None)
        if group is None:
            group = "built-ins (C)" if filename == "~" else "python stdlib"
        total[group] += tottime
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


def cpu_seconds(select) -> float:
    """User + system CPU so far of every process whose /proc stat fields (after the command name) `select`
    accepts: [state, ppid, pgrp, …]."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                head, _, rest = f.read().rpartition(")")
        except OSError:  # gone meanwhile
            continue
        fields = rest.split()
        if select(head.partition("(")[2], fields):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU so far of every `postgres` process on the host (other databases' work included)."""
    return cpu_seconds(lambda name, fields: name == "postgres")
