"""Squid's native access.log format, parsed into columns.

    time.millis elapsed client action/code size method URL user hierarchy/peer content-type

A plain loop over `str.split` measured faster than polars here (bench/security_ingest.py): Squid's fields are
separated by runs of spaces (elapsed is right-aligned), which a one-byte CSV separator does not model, and
every line needs a per-field fallback anyway. A malformed line is recorded with its line number and skipped;
it never stops the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# How many malformed lines are kept with their reasons; the count is always exact.
MALFORMED_SAMPLE = 100


@dataclass(frozen=True)
class Malformed:
    line_no: int  # 1-based, counted over the whole input
    reason: str


@dataclass
class ProxyLog:
    """Parsed lines as parallel columns (one index per well-formed line, in input order)."""

    time: list[float] = field(default_factory=list)
    client: list[str] = field(default_factory=list)
    action: list[str] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    method: list[str] = field(default_factory=list)
    url: list[str] = field(default_factory=list)
    host: list[str] = field(default_factory=list)
    content_type: list[str] = field(default_factory=list)
    lines: int = 0  # every line read, blank lines included
    malformed: int = 0
    malformed_sample: list[Malformed] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.time)


def url_host(url: str) -> str:
    """The host of a Squid URL, lower-cased, without user info or port ("" when there is none).

    Squid logs `scheme://host[:port]/path` for plain requests and `host:port` for CONNECT.
    """
    i = url.find("://")
    rest = url[i + 3 :] if i >= 0 else url
    for sep in "/?#":
        j = rest.find(sep)
        if j >= 0:
            rest = rest[:j]
    at = rest.rfind("@")
    if at >= 0:
        rest = rest[at + 1 :]
    if rest.startswith("["):  # [IPv6]:port
        end = rest.find("]")
        return rest[1:end].lower() if end > 0 else ""
    colon = rest.rfind(":")
    if colon >= 0:
        rest = rest[:colon]
    return rest.lower().rstrip(".")


def _bad(log: ProxyLog, line_no: int, reason: str) -> None:
    log.malformed += 1
    if len(log.malformed_sample) < MALFORMED_SAMPLE:
        log.malformed_sample.append(Malformed(line_no, reason))


def parse_squid(lines: Iterable[str], *, start_line: int = 1, into: ProxyLog | None = None) -> ProxyLog:
    """Parse lines (with or without their newline) into a ProxyLog; `into` continues an earlier chunk.

    Blank lines are counted but neither parsed nor malformed. A line is malformed when it has fewer than ten
    fields, or its time, elapsed, action/code or size is not what Squid writes. Extra trailing fields (a
    logformat with more columns) are ignored.
    """
    log = into if into is not None else ProxyLog()
    # Local aliases: attribute look-ups dominate a loop this tight.
    t_app, c_app, a_app, s_app = log.time.append, log.client.append, log.action.append, log.status.append
    z_app, m_app, u_app, h_app = log.size.append, log.method.append, log.url.append, log.host.append
    ct_app = log.content_type.append
    hosts: dict[str, str] = {}  # URL prefix -> host; most traffic goes to few hosts
    line_no = start_line - 1
    for line_no, line in enumerate(lines, start_line):  # noqa: B007 - line_no is read after the loop
        f = line.split()
        if len(f) < 10:
            if f:
                _bad(log, line_no, f"expected 10 fields, found {len(f)}")
            continue
        try:
            ts = float(f[0])
            int(f[1])
            action, _, code = f[3].partition("/")
            status = int(code)
            size = int(f[4])
        except ValueError as exc:
            _bad(log, line_no, f"bad number: {exc}")
            continue
        if not action or ts < 0:
            _bad(log, line_no, "missing action or negative time")
            continue
        url = f[6]
        # Cache the host by the URL's authority part, found with one cheap scan.
        i = url.find("/", url.find("://") + 3) if "://" in url else -1
        key = url[:i] if i >= 0 else url
        host = hosts.get(key)
        if host is None:
            host = hosts[key] = url_host(key)
        t_app(ts)
        c_app(f[2])
        a_app(action)
        s_app(status)
        z_app(size)
        m_app(f[5])
        u_app(url)
        h_app(host)
        ct_app(f[9].lower())
    log.lines = max(log.lines, line_no)
    return log
