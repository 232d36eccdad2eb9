"""Type by content, never by name: mismatches, unknown and named-but-refused types, deceptive names."""

import pytest

from madoguchi.security.sanitize import Tools, sanitize
from madoguchi.security.sanitize.detect import detect, extension_of

from . import malicious as m


def refused_codes(data: bytes, name: str) -> list[str]:
    result = sanitize(data, name, tools=Tools.none())
    assert result.data is None and result.report.outcome == "refused"
    return [f.code for f in result.report.reasons]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (m.jpeg_with_gps(), "申請書.pdf"),  # a JPEG calling itself a PDF
        (m.zip_of({"a.txt": b"x"}), "申請書.pdf"),  # a ZIP calling itself a PDF
        (m.pdf_plain(), "photo.jpg"),
        (m.docm_with_autoopen(), "book.xlsx"),  # Word content, Excel name
        (m.legacy_doc_plain(), "old.xls"),
    ],
)
def test_extension_content_mismatch_is_refused(data, name):
    assert refused_codes(data, name) == ["type.mismatch"]


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (b"MZ\x90\x00" + b"\x00" * 100, "Windows"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 50, "ELF"),
        (b"{\\rtf1\\ansi {\\object\\objemb}}", "RTF"),
        (b"<html><script>alert(1)</script></html>", "HTML"),
        (b"<?xml version='1.0'?><svg onload='x()'/>", "SVG"),
        (b"Rar!\x1a\x07\x00" + b"\x00" * 20, "RAR"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, "HEIF"),
    ],
)
def test_known_dangerous_types_are_refused_by_name(data, label):
    result = sanitize(data, "file.txt", tools=Tools.none())
    assert result.data is None
    assert [f.code for f in result.report.reasons] == ["type.refused"]
    assert label in result.report.reasons[0].ja


def test_unknown_binary_is_refused():
    assert refused_codes(bytes(range(256)) * 4, "data.bin") == ["type.unknown"]


def test_pdf_header_hidden_after_other_data_is_refused():
    assert refused_codes(b"GARBAGE!" * 10 + m.pdf_plain(), "x.pdf") == ["type.pdf_not_at_start"]


def test_deceptive_names_are_refused():
    # "report\u202efdp.exe" displays as "reportexe.pdf".
    assert refused_codes(m.pdf_plain(), "report\u202etxt.pdf") == ["name.bidi"]
    assert refused_codes(m.pdf_plain(), "report") == ["name.no_extension"]


def test_extension_is_what_windows_would_act_on():
    assert extension_of("a.PDF") == ".pdf"
    assert extension_of("a.exe. . ") == ".exe"
    assert extension_of("C:\\Users\\x\\a.docx") == ".docx"
    assert extension_of(".bashrc") == ""


def test_detection_of_accepted_types():
    assert detect(m.jpeg_with_gps()).name == "jpeg"
    assert detect(m.png_with_text()).name == "png"
    assert detect(m.gif_animated()).name == "gif"
    assert detect(m.webp_with_exif()).name == "webp"
    assert detect(m.pdf_plain()).name == "pdf"
    assert detect(m.docm_with_autoopen()).name == "docm"
    assert detect(m.xlsm_with_xlm_macro_sheet()).name == "xlsm"
    assert detect(m.legacy_doc_plain()).name == "doc"
    assert detect("氏名,住所\n山田,東京\n".encode("cp932")).name == "text"


def test_text_and_csv_pass_unchanged():
    data = "氏名,金額\n山田,=1+2\n".encode()
    result = sanitize(data, "一覧.csv", tools=Tools.none())
    assert result.data == data
    assert {f.code for f in result.report.findings} == {"text.checked", "text.formula_cells"}
