"""PDF: active content and embedded files removed, the document still opens with its pages."""

import io
import shutil
import zipfile

import pikepdf
import pytest

from madoguchi.security.sanitize import STRICT_PDF_POLICY, Policy, Tools, sanitize

from . import malicious as m


def test_javascript_open_action_and_embedded_file_are_removed():
    data = m.pdf_with_javascript_and_attachment()
    assert b"app.alert" in data and b"MZ\x90" in data
    result = sanitize(data, "申請書.pdf", tools=Tools.none())
    assert result.report.outcome == "sanitized"
    codes = {f.code for f in result.report.findings}
    assert {
        "pdf.javascript_removed", "pdf.open_action_removed", "pdf.additional_actions_removed",
        "pdf.embedded_files_removed", "pdf.launch_removed", "pdf.uri_removed", "pdf.xfa_removed",
        "pdf.annotations_removed",
    } <= codes  # fmt: skip
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert len(pdf.pages) == 2
        root = pdf.Root
        assert "/OpenAction" not in root and "/AA" not in root
        assert "/JavaScript" not in root.Names and "/EmbeddedFiles" not in root.Names
        assert "/XFA" not in root.AcroForm
        assert "/AA" not in pdf.pages[0].obj
        assert len(pdf.attachments) == 0
        annots = list(pdf.pages[0].obj.Annots)
        assert [str(a.Subtype) for a in annots] == ["/Link", "/Link", "/Link"]
        uris = [str(a.A.URI) for a in annots if "/A" in a]
        assert uris == ["https://www.digital.go.jp/"]  # the web link stays; Launch and file: went
        assert "/A" not in root.Outlines.First  # the bookmark that ran JavaScript
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                assert "/JS" not in obj and obj.get("/Type") != "/EmbeddedFile"
    assert b"app.alert" not in result.data and b"malware" not in result.data


def test_pdf_with_appended_zip_is_neutralised():
    """Polyglot: a PDF that a ZIP tool also opens. Neutralised: the rewrite keeps only reachable objects."""
    data = m.pdf_with_appended_zip()
    assert zipfile.is_zipfile(io.BytesIO(data))
    result = sanitize(data, "x.pdf", tools=Tools.none())
    assert "pdf.trailing_data_removed" in {f.code for f in result.report.findings}
    assert not zipfile.is_zipfile(io.BytesIO(result.data))
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert len(pdf.pages) == 1


def test_plain_pdf_is_clean():
    result = sanitize(m.pdf_plain(3), "a.pdf", tools=Tools.none())
    assert result.report.outcome == "clean" and result.report.findings == []


def test_encrypted_pdf_is_refused():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    buf = io.BytesIO()
    pdf.save(buf, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    result = sanitize(buf.getvalue(), "a.pdf", tools=Tools.none())
    assert [f.code for f in result.report.reasons] == ["pdf.encrypted"]


def test_strict_mode_without_pdftoppm_refuses_with_a_reason():
    result = sanitize(m.pdf_plain(), "a.pdf", policy=STRICT_PDF_POLICY, tools=Tools.none())
    assert result.data is None
    assert [f.code for f in result.report.reasons] == ["pdf.rasterizer_missing"]
    assert "pdftoppm" in result.report.reasons[0].ja


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_strict_mode_renders_pages_and_rebuilds():
    data = m.pdf_with_javascript_and_attachment()
    policy = Policy(pdf_mode=STRICT_PDF_POLICY.pdf_mode, pdf_raster_dpi=50)
    result = sanitize(data, "a.pdf", policy=policy, tools=Tools(pdftoppm=shutil.which("pdftoppm")))
    assert result.report.outcome == "sanitized"
    assert "pdf.rasterized" in {f.code for f in result.report.findings}
    with pikepdf.open(io.BytesIO(result.data)) as pdf:
        assert len(pdf.pages) == 2
        assert "/Names" not in pdf.Root and "/AcroForm" not in pdf.Root
        width = float(pdf.pages[0].mediabox[2])
        assert abs(width - 595) < 2  # the page keeps its size
        xobjects = pdf.pages[0].Resources.XObject
        assert [str(x.Subtype) for x in xobjects.values()] == ["/Image"]
