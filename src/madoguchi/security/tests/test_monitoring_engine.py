"""The pure monitoring engine: Squid parsing, detection rules and the STIX 2.1 validator (no database)."""

import copy
import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from madoguchi.security.monitoring import (
    QuarantineEvent,
    SignInEvent,
    StixError,
    detect_beaconing,
    detect_blocklisted,
    detect_executables,
    detect_quarantined_files,
    detect_sign_in_bursts,
    parse_blocklist,
    parse_squid,
    url_host,
    validate_bundle,
)
from madoguchi.security.monitoring.stix import host_pattern, pattern_host

T0 = 1_795_000_000.0


def squid(ts, client, url, *, method="GET", code="TCP_MISS/200", size=1234, ctype="text/html"):
    return f"{ts:.3f} {random.randint(1, 900):6d} {client} {code} {size} {method} {url} - HIER_DIRECT/203.0.113.9 {ctype}"


def background(n, seed=7):
    rng = random.Random(seed)
    hosts = [f"site{i}.example.jp" for i in range(40)]
    return [
        squid(
            T0 + rng.uniform(0, 3600),
            f"10.0.0.{rng.randint(2, 60)}",
            f"http://{rng.choice(hosts)}/p/{i}.html",
        )
        for i in range(n)
    ]


def test_native_format_is_parsed_into_columns():
    log = parse_squid(
        [
            "1795000000.123    345 10.1.2.3 TCP_MISS/200 5120 GET http://User@Example.JP:8080/a/b?x=1 - HIER_DIRECT/1.2.3.4 text/html\n",
            "1795000001.000     12 10.1.2.4 TCP_TUNNEL/200 9000 CONNECT update.example.com:443 - HIER_DIRECT/5.6.7.8 -",
        ]
    )
    assert len(log) == 2 and log.malformed == 0 and log.lines == 2
    assert log.time == [1795000000.123, 1795000001.0] and log.client == ["10.1.2.3", "10.1.2.4"]
    assert log.host == ["example.jp", "update.example.com"] and log.status == [200, 200]
    assert log.action == ["TCP_MISS", "TCP_TUNNEL"] and log.method == ["GET", "CONNECT"]
    assert log.size == [5120, 9000] and log.content_type == ["text/html", "-"]


def test_malformed_lines_are_counted_with_line_numbers_and_skipped():
    lines = background(5)
    lines[1] = "garbage"
    lines.insert(3, "")
    lines.insert(4, "abc 12 10.0.0.1 TCP_MISS/200 1 GET http://a.example/ - HIER_NONE/- text/html")
    lines.append("1795000000.0 1 10.0.0.1 TCP_MISS/xyz 1 GET http://a.example/ - HIER_NONE/- text/html")
    log = parse_squid(lines)
    assert log.lines == 8 and len(log) == 4 and log.malformed == 3
    assert [m.line_no for m in log.malformed_sample] == [2, 5, 8]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://a.example/x", "a.example"),
        ("https://b.example:8443", "b.example"),
        ("c.example:443", "c.example"),
        ("http://[2001:db8::1]:80/", "2001:db8::1"),
        ("ftp://u:p@D.Example./f", "d.example"),
    ],
)
def test_url_host(url, host):
    assert url_host(url) == host


def planted_beacon(interval=60.0, jitter=1.0, n=30, seed=1):
    rng = random.Random(seed)
    return [
        squid(T0 + k * interval + rng.uniform(-jitter, jitter), "10.0.0.66", "http://c2.evil.example/beacon")
        for k in range(n)
    ]


def test_beaconing_is_found_among_random_traffic():
    log = parse_squid(background(3000) + planted_beacon())
    findings = detect_beaconing(log)
    assert [(f.subject_client, f.subject_host) for f in findings] == [("10.0.0.66", "c2.evil.example")]
    f = findings[0]
    assert f.count == 30 and f.evidence["cv"] < 0.1 and 59 < f.evidence["mean_interval_s"] < 61
    assert "ビーコン通信" in f.explanation_ja and "10.0.0.66" not in f.explanation_ja + str(f.evidence)


def test_irregular_or_rare_traffic_is_not_beaconing():
    rng = random.Random(3)
    jittery = [
        squid(T0 + k * 60 + rng.uniform(-30, 30), "10.0.0.5", "http://news.example/") for k in range(30)
    ]
    few = planted_beacon(n=9)
    assert detect_beaconing(parse_squid(jittery + few)) == []


