"""`madoguchi sanitize`: clean copies and reports beside the inputs (or in --out), refusals on stderr."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from madoguchi.security.management.commands.sanitize import Command

from . import malicious as m


def test_clean_copies_and_reports_are_written_beside_the_inputs(tmp_path, capsys):
    (tmp_path / "写真.jpg").write_bytes(m.jpeg_with_gps())
    (tmp_path / "様式.docm").write_bytes(m.docm_with_autoopen())
    call_command(Command(), str(tmp_path / "写真.jpg"), str(tmp_path / "様式.docm"))
    assert (tmp_path / "写真.sanitized.jpg").is_file()
    assert (tmp_path / "様式.sanitized.docx").is_file()
    report = json.loads((tmp_path / "様式.sanitized.report.json").read_text(encoding="utf-8"))
    assert report["outcome"] == "sanitized" and report["output_filename"] == "様式.docx"
    assert any(f["code"] == "office.part_removed" for f in report["findings"])
    assert "sanitized" in capsys.readouterr().out


def test_out_dir_and_refusal_exit_status(tmp_path, capsys):
    (tmp_path / "bomb.zip").write_bytes(m.zip_bomb_ratio(5 * 1024 * 1024))
    (tmp_path / "a.pdf").write_bytes(m.pdf_with_javascript_and_attachment())
    out = tmp_path / "out"
    with pytest.raises(CommandError) as exc:
        call_command(Command(), str(tmp_path / "bomb.zip"), str(tmp_path / "a.pdf"), "--out", str(out))
    assert exc.value.returncode == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.sanitized.pdf", "a.sanitized.report.json"]
    assert not list(tmp_path.glob("bomb.sanitized*"))
    err = capsys.readouterr().err
    assert "bomb.zip" in err and "ZIP 爆弾" in err  # the reason, in Japanese first
