"""Monitoring services: ingestion, alerts, incidents, STIX 2.1 exchange between prefectures, tenant scoping."""

import json
import random

import pytest
from django.core.management import call_command

from madoguchi.core import audit
from madoguchi.core.audit import verify
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory, PrefectureFactory
from madoguchi.security.management.commands.ingest_proxy_log import Command
from madoguchi.security.models import Incident, ProxyLogBatch, SecurityAlert
from madoguchi.security.monitoring import StixError, validate_bundle
from madoguchi.security.monitoring_services import (
    alerts_of_municipality,
    alerts_of_prefecture,
    incident_open_from_alerts,
    incident_update,
    incidents_export_stix,
    incidents_import_stix,
    incidents_of_municipality,
    incidents_of_prefecture,
    proxy_log_ingest,
    security_events_scan,
)

from .test_monitoring_engine import T0, background, planted_beacon, squid

pytestmark = pytest.mark.django_db

BEACON_CLIENT = "10.0.0.66"


def sample_log():
    """Random traffic, a beacon every 60 s ± 1 s, an executable download, a malformed line."""
    lines = background(2000) + planted_beacon()
    lines.append(
        squid(T0 + 5, "10.0.0.31", "http://dl.example/invoice.pdf.exe", ctype="application/x-msdownload")
    )
    lines.append(squid(T0 + 9, "10.0.0.32", "http://login.phish.example/"))
    random.Random(5).shuffle(lines)
    lines.insert(100, "this is not squid")
    return lines


@pytest.fixture
def tokyo_city():
    return MunicipalityFactory()


@pytest.fixture
def kanagawa_city():
    return MunicipalityFactory(prefecture=PrefectureFactory(number=14))


def ingest(city, lines=None, **kwargs):
    return proxy_log_ingest(
        municipality=city, actor=None, lines=lines or sample_log(), file_name="access.log", **kwargs
    )


def test_ingest_stores_batch_alerts_and_audit(tokyo_city):
    result = ingest(tokyo_city, blocklist=frozenset({"phish.example"}))
    batch = ProxyLogBatch.objects.get()
    assert (batch.lines, batch.malformed, batch.municipality) == (2033, 1, tokyo_city)
    assert batch.malformed_sample == [{"line": 101, "reason": "expected 10 fields, found 4"}]
    rules = sorted((a.rule, a.subject_host) for a in result.alerts)
    assert rules == [
        ("beaconing", "c2.evil.example"),
        ("blocklisted_domain", "login.phish.example"),
        ("executable_download", "dl.example"),
    ]
    beacon = SecurityAlert.objects.get(rule="beaconing")
    assert beacon.subject_client == BEACON_CLIENT and beacon.count == 30 and beacon.severity == "high"
    assert BEACON_CLIENT not in beacon.explanation_ja + json.dumps(beacon.evidence)
    entry = AuditRecord.objects.get(action="security.proxy_log_ingested")
    assert entry.stream == tokyo_city.code and entry.details["malformed"] == 1
    assert entry.details["alerts"] == {"beaconing": 1, "blocklisted_domain": 1, "executable_download": 1}
    assert verify()[1] == []


