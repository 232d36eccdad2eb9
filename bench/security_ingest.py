"""Squid access.log parsing and detection (security monitoring, issue 8) vs baselines in the same run.

Generates N lines of native-format Squid log (random traffic from 2,000 clients to 5,000 hosts, with planted
beaconing, executable downloads, blocklisted domains and malformed lines), then times, best of R runs:

- baseline `count`: counting the lines in Python (the floor: touching every line once);
- baseline `regex`: the naive per-line regular-expression parser producing the same columns;
- `polars`: a vectorised alternative (one regex over a polars Series, then casts);
- `parse`: `monitoring.parse_squid` (the built parser);
- `detect`: `monitoring.detect_proxy` (beaconing, executables, 10,000-domain blocklist) on the parsed log;
- `file`: reading the file in 200,000-line chunks and parsing them, as `ingest_proxy_log` does.

The planted findings are checked, so a fast wrong answer cannot pass. Target: >= 100,000 lines/s.

    .venv/bin/python bench/security_ingest.py [--lines 1000000] [--repeat 3]
"""

import argparse
import itertools
import json
import platform
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from madoguchi.security.monitoring import ProxyLog, detect_proxy, parse_squid, url_host  # noqa: E402

T0 = 1_795_000_000.0
NAIVE = re.compile(
    r"^(?P<time>\d+(?:\.\d+)?)\s+(?P<elapsed>-?\d+)\s+(?P<client>\S+)\s+(?P<action>[^/\s]+)/(?P<code>\d+)\s+"
    r"(?P<size>\d+)\s+(?P<method>\S+)\s+(?P<url>\S+)\s+(?P<user>\S+)\s+(?P<hier>\S+)\s+(?P<ctype>\S+)"
)


def generate(n: int, seed: int = 42) -> list[str]:
    rng = random.Random(seed)
    hosts = [f"www{i}.site{i % 977}.example.jp" for i in range(5000)]
    paths = ["/", "/index.html", "/img/a.png", "/api/v1/items?id=3", "/css/site.css", "/news/2026/11.html"]
    types = ["text/html", "image/png", "application/json", "text/css", "-"]
    lines = []
    t = T0
    for i in range(n):
        t += rng.expovariate(n / 86_400)
        host = hosts[int(rng.paretovariate(1.2)) % len(hosts)]
        client = f"10.{rng.randint(0, 7)}.{rng.randint(0, 15)}.{rng.randint(1, 16)}"
        lines.append(
            f"{t:.3f} {rng.randint(1, 5000):6d} {client} TCP_MISS/200 {rng.randint(200, 90000)} GET "
            f"http://{host}{rng.choice(paths)} - HIER_DIRECT/203.0.113.{i % 250} {rng.choice(types)}"
        )
    # Planted: a beacon every 300 s ± 2 s for a day, downloads, blocklisted hosts, malformed lines.
    for k in range(288):
        lines.append(
            f"{T0 + k * 300 + rng.uniform(-2, 2):.3f}     40 10.9.9.9 TCP_MISS/200 312 GET "
            "http://c2.evil.example/beacon - HIER_DIRECT/198.51.100.7 text/plain"
        )
    for k in range(50):
        lines.append(
            f"{T0 + rng.uniform(0, 86_400):.3f}    500 10.1.1.{k % 5 + 1} TCP_MISS/200 800000 GET "
            f"http://dl.example.net/tools/setup{k}.exe - HIER_DIRECT/198.51.100.8 application/x-msdownload"
        )
        lines.append(
            f"{T0 + rng.uniform(0, 86_400):.3f}     30 10.1.2.{k % 3 + 1} TCP_TUNNEL/200 4000 CONNECT "
            f"login{k % 4}.phish.example:443 - HIER_DIRECT/198.51.100.9 -"
        )
        lines.append(f"garbage line {k}")
    rng.shuffle(lines)
    return lines


def count_lines(lines):
    return sum(1 for _ in lines)


