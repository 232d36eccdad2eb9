"""`madoguchi points ingest`, row by row: amounts that only look like numbers, the physical line of each row,
the file's encoding and header, and results that a spreadsheet opens as text."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from madoguchi.points import ingest, services
from madoguchi.points.management.commands import points as command
from madoguchi.points.models import PointAccount, ProviderTransaction
from madoguchi.points.tests.conftest import enrol_accounts

pytestmark = pytest.mark.django_db

HEADER = ["id", "account", "kind", "amount", "occurred_at"]


@pytest.fixture
def accounts(campaign, provider):
    return enrol_accounts(campaign, provider, 2)


@pytest.fixture(params=["row_by_row", "batch"])
def both_paths(request, monkeypatch):
    """On PostgreSQL a chunk of ingest.MIN_ITEMS rows or more takes the set-based path: run both."""
    monkeypatch.setattr(ingest, "MIN_ITEMS", 1 if request.param == "batch" else 10**9)


def _csv_text(rows, header=HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # lines end with \r\n
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _ingest(provider, path, *args):
    call_command("points", "ingest", "--provider", provider.code, str(path), *args)
    with open(str(path) + ".results.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _now() -> str:
    return timezone.now().isoformat()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000", 1000),
        (" 42 ", 42),
        ("-5", -5),
        ("007", 7),
        ("²", "²"),  # str.isdigit() is True, int() raises
        ("①", "①"),
        ("-²", "-²"),
        ("１２３", 123),  # full-width digits are decimal digits (as the upload page reads them)
        ("-１２", -12),
        ("+5", "+5"),
        ("--5", "--5"),
        ("1_000", "1_000"),
        ("1.5", "1.5"),
        ("", ""),
        (None, ""),
        ("9" * 5000, "9" * 5000),  # more digits than int() converts: text, not a ValueError
    ],
)
def test_amount_is_an_int_only_for_decimal_digits(text, expected):
    value = command.amount_from_text(text)
    assert value == expected and type(value) is type(expected)


def test_amounts_that_only_look_like_numbers_are_invalid_rows_and_the_others_are_recorded(
    tmp_path, provider, accounts, both_paths
):
    at = _now()
    rows = [
        ["t1", "acct-0", "charge", 1000, at],
        ["t2", "acct-0", "charge", "²", at],
        ["t3", "acct-1", "charge", "①", at],
        ["t4", "acct-1", "charge", "１２３", at],
        ["t5", "acct-1", "charge", 2000, at],
    ]
    path = tmp_path / "feed.csv"
    path.write_text(_csv_text(rows), encoding="utf-8", newline="")
    results = _ingest(provider, path)
    assert [(r["line"], r["id"], r["status"]) for r in results] == [
        ("2", "t1", "granted"),
        ("3", "t2", "invalid"),
        ("4", "t3", "invalid"),
        ("5", "t4", "granted"),
        ("6", "t5", "granted"),
    ]
    assert set(ProviderTransaction.objects.values_list("external_id", flat=True)) == {"t1", "t4", "t5"}
    assert dict(PointAccount.objects.values_list("service_account", "granted")) == {
        "acct-0": 250,
        "acct-1": 30 + 500,
    }


def test_each_row_has_its_physical_line_across_quoted_line_breaks_and_chunks(
    tmp_path, provider, accounts, monkeypatch
):
    monkeypatch.setattr(command, "CHUNK", 2)  # the lines must follow their rows from one chunk to the next
    at = _now()
    text = (
        "id,account,kind,amount,occurred_at,note\r\n"  # line 1
        f"t1,acct-0,charge,1000,{at},plain\r\n"  # line 2
        f't2,acct-0,charge,1000,{at},"two\r\nlines"\r\n'  # lines 3-4
        f't3,acct-1,charge,abc,{at},"three\r\nmore\r\nlines"\r\n'  # lines 5-7
        "\r\n"  # line 8: a blank line is no row
        f"t4,acct-1,charge,yen,{at},\r\n"  # line 9
        f"t5,acct-1,charge,1000,{at},\r\n"  # line 10
    )
    path = tmp_path / "feed.csv"
    path.write_text(text, encoding="utf-8", newline="")
    results = _ingest(provider, path)
    # A row is reported on the line it ends on (csv line_num), as the provider upload page reports it.
    assert [(r["line"], r["id"], r["status"]) for r in results] == [
        ("2", "t1", "granted"),
        ("4", "t2", "granted"),
        ("7", "t3", "invalid"),
        ("9", "t4", "invalid"),
        ("10", "t5", "granted"),
    ]


def test_a_shift_jis_file_with_a_loose_header_is_read(tmp_path, provider, accounts):
    at = _now()
    rows = [["取引-1", "acct-0", "charge", 1000, at], ["取引-2", "acct-1", "purchase", 1000, at]]
    path = tmp_path / "feed.csv"
    path.write_bytes(
        _csv_text(rows, header=[" ID", "Account ", "KIND", " Amount ", "Occurred_At"]).encode("cp932")
    )
    results = _ingest(provider, path)
    assert [(r["line"], r["id"], r["status"]) for r in results] == [
        ("2", "取引-1", "granted"),
        ("3", "取引-2", "wrong_mode"),
    ]
    assert set(ProviderTransaction.objects.values_list("external_id", flat=True)) == {"取引-1", "取引-2"}


def test_a_utf8_file_with_a_bom_and_an_upper_case_header_is_read(tmp_path, provider, accounts):
    path = tmp_path / "feed.csv"
    text = _csv_text(
        [["t1", "acct-0", "charge", 1000, _now()]], header=["ID", "ACCOUNT", "Kind", "Amount", "OCCURRED_AT"]
    )
    path.write_bytes(("\ufeff" + text).encode("utf-8"))
    results = _ingest(provider, path)
    assert [(r["line"], r["id"], r["status"]) for r in results] == [("2", "t1", "granted")]


def test_a_refunds_file_in_shift_jis_is_read(tmp_path, provider, accounts):
    services.transactions_record(provider=provider, items=[
        {"id": "売上-1", "account": "acct-0", "kind": "charge", "amount": 4000, "occurred_at": _now()}])  # fmt: skip
    path = tmp_path / "refunds.csv"
    path.write_bytes("Original_ID ,id,AMOUNT\r\n売上-1,返金-1,2000\r\n売上-1,返金-2,①\r\n".encode("cp932"))
    results = _ingest(provider, path, "--refunds")
    assert [(r["line"], r["id"], r["status"], r["granted"]) for r in results] == [
        ("2", "返金-1", "clawed_back", "-500"),
        ("3", "返金-2", "invalid", "0"),
    ]
    assert PointAccount.objects.get(service_account="acct-0").granted == 500


def test_an_undecodable_file_is_refused_and_records_nothing(tmp_path, provider, accounts):
    path = tmp_path / "feed.csv"
    good = _csv_text([["t1", "acct-0", "charge", 1000, _now()]]).encode("utf-8")
    path.write_bytes(good + b"t2,acct-0,charge,1000,\x81\x20\r\n")  # neither UTF-8 nor CP932
    with pytest.raises(CommandError) as raised:
        call_command("points", "ingest", "--provider", provider.code, str(path))
    assert "(The file could not be read: save it as CSV in UTF-8 (or Shift_JIS).)" in str(raised.value)
    assert str(raised.value).startswith("ファイルを読み込めませんでした")
    assert ProviderTransaction.objects.count() == 0


@pytest.mark.parametrize(
    ("refunds", "content", "expected"),
    [
        (False, "id,account,kind,amount\r\nt1,acct-0,charge,1000\r\n", "id,account,kind,amount,occurred_at"),
        (False, "", "id,account,kind,amount,occurred_at"),
        (True, "id,original,amount\r\nr1,t1,1000\r\n", "id,original_id,amount"),
    ],
)
def test_a_wrong_header_is_refused_with_the_expected_columns(
    tmp_path, provider, accounts, refunds, content, expected
):
    path = tmp_path / "feed.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError) as raised:
        call_command(
            "points", "ingest", "--provider", provider.code, str(path), *(["--refunds"] if refunds else [])
        )
    message = str(raised.value)
    assert (
        message.startswith("見出し行には")
        and f"(The header line must name the columns {expected};" in message
    )
    assert ProviderTransaction.objects.count() == 0
    assert not (tmp_path / "feed.csv.results.csv").exists()


def test_a_broken_csv_line_stops_with_its_line_and_the_rows_before_it_are_recorded(
    tmp_path, provider, accounts
):
    at = _now()
    text = (
        _csv_text([["t1", "acct-0", "charge", 1000, at]]) + 't2,acct-0,charge,1000,"' + "x" * 200_000 + "\r\n"
    )
    path = tmp_path / "feed.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(CommandError) as raised:
        call_command("points", "ingest", "--provider", provider.code, str(path))
    assert "(The file is not valid CSV from line 3:" in str(raised.value)
    assert list(ProviderTransaction.objects.values_list("external_id", flat=True)) == ["t1"]
    with open(tmp_path / "feed.csv.results.csv", encoding="utf-8", newline="") as f:
        assert [(r["line"], r["id"], r["status"]) for r in csv.DictReader(f)] == [("2", "t1", "granted")]


def test_results_cells_that_a_spreadsheet_would_run_are_written_as_text(tmp_path, provider, accounts):
    at = _now()
    rows = [
        ['=HYPERLINK("http://example.com","x")', "acct-0", "charge", 1000, at],
        ["+1", "acct-0", "charge", 1000, at],
        ["-2", "acct-0", "charge", "²", at],
        ["@SUM(A1)", "acct-1", "charge", 1000, at],
        ["plain", "acct-1", "charge", 1000, at],
    ]
    path = tmp_path / "feed.csv"
    path.write_text(_csv_text(rows), encoding="utf-8", newline="")
    results = _ingest(provider, path)
    assert [(r["line"], r["id"], r["status"]) for r in results] == [
        ("2", '\'=HYPERLINK("http://example.com","x")', "granted"),
        ("3", "'+1", "granted"),
        ("4", "'-2", "invalid"),
        ("5", "'@SUM(A1)", "granted"),
        ("6", "plain", "granted"),
    ]
    # Only the cell is quoted for the spreadsheet: the ids recorded are the provider's own.
    assert set(ProviderTransaction.objects.values_list("external_id", flat=True)) == {
        '=HYPERLINK("http://example.com","x")',
        "+1",
        "@SUM(A1)",
        "plain",
    }


def test_an_impossible_date_is_an_invalid_row_and_the_others_are_recorded(tmp_path, provider, accounts):
    # Needs points.services to answer an impossible date `invalid` instead of raising (fixed separately).
    at = _now()
    rows = [
        ["t1", "acct-0", "charge", 1000, at],
        ["t2", "acct-0", "charge", 1000, "2020-02-30T10:00:00+09:00"],
        ["t3", "acct-1", "charge", 1000, at],
    ]
    path = tmp_path / "feed.csv"
    path.write_text(_csv_text(rows), encoding="utf-8", newline="")
    results = _ingest(provider, path)
    assert [(r["line"], r["id"], r["status"]) for r in results] == [
        ("2", "t1", "granted"),
        ("3", "t2", "invalid"),
        ("4", "t3", "granted"),
    ]
    assert set(ProviderTransaction.objects.values_list("external_id", flat=True)) == {"t1", "t3"}