def test_executable_downloads_by_extension_and_content_type():
    log = parse_squid(
        [
            squid(
                T0,
                "10.0.0.7",
                "http://dl.example/tools/setup.EXE?token=secret",
                ctype="application/octet-stream",
            ),
            squid(T0 + 1, "10.0.0.7", "http://dl.example/run", ctype="application/x-msdownload"),
            squid(T0 + 2, "10.0.0.8", "http://cdn.example/app.js", ctype="application/javascript"),
            squid(T0 + 3, "10.0.0.8", "http://cdn.example/page.html"),
            squid(T0 + 4, "10.0.0.9", "http://dl.example/x.msi", code="TCP_DENIED/403"),
        ]
    )
    found = {(f.subject_client, f.subject_host): f for f in detect_executables(log)}
    assert set(found) == {("10.0.0.7", "dl.example"), ("10.0.0.8", "cdn.example")}
    assert found[("10.0.0.7", "dl.example")].count == 2
    assert found[("10.0.0.7", "dl.example")].evidence["files"] == ["run", "setup.EXE"]
    assert "secret" not in str(found[("10.0.0.7", "dl.example")].evidence)
    assert "実行形式" in found[("10.0.0.8", "cdn.example")].explanation_ja


def test_blocklist_matches_exact_domains_and_subdomains_only():
    blocklist = parse_blocklist(["# feed", "evil.example", "*.phish.example  # wildcard", "", "Bad.Example."])
    assert blocklist == {"evil.example", "phish.example", "bad.example"}
    log = parse_squid(
        [
            squid(T0, "10.0.0.1", "http://evil.example/"),
            squid(T0 + 1, "10.0.0.1", "http://a.b.phish.example/login"),
            squid(T0 + 2, "10.0.0.1", "http://notevil.example/"),
            squid(T0 + 3, "10.0.0.1", "http://evil.example.jp/"),
            squid(T0 + 4, "10.0.0.2", "bad.example:443", method="CONNECT", code="TCP_TUNNEL/200"),
        ]
    )
    found = sorted(
        (f.subject_host, f.evidence["listed_domain"]) for f in detect_blocklisted(log, blocklist=blocklist)
    )
    assert found == [
        ("a.b.phish.example", "phish.example"),
        ("bad.example", "bad.example"),
        ("evil.example", "evil.example"),
    ]


def test_sign_in_burst_per_username_and_ip_within_the_window():
    events = [
        SignInEvent(T0 + k * 30, "identity.sign_in_failed", "taro", f"198.51.100.{k}") for k in range(4)
    ]
    events += [SignInEvent(T0 + 200, "identity.jpki_refused", "taro", "198.51.100.99")]
    events += [SignInEvent(T0 + k * 3600, "identity.sign_in_failed", "hanako", "192.0.2.1") for k in range(6)]
    events += [SignInEvent(T0, "identity.signed_in", "jiro", "192.0.2.2")] * 10
    findings = detect_sign_in_bursts(events, threshold=5, window_minutes=10)
    assert [(f.subject_client, f.count) for f in findings] == [("username:taro", 5)]
    f = findings[0]
    assert f.evidence["actions"] == {"identity.jpki_refused": 1, "identity.sign_in_failed": 4}
    assert "taro" not in f.explanation_ja + f.explanation_en + str(f.evidence)


def test_host_patterns_round_trip():
    assert host_pattern("evil.example") == "[domain-name:value = 'evil.example']"
    assert host_pattern("203.0.113.5") == "[ipv4-addr:value = '203.0.113.5']"
    assert pattern_host(host_pattern("o'brien.example")) == "o'brien.example"
    assert pattern_host("[url:value = 'x']") is None


MINIMAL = {
    "type": "bundle",
    "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
    "objects": [
        {
            "type": "incident",
            "spec_version": "2.1",
            "id": "incident--7a1a5f2e-3b8c-4d0e-9f6a-1b2c3d4e5f60",
            "created": "2026-11-29T00:00:00.000Z",
            "modified": "2026-11-29T00:00:00.000Z",
            "name": "beacon",
        }
    ],
}