def naive_regex(lines):
    log = ProxyLog()
    for line in lines:
        m = NAIVE.match(line)
        if m is None:
            log.malformed += 1
            continue
        log.time.append(float(m["time"]))
        log.client.append(m["client"])
        log.action.append(m["action"])
        log.status.append(int(m["code"]))
        log.size.append(int(m["size"]))
        log.method.append(m["method"])
        log.url.append(m["url"])
        log.host.append(url_host(m["url"]))
        log.content_type.append(m["ctype"].lower())
    return log


def polars_parse(lines):
    import polars as pl

    frame = (
        pl.Series("line", lines)
        .str.extract_groups(NAIVE.pattern)
        .struct.unnest()
        .with_columns(
            pl.col("time").cast(pl.Float64, strict=False),
            pl.col("code").cast(pl.Int32, strict=False),
            pl.col("size").cast(pl.Int64, strict=False),
            pl.col("url")
            .str.extract(r"^(?:[a-z]+://)?(?:[^@/]*@)?([^/:?#]+)", 1)
            .str.to_lowercase()
            .alias("host"),
        )
    )
    return frame.filter(pl.col("time").is_not_null())


def best_of(repeat, fn, *args):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def parse_file(path: Path) -> ProxyLog:
    log = ProxyLog()
    with path.open(encoding="utf-8", errors="replace") as fh:
        start = 1
        while chunk := list(itertools.islice(fh, 200_000)):
            parse_squid(chunk, start_line=start, into=log)
            start += len(chunk)
    return log


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = generate(args.lines)
    n = len(lines)
    blocklist = frozenset({f"bad{i}.example.org" for i in range(10_000)} | {"phish.example"})

    t_count, counted = best_of(args.repeat, count_lines, lines)
    t_regex, regex_log = best_of(args.repeat, naive_regex, lines)
    t_polars, frame = best_of(args.repeat, polars_parse, lines)
    t_parse, log = best_of(args.repeat, parse_squid, lines)
    t_detect, findings = best_of(args.repeat, lambda: detect_proxy(log, blocklist=blocklist))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        t_file, file_log = best_of(args.repeat, parse_file, path)

    assert counted == n and log.lines == n and log.malformed == 50 and len(log) == n - 50
    assert regex_log.malformed == 50 and regex_log.host == log.host and regex_log.time == log.time
    assert frame.height == n - 50 and frame["host"].to_list() == log.host
    assert len(file_log) == len(log) and file_log.malformed == 50
    got = {(f.rule, f.subject_host) for f in findings}
    assert {h for r, h in got if r == "beaconing"} == {"c2.evil.example"}
    assert ("executable_download", "dl.example.net") in got
    assert {h for r, h in got if r == "blocklisted_domain"} == {f"login{k}.phish.example" for k in range(4)}
    beacons = [f for f in findings if f.rule == "beaconing"]

    def rate(seconds):
        return round(n / seconds)

    result = {
        "benchmark": "security_ingest",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "lines": n,
        "repeat_best_of": args.repeat,
        "lines_per_s": {
            "baseline_count": rate(t_count),
            "baseline_naive_regex_parse": rate(t_regex),
            "polars_regex_parse": rate(t_polars),
            "parse": rate(t_parse),
            "detect": rate(t_detect),
            "parse_plus_detect": rate(t_parse + t_detect),
            "file_read_plus_parse": rate(t_file),
        },
        "seconds": {
            "baseline_count": round(t_count, 3),
            "baseline_naive_regex_parse": round(t_regex, 3),
            "polars_regex_parse": round(t_polars, 3),
            "parse": round(t_parse, 3),
            "detect": round(t_detect, 3),
            "file_read_plus_parse": round(t_file, 3),
        },
        "parse_vs_naive_regex": round(t_regex / t_parse, 2),
        "findings": {
            "total": len(findings),
            "by_rule": {
                r: sum(1 for f in findings if f.rule == r) for r in sorted({f.rule for f in findings})
            },
            "beaconing_hosts": sorted(f.subject_host for f in beacons),
        },
        "target_lines_per_s": 100_000,
        "target_met": n / (t_parse + t_detect) >= 100_000,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    out = ROOT / "bench" / "results" / "security_ingest.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
