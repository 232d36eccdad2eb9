"""`madoguchi anonymize --mode pseudonymize`: 仮名加工情報 (規則 第31条) from the command line. Identifiers,
identification codes and financial-harm items removed, linking codes as keyed tokens with a key read from a
file (never an argument), the report marked internal use only with the processing record."""

import hashlib
import hmac
import json
import os

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.privacy.management.commands.anonymize import Command

KEY = b"pseudonymization-test-key-0123456789"
ROWS = (
    "name,my_number,resident_id,card,memo,age,sex,visits\n"
    "山田太郎,123456789018,R1,4111111111111111,5970-4400-3437,34,M,1\n"
    "佐藤花子,621498320257,R2,5555555555554444,１２３４ ５６７８ ９０１８,36,F,2\n"
    "鈴木一郎,100000000005,R1,4012888888881881,6214ー9832ー0257,101,F,3\n"
)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "in.csv").write_text(ROWS, encoding="utf-8")
    key = tmp_path / "token.key"
    key.write_bytes(KEY + b"\n")
    os.chmod(key, 0o600)
    return tmp_path


def run(tmp_path, *args, stdout=None, stderr=None):
    out, report = tmp_path / "o.csv", tmp_path / "r.json"
    call_command(
        Command(), "--input", str(tmp_path / "in.csv"), *args, "--out", str(out), "--report", str(report),
        verbosity=0, stdout=stdout, stderr=stderr,
    )  # fmt: skip
    return pl.read_csv(out, infer_schema=False), json.loads(report.read_text(encoding="utf-8"))


def token(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:32]


def test_pseudonymize_end_to_end(files, capsys):
    table, report = run(
        files, "--mode", "pseudonymize", "--identifiers", "name", "--id-codes", "my_number",
        "--linking", "resident_id", "--financial", "card", "--token-key-file", str(files / "token.key"),
    )  # fmt: skip
    # Identifiers, identification codes (declared, and the undeclared written My Numbers in memo) and the
    # financial item are gone; the rest is kept as it was (no generalization: this is not anonymization).
    assert table.columns == ["resident_id", "age", "sex", "visits"]
    assert table["age"].to_list() == ["34", "36", "101"]
    # The linking code is a keyed token: the same resident, the same token; not the raw value.
    assert table["resident_id"].to_list() == [token("R1"), token("R2"), token("R1")]
    assert report["mode"] == "pseudonymize" and report["kind"].startswith("仮名加工情報")
    assert report["internal_use_only"] is True
    assert report["notice_ja"].startswith("仮名加工情報: 事業者内部での利用に限る")
    assert "internal use only" in report["notice_en"]
    assert report["deleted_columns"] == ["name", "my_number", "memo", "card"]
    assert report["tokenized_columns"] == ["resident_id"]
    record = report["processing_record"]
    assert record["kind"] == "pseudonymized" and record["internal_use_only"] is True
    assert [s["step"] for s in record["steps"]] == ["P1", "P2", "P3", "P4"]
    steps = {s["step"]: s for s in record["steps"]}
    assert steps["P2"]["details"] == {"declared": ["my_number"], "detected_as_my_number": ["memo"]}
    assert steps["P3"]["action"] == "tokenized"
    assert steps["P4"]["details"] == {"declared": ["card"], "detected_as_card_number": []}
    assert record["rows_out"] == 3 and record["columns_out"] == table.columns
    assert report["output"]["rows"] == 3 and report["input"]["rows"] == 3
    # The key is in neither output, nor its file name.
    written = (files / "o.csv").read_text(encoding="utf-8") + (files / "r.json").read_text(encoding="utf-8")
    assert KEY.decode() not in written and "token.key" not in written
    assert "R1" not in written and "山田" not in written and "4111" not in written
    assert "内部利用に限る" in capsys.readouterr().out


def test_undeclared_card_numbers_are_found_and_linking_codes_deleted_without_a_key(files):
    table, report = run(files, "--mode", "pseudonymize", "--identifiers", "name", "--linking", "resident_id")
    assert table.columns == ["age", "sex", "visits"]
    steps = {s["step"]: s for s in report["processing_record"]["steps"]}
    assert steps["P2"]["details"]["detected_as_my_number"] == ["my_number", "memo"]
    assert steps["P3"]["action"] == "deleted" and steps["P3"]["columns"] == ["resident_id"]
    assert steps["P4"]["details"]["detected_as_card_number"] == ["card"]
    assert report["tokenized_columns"] == [] and "resident_id" in report["deleted_columns"]


def test_the_default_mode_is_still_anonymize(files):
    (files / "h").mkdir()
    (files / "h" / "sex.csv").write_text("M;*\nF;*\n", encoding="utf-8")
    table, report = run(
        files, "--identifiers", "name", "--hierarchies", str(files / "h"), "--qi", "sex", "--k", "1"
    )
    assert report["mode"] == "anonymize" and report["processing_record"]["kind"] == "anonymized"
    assert "internal_use_only" not in report and not report["processing_record"]["internal_use_only"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "pseudonymize", "--k", "5"], "^--k は --mode anonymize でだけ使えます"),
        (["--mode", "pseudonymize", "--qi", "age", "--suppression", "0.1"], "^--qi, --suppression は"),
        (["--financial", "card", "--qi", "sex", "--hierarchies", "."], "^--financial は --mode pseudonymize"),
        (["--qi", "sex"], "^--hierarchies に階層ファイルのフォルダを指定してください"),
        (
            ["--mode", "pseudonymize", "--linking", "resident_id", "--token-key-file", "missing.key"],
            "^トークン化の鍵ファイルを読めません",
        ),
    ],
)
def test_options_of_the_other_mode_and_a_missing_key_are_refused(files, args, message):
    with pytest.raises(CommandError, match=message):
        run(files, *args)
    assert not (files / "o.csv").exists() and not (files / "r.json").exists()


def test_a_short_key_is_refused_and_the_key_is_never_an_argument(files):
    short = files / "short.key"
    short.write_bytes(b"too-short\n")
    with pytest.raises(CommandError, match="^トークン化の鍵は16バイト以上です"):
        run(files, "--mode", "pseudonymize", "--linking", "resident_id", "--token-key-file", str(short))
    with pytest.raises(CommandError, match="unrecognized arguments"):
        run(files, "--mode", "pseudonymize", "--token-key", KEY.decode())
    assert not (files / "o.csv").exists()


def test_a_key_file_others_can_read_is_warned_about(files):
    import io

    os.chmod(files / "token.key", 0o644)
    err = io.StringIO()
    run(files, "--mode", "pseudonymize", "--linking", "resident_id", "--token-key-file", str(files / "token.key"),
        stderr=err)  # fmt: skip
    assert "所有者以外も読めます" in err.getvalue() and "chmod 600" in err.getvalue()
