"""Office: macros found by olevba, stripped from OOXML (or refused where they cannot be), legacy files with
macros refused without LibreOffice."""

import io
import stat
import zipfile

import pikepdf

from madoguchi.security.sanitize import Policy, Tools, sanitize
from madoguchi.security.sanitize.office import olevba_parser
from madoguchi.security.sanitize.policy import OfficeMode

from . import malicious as m


def olevba(data: bytes, name: str) -> tuple[bool, list[str]]:
    parser = olevba_parser()(name, data=data)
    try:
        found = parser.detect_vba_macros()
        autoexec = (
            [kw for kind, kw, _ in (parser.analyze_macros() or []) if kind == "AutoExec"] if found else []
        )
        return found, autoexec
    finally:
        parser.close()


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_docm_with_autoopen_is_stripped_to_a_docx():
    data = m.docm_with_autoopen()
    assert olevba(data, "a.docm") == (True, ["AutoOpen"])  # olevba sees the auto-running macro
    result = sanitize(data, "申請書.docm", tools=Tools.none())
    report = result.report
    assert report.outcome == "sanitized" and report.output_filename == "申請書.docx"
    assert olevba(result.data, "a.docx") == (False, [])
    out = parts(result.data)
    assert "word/vbaProject.bin" not in out and "word/vbaData.xml" not in out
    assert "word/_rels/vbaProject.bin.rels" not in out
    types = out["[Content_Types].xml"].decode()
    assert "macroEnabled" not in types and "vbaProject" not in types and "vbaData" not in types
    assert "wordprocessingml.document.main+xml" in types
    assert b"vbaProject" not in out["word/_rels/document.xml.rels"]
    # The remote template (a way to fetch macros later) is gone, from the rels and from settings.
    assert b"evil.example" not in out["word/_rels/settings.xml.rels"]
    assert b"attachedTemplate" not in out["word/settings.xml"]
    # The https link stays, the file:// one loses its target but keeps its text.
    rels = out["word/_rels/document.xml.rels"].decode()
    assert "https://www.digital.go.jp/" in rels and "attacker" not in rels
    document = out["word/document.xml"].decode()
    assert document.count("r:id=") == 1 and "共有フォルダ" in document
    # The photo inside lost its GPS position.
    assert b"ExampleCam" not in out["word/media/image1.jpeg"]
    codes = [f.code for f in report.all_findings()]
    assert codes.count("office.part_removed") == 2 and "office.vba_found" in codes
    assert "image.gps_removed" in codes
    assert "AutoOpen" in next(f.ja for f in report.findings if f.code == "office.vba_found")


def test_xlsm_with_xlm_macro_sheet_and_auto_open_is_stripped():
    data = m.xlsm_with_xlm_macro_sheet()
    result = sanitize(data, "集計.xlsm", tools=Tools.none())
    assert result.report.output_filename == "集計.xlsx"
    out = parts(result.data)
    assert not [n for n in out if "macrosheet" in n or "vbaProject" in n]
    workbook = out["xl/workbook.xml"].decode()
    assert "Macro1" not in workbook and "Auto_Open" not in workbook
    assert "申請一覧" in workbook and "合計" in workbook  # the ordinary sheet and name stay
    assert "macrosheet" not in out["[Content_Types].xml"].decode()
    assert olevba(result.data, "a.xlsx") == (False, [])


def test_legacy_doc_with_autoopen_macro_is_refused_without_libreoffice():
    data = m.legacy_doc_with_macro()
    assert olevba(data, "old.doc") == (True, ["AutoOpen"])
    result = sanitize(data, "old.doc", tools=Tools.none())
    assert result.data is None
    assert [f.code for f in result.report.reasons] == ["office.ole_macros"]
    assert "office.vba_found" in {f.code for f in result.report.findings}


def test_legacy_doc_without_macros_passes_unchanged():
    data = m.legacy_doc_plain()
    result = sanitize(data, "old.doc", tools=Tools.none())
    assert result.data == data and result.report.outcome == "clean"


def test_dde_field_is_refused():
    result = sanitize(m.docx_with_dde(), "a.docx", tools=Tools.none())
    assert [f.code for f in result.report.reasons] == ["office.dde"]


def test_office_to_pdf_mode_refuses_without_libreoffice():
    result = sanitize(
        m.docm_with_autoopen(), "a.docm", policy=Policy(office_mode=OfficeMode.PDF), tools=Tools.none()
    )
    assert [f.code for f in result.report.reasons] == ["office.converter_missing"]


def test_legacy_macro_document_is_converted_when_a_converter_is_installed(tmp_path):
    """The LibreOffice adapter's command-line contract, with a stand-in `soffice` that writes a PDF (with
    JavaScript, to prove the converted file is then sanitized as a PDF)."""
    pdf = tmp_path / "converted.pdf"
    pdf.write_bytes(m.pdf_with_javascript_and_attachment())
    soffice = tmp_path / "soffice"
    soffice.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--outdir" ]; do shift; done\n'
        f'mkdir -p "$2" && cp "{pdf}" "$2/document.pdf"\n'
    )
    soffice.chmod(soffice.stat().st_mode | stat.S_IEXEC)
    result = sanitize(m.legacy_doc_with_macro(), "old.doc", tools=Tools(soffice=str(soffice)))
    assert result.report.output_filename == "old.pdf"
    codes = {f.code for f in result.report.findings}
    assert {"office.converted_to_pdf", "pdf.javascript_removed"} <= codes
    with pikepdf.open(io.BytesIO(result.data)) as out:
        assert len(out.pages) == 2 and "/OpenAction" not in out.Root


def test_embedded_ole_object_cannot_be_stripped_and_is_refused():
    """An OLE object (the carrier of Equation Editor exploits and packaged executables) inside a .docx."""
    members = parts(m.docm_with_autoopen())
    members["word/embeddings/oleObject1.bin"] = m.legacy_doc_plain()
    result = sanitize(m._zip(members), "a.docm", tools=Tools.none())
    assert [f.code for f in result.report.reasons] == ["office.ole_object"]
    assert "oleObject1.bin" in result.report.reasons[0].ja
