"""Re-ingesting proxy logs: the same file changes nothing, a grown file adds only its new lines, overlapping
input never raises the same alert twice."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.security.management.commands.ingest_proxy_log import Command
from madoguchi.security.models import ProxyLogBatch, SecurityAlert
from madoguchi.security.monitoring_services import proxy_log_ingest

from .test_monitoring_engine import T0, background, planted_beacon, squid

pytestmark = pytest.mark.django_db


def exe(ts, host, client="10.0.0.31"):
    return squid(ts, client, f"http://{host}/invoice.pdf.exe", ctype="application/x-msdownload")


@pytest.fixture
def city():
    return MunicipalityFactory()


def first_part():
    return [*background(300), *planted_beacon(), exe(T0 + 5, "dl.example")]


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def ingest_file(city, path):
    return proxy_log_ingest(municipality=city, actor=None, path=path)


def counts(city):
    return (
        ProxyLogBatch.objects.filter(municipality=city).count(),
        SecurityAlert.objects.filter(municipality=city).count(),
        AuditRecord.objects.count(),
    )


def test_the_same_file_twice_changes_nothing(city, tmp_path, capsys):
    log = tmp_path / "access.log"
    write(log, first_part())
    call_command(Command(), "--municipality", city.code, str(log))
    first = capsys.readouterr().out
    assert "2 alerts" in first
    before = counts(city)
    assert before[:2] == (1, 2)
    call_command(Command(), "--municipality", city.code, str(log))
    again = capsys.readouterr().out
    assert "already ingested" in again and "取り込み済み" in again and "nothing changed" in again
    assert counts(city) == before

    batch = ProxyLogBatch.objects.get()
    assert batch.size == log.stat().st_size and len(batch.sha256) == 64
    result = ingest_file(city, log)
    assert result.already_ingested and result.batch == batch and result.alerts == []


def test_the_same_file_for_another_municipality_is_ingested(city, tmp_path):
    log = tmp_path / "access.log"
    write(log, first_part())
    ingest_file(city, log)
    other = MunicipalityFactory()
    result = ingest_file(other, log)
    assert not result.already_ingested and len(result.alerts) == 2


def test_an_appended_file_ingests_only_the_new_lines(city, tmp_path, capsys):
    log = tmp_path / "access.log"
    old = first_part()
    write(log, old)
    ingest_file(city, log)
    new = [squid(T0 + 4000, "10.0.0.9", "http://news.example/"), exe(T0 + 4001, "new-dl.example")]
    with log.open("a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in new))
    call_command(Command(), "--municipality", city.code, str(log))
    out = capsys.readouterr().out
    assert f"first {len(old):,} lines already ingested" in out and "2 parsed" in out and "1 alerts" in out
    batch = ProxyLogBatch.objects.latest("id")
    assert batch.skipped_lines == len(old) and batch.lines == len(old) + len(new)
    assert batch.size == log.stat().st_size
    hosts = sorted(SecurityAlert.objects.filter(municipality=city).values_list("subject_host", flat=True))
    assert hosts.count("dl.example") == 1 and "new-dl.example" in hosts
    assert list(batch.alerts.values_list("subject_host", flat=True)) == ["new-dl.example"]


def test_line_numbers_of_an_appended_file_continue(city, tmp_path):
    log = tmp_path / "access.log"
    write(log, [squid(T0, "10.0.0.1", "http://a.example/")] * 3)
    ingest_file(city, log)
    with log.open("a", encoding="utf-8") as fh:
        fh.write("not squid\n")
    result = ingest_file(city, log)
    assert result.skipped_lines == 3 and result.batch.malformed_sample == [
        {"line": 4, "reason": "expected 10 fields, found 2"}
    ]


def test_a_prefix_that_ended_mid_line_is_read_again_without_duplicate_alerts(city, tmp_path):
    log = tmp_path / "access.log"
    lines = first_part()
    log.write_text("\n".join(lines), encoding="utf-8")  # no newline at the end: the last line may be cut
    ingest_file(city, log)
    with log.open("a", encoding="utf-8") as fh:
        fh.write("\n" + exe(T0 + 4001, "new-dl.example") + "\n")
    result = ingest_file(city, log)
    assert result.skipped_lines == 0 and result.duplicate_alerts == 2
    assert [a.subject_host for a in result.alerts] == ["new-dl.example"]
    assert SecurityAlert.objects.filter(municipality=city).count() == 3


def test_overlapping_files_do_not_raise_the_same_alert_twice(city, tmp_path):
    lines = first_part()
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    write(a, lines)
    write(b, [*lines[len(lines) // 2 :], exe(T0 + 4001, "new-dl.example")])  # overlaps a, but not its prefix
    ingest_file(city, a)
    result = ingest_file(city, b)
    assert result.skipped_lines == 0
    assert [x.subject_host for x in result.alerts] == ["new-dl.example"]
    assert result.duplicate_alerts >= 1
    keys = list(
        SecurityAlert.objects.filter(municipality=city).values_list("rule", "subject_host", "subject_client")
    )
    assert len(keys) == len(set(keys)) == 3
    audit = AuditRecord.objects.filter(action="security.proxy_log_ingested").latest("seq")
    assert audit.details["duplicate_alerts"] == result.duplicate_alerts


def test_lines_given_twice_alert_once(city):
    lines = first_part()
    first = proxy_log_ingest(municipality=city, actor=None, lines=lines)
    second = proxy_log_ingest(municipality=city, actor=None, lines=lines)
    assert len(first.alerts) == 2 and second.alerts == [] and second.duplicate_alerts == 2


def test_a_new_day_is_a_new_alert(city):
    proxy_log_ingest(municipality=city, actor=None, lines=[exe(T0, "dl.example")])
    later = proxy_log_ingest(municipality=city, actor=None, lines=[exe(T0 + 86_400, "dl.example")])
    assert len(later.alerts) == 1
    assert SecurityAlert.objects.filter(municipality=city, subject_host="dl.example").count() == 2


def test_the_database_refuses_a_second_alert_with_the_same_natural_key(city):
    alert = proxy_log_ingest(municipality=city, actor=None, lines=[exe(T0, "dl.example")]).alerts[0]
    alert.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        alert.save()
