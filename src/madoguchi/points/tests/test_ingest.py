"""`madoguchi points ingest`: broken rows reported by line, re-runs and interrupted runs grant nothing twice."""

import csv

import pytest
from django.core.management import call_command
from django.utils import timezone

from madoguchi.points import services
from madoguchi.points.models import PointAccount, ProviderTransaction
from madoguchi.points.tests.conftest import enrol_accounts

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(campaign, provider):
    return enrol_accounts(campaign, provider, 3)


def _write(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "account", "kind", "amount", "occurred_at"])
        writer.writerows(rows)


def _rows(n, accounts):
    at = timezone.now().isoformat()
    return [[f"t{i}", accounts[i % len(accounts)], "charge", 1000 + i, at] for i in range(n)]


def test_ingest_reports_broken_rows_and_is_idempotent(tmp_path, provider, accounts, capsys):
    rows = _rows(30, accounts)
    rows[4] = ["t4", accounts[1], "charge", "abc", rows[0][4]]
    rows[9] = ["t9", accounts[2], "charge", "100", "yesterday"]
    path = tmp_path / "feed.csv"
    _write(path, rows)
    call_command("points", "ingest", "--provider", provider.code, str(path))
    out = capsys.readouterr().out
    assert "30 rows" in out and "invalid 2" in out
    results = list(csv.DictReader(open(tmp_path / "feed.csv.results.csv", encoding="utf-8")))
    broken = {r["line"]: r for r in results if r["status"] == "invalid"}
    assert set(broken) == {"6", "11"}  # header is line 1
    total = PointAccount.objects.values_list("granted", flat=True)
    before = sorted(total)
    call_command("points", "ingest", "--provider", provider.code, str(path))
    assert sorted(PointAccount.objects.values_list("granted", flat=True)) == before
    assert ProviderTransaction.objects.count() == 28  # invalid rows are answered, never recorded


def test_an_interrupted_ingestion_run_again_grants_the_same(tmp_path, provider, accounts, settings):
    rows = _rows(25, accounts)
    full, half = tmp_path / "full.csv", tmp_path / "half.csv"
    _write(full, rows)
    _write(half, rows[:11])  # what a run killed after its first chunks had committed
    import madoguchi.points.management.commands.points as command

    command.CHUNK = 4  # small chunks: the interruption falls between committed chunks
    try:
        call_command("points", "ingest", "--provider", provider.code, str(half))
        call_command("points", "ingest", "--provider", provider.code, str(full))
    finally:
        command.CHUNK = services.MAX_ITEMS
    expected = {}
    for _id, account, _kind, amount, _at in rows:
        expected[account] = min(5000, expected.get(account, 0) + amount * 2500 // 10000)
    assert dict(PointAccount.objects.values_list("service_account", "granted")) == expected
    assert ProviderTransaction.objects.count() == 25


def test_ingest_refuses_a_file_without_the_header(tmp_path, provider):
    from django.core.management.base import CommandError

    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("points", "ingest", "--provider", provider.code, str(path))
    assert ProviderTransaction.objects.count() == 0