def test_beacon_becomes_an_incident_exported_as_valid_stix_without_personal_data(
    tokyo_city, kanagawa_city, django_user_model
):
    owner = django_user_model.objects.create_user("soc-tanaka", password="x")
    ingest(tokyo_city)
    beacon = SecurityAlert.objects.get(rule="beaconing")
    incident = incident_open_from_alerts(alerts=[beacon], actor=owner, owner=owner)
    assert incident.status == "open" and "c2.evil.example" in incident.title
    incident = incident_update(incident=incident, actor=owner, status="investigating")

    bundle = incidents_export_stix(incidents=[incident], actor=owner)
    assert validate_bundle(json.loads(json.dumps(bundle)))
    assert bundle["type"] == "bundle" and bundle["id"].startswith("bundle--")
    types = sorted(o["type"] for o in bundle["objects"])
    assert types == ["identity", "incident", "indicator", "relationship", "sighting"]
    by_type = {o["type"]: o for o in bundle["objects"]}
    assert by_type["indicator"]["pattern"] == "[domain-name:value = 'c2.evil.example']"
    assert by_type["indicator"]["pattern_type"] == "stix"
    assert by_type["incident"]["name"] and by_type["incident"]["spec_version"] == "2.1"
    assert by_type["sighting"]["count"] == 30
    assert "東京都" in by_type["identity"]["name"]
    text = json.dumps(bundle, ensure_ascii=False)
    for personal in (BEACON_CLIENT, "soc-tanaka", "10.0.0."):
        assert personal not in text
    assert AuditRecord.objects.filter(action="security.incidents_exported").count() == 1

    imported = incidents_import_stix(bundle=bundle, municipality=kanagawa_city, actor=None)
    assert len(imported) == 1
    shared = imported[0]
    assert shared.shared and shared.municipality == kanagawa_city and shared.stix_id == incident.stix_id
    (alert,) = shared.alerts.all()
    assert alert.rule == "shared_indicator" and alert.subject_host == "c2.evil.example"
    assert alert.subject_client == "" and alert.count == 30 and alert.severity == "high"
    assert alert.first_seen == beacon.first_seen.replace(
        microsecond=beacon.first_seen.microsecond // 1000 * 1000
    )
    # Importing the same bundle again adds nothing.
    assert incidents_import_stix(bundle=bundle, municipality=kanagawa_city, actor=None) == []
    assert verify()[1] == []


def test_import_refuses_an_invalid_bundle_and_writes_nothing(kanagawa_city):
    bad = {"type": "bundle", "id": "bundle--x", "objects": [{"type": "incident", "id": "incident--y"}]}
    with pytest.raises(StixError) as exc:
        incidents_import_stix(bundle=bad, municipality=kanagawa_city, actor=None)
    message = str(exc.value)
    assert "bundle--<uuid>" in message and "spec_version" in message and "不正" in message
    assert not Incident.objects.exists() and not AuditRecord.objects.exists()


def test_incident_status_transitions_and_owner(tokyo_city, django_user_model):
    ingest(tokyo_city, blocklist=frozenset({"phish.example"}))
    incident = incident_open_from_alerts(alerts=list(SecurityAlert.objects.all()), actor=None)
    assert incident.alerts.count() == 3
    owner = django_user_model.objects.create_user("soc-sato", password="x")
    incident = incident_update(incident=incident, actor=None, owner=owner)
    incident = incident_update(incident=incident, actor=None, status="resolved")
    incident = incident_update(incident=incident, actor=None, status="closed")
    assert (incident.status, incident.owner) == ("closed", owner)
    with pytest.raises(ValueError, match="cannot go from closed"):
        incident_update(incident=incident, actor=None, status="open")
    assert AuditRecord.objects.filter(action="security.incident_updated").count() == 3


def test_failed_sign_in_burst_from_the_audit_log(tokyo_city):
    for k in range(6):
        audit.record(
            actor=None, action="identity.sign_in_failed", details={"username": "x", "ip": f"192.0.2.{k}"}
        )
    audit.record(actor=None, action="identity.mfa_failed", details={"username": "y", "ip": "192.0.2.200"})
    alerts = security_events_scan(municipality=tokyo_city, actor=None, include_platform=True, threshold=5)
    assert [(a.rule, a.subject_client, a.count) for a in alerts] == [("sign_in_burst", "username:x", 6)]
    assert "サインイン失敗" in alerts[0].explanation_ja
    # The same burst is not alerted twice; without the platform stream there is nothing to see.
    assert security_events_scan(municipality=tokyo_city, actor=None, include_platform=True) == []
    other = MunicipalityFactory()
    assert security_events_scan(municipality=other, actor=None) == []
    # Exported, the burst keeps its explanation and loses the user name.
    incident = incident_open_from_alerts(alerts=alerts, actor=None)
    bundle = incidents_export_stix(incidents=[incident], actor=None)
    assert sorted(o["type"] for o in bundle["objects"]) == ["identity", "incident"]
    assert "username:x" not in json.dumps(bundle) and "192.0.2." not in json.dumps(bundle)


