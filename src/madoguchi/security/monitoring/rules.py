"""Detection rules over a parsed proxy log and the platform's own security events.

Each rule returns `Finding`s: what was seen, how often, when, and why it matters — Japanese first — so that
a specialist at the prefecture's security cloud can act on the alert without reading this code. Evidence is
aggregate only (counts, intervals, file names without query strings): client addresses and user names live in
`subject_client` alone, which is never exported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from madoguchi.security.monitoring.squid import ProxyLog

BEACONING = "beaconing"
EXECUTABLE_DOWNLOAD = "executable_download"
BLOCKLISTED_DOMAIN = "blocklisted_domain"
SIGN_IN_BURST = "sign_in_burst"
QUARANTINED_FILE = "quarantined_file"

DEFAULT_EXECUTABLE_EXTENSIONS = frozenset(
    {".exe", ".dll", ".scr", ".ps1", ".bat", ".cmd", ".msi", ".js", ".vbs", ".hta", ".jar", ".lnk"}
)
EXECUTABLE_CONTENT_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-dosexec",
        "application/x-executable",
        "application/vnd.microsoft.portable-executable",
        "application/x-msi",
        "application/x-ms-installer",
        "application/hta",
        "application/x-bat",
        "application/x-sh",
        "application/java-archive",
        "text/vbscript",
    }
)
SIGN_IN_FAILURE_ACTIONS = frozenset(
    {"identity.sign_in_failed", "identity.mfa_failed", "identity.jpki_refused"}
)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # low | medium | high | critical
    subject_host: str
    subject_client: str  # who/what inside the municipality: kept locally, never exported
    first_seen: float  # Unix time
    last_seen: float
    count: int
    explanation_ja: str
    explanation_en: str
    evidence: dict[str, Any] = field(default_factory=dict)


def _codes(values: list[str]) -> np.ndarray:
    """An integer code per value (equal values, equal codes)."""
    return pl.Series(values, dtype=pl.Categorical).to_physical().to_numpy().astype(np.int64)


# --- Beaconing ----------------------------------------------------------------------------------------------
def detect_beaconing(
    log: ProxyLog, *, min_requests: int = 10, max_cv: float = 0.1, min_interval: float = 1.0
) -> list[Finding]:
    """Many requests from one client to one host at nearly constant intervals (malware calling home).

    Fires when a (client, host) pair has at least `min_requests` requests and the coefficient of variation
    (standard deviation / mean) of the intervals between them is below `max_cv`. Intervals shorter than
    `min_interval` seconds on average are page loads, not beacons, and are ignored.
    """
    # Vectorised: code clients and hosts as integers (polars categoricals: a dict loop in Python cost 4× more),
    # sort by (pair, time), and get every pair's interval mean and spread from one diff and two bincounts.
    if not len(log):
        return []
    client_codes = _codes(log.client)
    host_codes = _codes(log.host)
    keys = client_codes * (int(host_codes.max()) + 1) + host_codes
    times = np.asarray(log.time, dtype=np.float64)
    order = np.lexsort((times, keys))
    keys, times = keys[order], times[order]
    boundary = np.empty(len(keys), dtype=bool)
    boundary[0] = True
    np.not_equal(keys[1:], keys[:-1], out=boundary[1:])
    ids = np.cumsum(boundary) - 1  # pair number, 0 … pairs-1, in sorted order
    n_pairs = int(ids[-1]) + 1
    starts = np.flatnonzero(boundary)
    counts = np.bincount(ids, minlength=n_pairs)
    same = ~boundary[1:]  # a gap belongs to a pair only between two of its own requests
    gap_ids = ids[1:][same]
    gaps = np.diff(times)[same]
    n_gaps = np.maximum(counts - 1, 1)
    mean = np.bincount(gap_ids, weights=gaps, minlength=n_pairs) / n_gaps
    spread = np.bincount(gap_ids, weights=(gaps - mean[gap_ids]) ** 2, minlength=n_pairs) / n_gaps
    with np.errstate(divide="ignore", invalid="ignore"):
        cvs = np.sqrt(spread) / mean
    hits = np.flatnonzero((counts >= min_requests) & (mean >= min_interval) & (cvs < max_cv))
    findings = []
    for pair in hits.tolist():
        start = int(starts[pair])
        row = int(order[start])
        client, host = log.client[row], log.host[row]
        if not host:
            continue
        n = int(counts[pair])
        cv = float(cvs[pair])
        first, last = float(times[start]), float(times[start + n - 1])
        interval = float(mean[pair])
        findings.append(
            Finding(
                rule=BEACONING,
                severity="high",
                subject_host=host,
                subject_client=client,
                first_seen=first,
                last_seen=last,
                count=n,
                explanation_ja=(
                    f"一台の端末が {host} へ約 {interval:.0f} 秒ごとに {n} 回、ほぼ一定の間隔"
                    f"（変動係数 {cv:.3f}）で通信しています。マルウェアが外部の指令サーバーへ定期的に"
                    "接続する「ビーコン通信」の特徴です。端末を隔離して調査してください。"
                ),
                explanation_en=(
                    f"One device contacted {host} {n} times about every {interval:.0f} s at a nearly "
                    f"constant interval (coefficient of variation {cv:.3f}): the pattern of malware beaconing "
                    "to a command-and-control server. Isolate and investigate the device."
                ),
                evidence={
                    "requests": n,
                    "mean_interval_s": round(interval, 3),
                    "cv": round(cv, 4),
                    "threshold_cv": max_cv,
                },
            )
        )
    return findings


# --- Executable downloads ---------------------------------------------------------------------------------
def _path_of(url: str) -> str:
    for sep in "?#":
        i = url.find(sep)
        if i >= 0:
            url = url[:i]
    i = url.find("://")
    j = url.find("/", i + 3 if i >= 0 else 0)
    return url[j:] if j >= 0 else ""


def detect_executables(
    log: ProxyLog,
    *,
    extensions: frozenset[str] = DEFAULT_EXECUTABLE_EXTENSIONS,
    content_types: frozenset[str] = EXECUTABLE_CONTENT_TYPES,
) -> list[Finding]:
    """Successful downloads of executable content, by content type or by the URL path's extension.

    One finding per (client, host). File names are kept without their query string (it may carry tokens or
    personal data).
    """
    suffixes = tuple(extensions)
    longest = max((len(e) for e in extensions), default=0)
    hits: dict[tuple[str, str], list[int]] = defaultdict(list)
    urls, ctypes, statuses = log.url, log.content_type, log.status
    for i, url in enumerate(urls):
        ct = ctypes[i]
        semi = ct.find(";")
        if semi >= 0:
            ct = ct[:semi]
        if ct in content_types:
            pass
        # Fast path: most URLs have no query and end in no listed extension; only the rest are parsed.
        elif "?" in url or "#" in url:
            if not _path_of(url).lower().endswith(suffixes):
                continue
        elif "." not in url[-longest:] or not url[-longest:].lower().endswith(suffixes):
            continue
        elif not _path_of(url).lower().endswith(suffixes):  # "http://evil.js" has no path: not a download
            continue
        if statuses[i] < 400 and log.method[i] != "CONNECT":
            hits[(log.client[i], log.host[i])].append(i)
    findings = []
    for (client, host), rows in hits.items():
        names = sorted({_path_of(urls[i]).rsplit("/", 1)[-1][:120] for i in rows})
        types = sorted({ctypes[i] for i in rows if ctypes[i] != "-"})
        shown = "、".join(names[:5])
        findings.append(
            Finding(
                rule=EXECUTABLE_DOWNLOAD,
                severity="medium",
                subject_host=host,
                subject_client=client,
                first_seen=min(log.time[i] for i in rows),
                last_seen=max(log.time[i] for i in rows),
                count=len(rows),
                explanation_ja=(
                    f"{host} から実行形式のファイル（{shown}）が {len(rows)} 件ダウンロードされました。"
                    "実行ファイルやスクリプトはマルウェア感染の主な経路です。業務上必要なものか確認してください。"
                ),
                explanation_en=(
                    f"{len(rows)} executable file(s) ({', '.join(names[:5])}) were downloaded from {host}. "
                    "Executables and scripts are the main route of malware infection; check that the download "
                    "was needed for work."
                ),
                evidence={"files": names[:20], "content_types": types[:10], "downloads": len(rows)},
            )
        )
    return findings


# --- Known-bad domains -----------------------------------------------------------------------------------
def parse_blocklist(lines: Iterable[str]) -> frozenset[str]:
    """Domains, one a line; `#` starts a comment; `*.example` and `.example` mean the same as `example`
    (a listed domain always covers its subdomains)."""
    domains = set()
    for raw in lines:
        entry = raw.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        entry = entry.removeprefix("*.").lstrip(".").rstrip(".")
        if entry:
            domains.add(entry)
    return frozenset(domains)


def blocklist_match(host: str, blocklist: frozenset[str]) -> str | None:
    """The listed domain covering `host` (itself or a parent domain), or None."""
    if host in blocklist:
        return host
    i = host.find(".")
    while i >= 0:
        parent = host[i + 1 :]
        if parent in blocklist:
            return parent
        i = host.find(".", i + 1)
    return None


def detect_blocklisted(log: ProxyLog, *, blocklist: frozenset[str]) -> list[Finding]:
    """Any request to a listed domain or one of its subdomains; one finding per (client, host)."""
    if not blocklist:
        return []
    verdict: dict[str, str | None] = {}
    hits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for client, host, ts in zip(log.client, log.host, log.time, strict=True):
        listed = verdict.get(host, "")
        if listed == "":
            listed = verdict[host] = blocklist_match(host, blocklist)
        if listed is not None:
            hits[(client, host)].append(ts)
    findings = []
    for (client, host), times in hits.items():
        listed = verdict[host]
        via = "" if listed == host else f"（{listed} のサブドメイン）"
        via_en = "" if listed == host else f" (a subdomain of {listed})"
        findings.append(
            Finding(
                rule=BLOCKLISTED_DOMAIN,
                severity="high",
                subject_host=host,
                subject_client=client,
                first_seen=min(times),
                last_seen=max(times),
                count=len(times),
                explanation_ja=(
                    f"既知の悪性ドメイン {host}{via} への通信が {len(times)} 件ありました。"
                    "フィッシングやマルウェア配布に使われるドメインです。端末の状態を確認してください。"
                ),
                explanation_en=(
                    f"{len(times)} request(s) to the known-bad domain {host}{via_en}, listed for phishing or "
                    "malware distribution. Check the device."
                ),
                evidence={"listed_domain": listed, "requests": len(times)},
            )
        )
    return findings


def detect_proxy(
    log: ProxyLog, *, blocklist: frozenset[str] = frozenset(), min_requests: int = 10, max_cv: float = 0.1
) -> list[Finding]:
    """All proxy-log rules, in a stable order (rule, host, client)."""
    findings = [
        *detect_beaconing(log, min_requests=min_requests, max_cv=max_cv),
        *detect_executables(log),
        *detect_blocklisted(log, blocklist=blocklist),
    ]
    findings.sort(key=lambda f: (f.rule, f.subject_host, f.subject_client))
    return findings


# --- Failed sign-ins ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignInEvent:
    time: float  # Unix time
    action: str
    username: str = ""
    ip: str = ""


def detect_sign_in_bursts(
    events: Sequence[SignInEvent], *, threshold: int = 5, window_minutes: float = 10.0
) -> list[Finding]:
    """At least `threshold` failed sign-ins (password, MFA or JPKI certificate) for one user name or from one
    IP address within `window_minutes`: password guessing or a stolen card being tried.

    One finding per user name or IP: the largest burst found, with the first and last failure of it.
    """
    window = window_minutes * 60.0
    by_key: dict[tuple[str, str], list[SignInEvent]] = defaultdict(list)
    for event in events:
        if event.action not in SIGN_IN_FAILURE_ACTIONS:
            continue
        if event.username:
            by_key[("username", event.username)].append(event)
        if event.ip:
            by_key[("ip", event.ip)].append(event)
    findings = []
    for (kind, value), items in sorted(by_key.items()):
        items.sort(key=lambda e: e.time)
        best = (0, 0, 0)  # size, start, end (exclusive)
        start = 0
        for end in range(len(items)):
            while items[end].time - items[start].time > window:
                start += 1
            if end + 1 - start > best[0]:
                best = (end + 1 - start, start, end + 1)
        size, lo, hi = best
        if size < threshold:
            continue
        burst = items[lo:hi]
        actions: dict[str, int] = defaultdict(int)
        for e in burst:
            actions[e.action] += 1
        who_ja = "同じ利用者名" if kind == "username" else "同じ IP アドレス"
        who_en = "one user name" if kind == "username" else "one IP address"
        findings.append(
            Finding(
                rule=SIGN_IN_BURST,
                severity="high" if size >= 3 * threshold else "medium",
                subject_host="",
                subject_client=f"{kind}:{value}",
                first_seen=burst[0].time,
                last_seen=burst[-1].time,
                count=size,
                explanation_ja=(
                    f"{who_ja}に対して {window_minutes:g} 分以内に {size} 回のサインイン失敗"
                    "（パスワード・多要素認証・公的個人認証の拒否を含む）がありました。"
                    "パスワードの総当たりや盗まれたカードの試用の可能性があります。"
                ),
                explanation_en=(
                    f"{size} failed sign-ins (password, MFA or JPKI refusals) for {who_en} within "
                    f"{window_minutes:g} minutes: possible password guessing or a stolen card being tried."
                ),
                evidence={
                    "key": kind,
                    "failures": size,
                    "actions": dict(sorted(actions.items())),
                    "window_minutes": window_minutes,
                    "threshold": threshold,
                },
            )
        )
    return findings


# --- Files refused by 無害化 ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuarantineEvent:
    time: float  # Unix time
    sha256: str
    codes: tuple[str, ...] = ()
    detected_type: str = ""


def detect_quarantined_files(events: Sequence[QuarantineEvent], *, repeat_high: int = 3) -> list[Finding]:
    """One finding per distinct refused file (by SHA-256): someone tried to bring it into LGWAN. The same
    file arriving `repeat_high` times or more is a campaign, not an accident, and is rated high.

    The file name and the uploader are left out: both may identify a resident.
    """
    by_hash: dict[str, list[QuarantineEvent]] = defaultdict(list)
    for event in events:
        if event.sha256:
            by_hash[event.sha256].append(event)
    findings = []
    for sha256, items in sorted(by_hash.items()):
        items.sort(key=lambda e: e.time)
        codes = sorted({c for e in items for c in e.codes})
        types = sorted({e.detected_type for e in items if e.detected_type})
        n = len(items)
        findings.append(
            Finding(
                rule=QUARANTINED_FILE,
                severity="high" if n >= repeat_high else "medium",
                subject_host="",
                subject_client="",
                first_seen=items[0].time,
                last_seen=items[-1].time,
                count=n,
                explanation_ja=(
                    f"無害化で拒否されたファイル（SHA-256 {sha256[:16]}…、理由: {'、'.join(codes) or '不明'}）が "
                    f"{n} 回持ち込まれようとしました。同じファイルが繰り返し届く場合は標的型攻撃の可能性があります。"
                ),
                explanation_en=(
                    f"A file refused by sanitization (SHA-256 {sha256[:16]}…, reasons: {', '.join(codes) or '?'}) "
                    f"was submitted {n} time(s); the same file arriving repeatedly suggests a targeted attack."
                ),
                evidence={"sha256": sha256, "codes": codes, "detected_types": types, "uploads": n},
            )
        )
    return findings