def test_validator_accepts_a_minimal_bundle():
    assert validate_bundle(MINIMAL) == MINIMAL["objects"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("type",), "bundel", "type must be 'bundle'"),
        (("id",), "bundle--not-a-uuid", "bundle--<uuid>"),
        (("objects", 0, "spec_version"), "2.0", "spec_version must be '2.1'"),
        (("objects", 0, "id"), "indicator--7a1a5f2e-3b8c-4d0e-9f6a-1b2c3d4e5f60", "incident--<uuid>"),
        (("objects", 0, "name"), None, "'name' is missing"),
        (("objects", 0, "created"), "2026-11-29 00:00:00", "UTC timestamp"),
        (("objects", 0, "modified"), "2026-11-28T00:00:00Z", "modified is before created"),
        (("objects",), [], "non-empty list"),
    ],
)
def test_validator_refuses_with_a_clear_message(path, value, message):
    bundle = copy.deepcopy(MINIMAL)
    target = bundle
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    with pytest.raises(StixError) as exc:
        validate_bundle(bundle)
    assert message in str(exc.value) and "STIX 2.1" in str(exc.value)


def test_validator_checks_indicator_and_reference_properties():
    bundle = copy.deepcopy(MINIMAL)
    base = {"spec_version": "2.1", "created": "2026-11-29T00:00:00Z", "modified": "2026-11-29T00:00:00Z"}
    bundle["objects"] += [
        {
            **base,
            "type": "indicator",
            "id": "indicator--11111111-1111-4111-8111-111111111111",
            "pattern": "x",
        },
        {
            **base,
            "type": "sighting",
            "id": "sighting--22222222-2222-4222-8222-222222222222",
            "sighting_of_ref": "nope",
        },
    ]
    with pytest.raises(StixError) as exc:
        validate_bundle(bundle)
    problems = "\n".join(exc.value.problems)
    assert "'pattern_type' is missing" in problems and "'valid_from' is missing" in problems
    assert "not a STIX pattern" not in problems  # pattern_type absent: the pattern language is unknown
    assert "'nope' is not an identifier" in problems


def beaconing_reference(log, min_requests=10, max_cv=0.1, min_interval=1.0):
    """The slow obvious version: group in a dict, loop over each pair's intervals."""
    groups = {}
    for client, host, ts in zip(log.client, log.host, log.time, strict=True):
        groups.setdefault((client, host), []).append(ts)
    found = {}
    for (client, host), times in groups.items():
        if len(times) < min_requests or not host:
            continue
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        mean = sum(gaps) / len(gaps)
        if mean < min_interval:
            continue
        cv = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)) / mean
        if cv < max_cv:
            found[(client, host)] = (len(times), times[0], times[-1], cv)
    return found


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
            st.sampled_from(["a.example", "b.example"]),
            st.floats(min_value=0.0, max_value=50.0),
            st.integers(min_value=0, max_value=30),
        ),
        max_size=12,
    ),
    st.randoms(use_true_random=False),
)
def test_vectorised_beaconing_matches_the_reference(streams, rng):
    lines = []
    for client, host, jitter, n in streams:
        period = rng.choice([30.0, 60.0, 300.0])
        start = T0 + rng.uniform(0, 1000)
        lines += [
            squid(start + k * period + rng.uniform(-jitter, jitter), client, f"http://{host}/")
            for k in range(n)
        ]
    rng.shuffle(lines)
    log = parse_squid(lines)
    expected = beaconing_reference(log)
    got = {
        (f.subject_client, f.subject_host): (f.count, f.first_seen, f.last_seen, f.evidence["cv"])
        for f in detect_beaconing(log)
    }
    assert set(got) == set(expected) or all(
        abs(expected[k][3] - 0.1) < 1e-9 for k in set(got) ^ set(expected)
    )
    for key in set(got) & set(expected):
        count, first, last, cv = expected[key]
        assert got[key][:3] == (count, first, last) and got[key][3] == pytest.approx(cv, abs=1e-4)


def test_quarantined_files_are_grouped_by_hash():
    a, b = "a" * 64, "b" * 64
    events = [QuarantineEvent(T0 + k, a, ("zip.ratio",), "zip") for k in range(3)]
    events.append(QuarantineEvent(T0, b, ("type.mismatch",), "exe"))
    found = {f.evidence["sha256"]: f for f in detect_quarantined_files(events)}
    assert (found[a].count, found[a].severity, found[a].last_seen) == (3, "high", T0 + 2)
    assert (found[b].count, found[b].severity, found[b].evidence["codes"]) == (1, "medium", ["type.mismatch"])