def test_selectors_keep_municipalities_apart_and_prefecture_sees_its_own(tokyo_city, kanagawa_city):
    tokyo_other = MunicipalityFactory()
    ingest(tokyo_city)
    incident_open_from_alerts(alerts=list(alerts_of_municipality(tokyo_city)), actor=None)
    assert alerts_of_municipality(tokyo_city).count() == 2
    assert not alerts_of_municipality(tokyo_other).exists()
    assert not incidents_of_municipality(tokyo_other).exists()
    assert not alerts_of_municipality(kanagawa_city).exists()
    assert alerts_of_prefecture(tokyo_city.prefecture).count() == 2
    assert incidents_of_prefecture(tokyo_city.prefecture).count() == 1
    assert not alerts_of_prefecture(kanagawa_city.prefecture).exists()
    assert not incidents_of_prefecture(kanagawa_city.prefecture).exists()


def test_command_ingests_a_file_with_progress_and_summary(tokyo_city, tmp_path, capsys):
    log = tmp_path / "access.log"
    log.write_text("\n".join(sample_log()) + "\n", encoding="utf-8")
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("# feed\nphish.example\n", encoding="utf-8")
    call_command(Command(), "--municipality", tokyo_city.code, str(log), "--blocklist", str(blocklist))
    captured = capsys.readouterr()
    assert "2,033 lines" in captured.err
    assert "2,033 lines, 2,032 parsed, 1 malformed, 3 alerts" in captured.out
    assert "malformed line 101" in captured.out and "ビーコン通信" in captured.out
    assert SecurityAlert.objects.filter(municipality=tokyo_city).count() == 3


def test_command_refuses_an_unknown_municipality(tmp_path):
    from django.core.management.base import CommandError

    (tmp_path / "a.log").write_text("", encoding="utf-8")
    with pytest.raises(CommandError, match="no such municipality"):
        call_command(Command(), "--municipality", "131016", str(tmp_path / "a.log"))


def test_quarantined_files_become_alerts_shared_by_hash_without_the_file_name(tokyo_city, tmp_path, settings):
    from madoguchi.security.sanitize import Tools
    from madoguchi.security.services import sanitize_upload

    settings.VAR_DIR = tmp_path
    data = b"MZ" + b"\x00" * 200
    for name in ("山田太郎_請求書.exe", "請求書.pdf.exe"):
        assert not sanitize_upload(data=data, filename=name, municipality=tokyo_city, tools=Tools.none()).ok
    (alert,) = security_events_scan(municipality=tokyo_city, actor=None)
    assert alert.rule == "quarantined_file" and alert.count == 2 and alert.subject_client == ""
    assert "無害化" in alert.explanation_ja and "山田" not in alert.explanation_ja + json.dumps(
        alert.evidence
    )
    assert security_events_scan(municipality=tokyo_city, actor=None) == []
    bundle = incidents_export_stix(
        incidents=[incident_open_from_alerts(alerts=[alert], actor=None)], actor=None
    )
    (indicator,) = [o for o in bundle["objects"] if o["type"] == "indicator"]
    assert indicator["pattern"] == f"[file:hashes.'SHA-256' = '{alert.evidence['sha256']}']"
    assert "山田" not in json.dumps(bundle, ensure_ascii=False)


def test_prefecture_wide_import_is_seen_by_the_prefecture_view_only(tokyo_city, kanagawa_city):
    ingest(tokyo_city)
    incident = incident_open_from_alerts(alerts=list(alerts_of_municipality(tokyo_city)), actor=None)
    bundle = incidents_export_stix(incidents=[incident], actor=None)
    kanagawa = kanagawa_city.prefecture
    (shared,) = incidents_import_stix(bundle=bundle, prefecture=kanagawa, actor=None)
    assert shared.municipality is None and shared.prefecture == kanagawa and shared.alerts.count() == 2
    assert list(incidents_of_prefecture(kanagawa)) == [shared]
    assert alerts_of_prefecture(kanagawa).count() == 2
    assert not incidents_of_municipality(kanagawa_city).exists()
    assert incidents_of_prefecture(tokyo_city.prefecture).get() == incident
    # A prefecture's shared incident is handled like any other, and can be passed on again.
    incident_update(incident=shared, actor=None, status="investigating")
    again = incidents_export_stix(incidents=[shared], actor=None)
    assert "神奈川県" in next(o["name"] for o in again["objects"] if o["type"] == "identity")
    with pytest.raises(ValueError, match="exactly one"):
        incidents_import_stix(bundle=bundle, actor=None)
