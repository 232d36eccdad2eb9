"""ZIP: bombs refused before they expand, unsafe names refused, members sanitized like uploads."""

import io
import zipfile

import pytest

from madoguchi.security.sanitize import Policy, Tools, sanitize

from . import malicious as m


def run(data: bytes, name: str = "a.zip", **policy):
    # Tests never time things (benchmarks do); refusing "before expanding" shows in the reason codes.
    return sanitize(data, name, policy=Policy(**policy), tools=Tools.none()), None


def codes(result) -> list[str]:
    return [f.code for f in result.report.reasons]


def test_high_ratio_bomb_is_refused_before_expanding():
    data = m.zip_bomb_ratio(20 * 1024 * 1024)
    assert len(data) < 40_000  # 20 MiB of zeros in a few kilobytes
    result, _ = run(data)
    assert codes(result) == ["zip.ratio"]


def test_nested_bomb_is_refused_at_the_inner_archive_before_expanding():
    data = m.zip_bomb_nested(copies=10, size=20 * 1024 * 1024)
    result, _ = run(data)
    assert codes(result) == ["zip.member_refused", "zip.ratio"]
    assert result.report.reasons[1].where == "inner0.zip"


def test_expansion_budget_is_shared_by_nesting_levels():
    data = m.zip_nested_over_budget(leaf_mib=1, width=4, outer=2)  # 8 MiB at each level, 16 MiB in all
    result, _ = run(data, zip_max_total_bytes=10 * 1024 * 1024)
    assert "zip.too_large" in codes(result)
    assert run(data)[0].data is not None  # within the default budget it is fine


def test_too_deep_nesting_is_refused():
    result, _ = run(m.zip_deeply_nested(5))
    assert codes(result)[-1] == "zip.too_deep"


def test_overlapping_members_bomb_is_refused():
    result, _ = run(m.zip_overlapping_bomb())
    assert codes(result) == ["zip.overlap"]


def test_path_traversal_is_refused():
    result, _ = run(m.zip_traversal())
    assert codes(result) == ["zip.path_traversal"]
    assert "../" in result.report.reasons[0].ja


@pytest.mark.parametrize("name", ["/etc/passwd", "C:/Windows/evil.dll", "..\\..\\evil.bat"])
def test_absolute_and_backslash_names_are_refused(name):
    result, _ = run(m.zip_of({name: b"x"}))
    assert codes(result) == ["zip.path_traversal"]


def test_members_are_sanitized_recursively():
    data = m.zip_of({
        "添付/申請書.pdf": m.pdf_with_javascript_and_attachment(),
        "添付/写真.jpg": m.jpeg_with_gps(),
        "添付/様式.docm": m.docm_with_autoopen(),
        "添付/inner.zip": m.zip_of({"photo.jpg": m.jpeg_with_gps()}),
    })  # fmt: skip
    result, _ = run(data)
    assert result.report.outcome == "sanitized"
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        names = zf.namelist()
        assert names == ["添付/申請書.pdf", "添付/写真.jpg", "添付/様式.docx", "添付/inner.zip"]
        assert b"app.alert" not in zf.read("添付/申請書.pdf")
        assert b"ExampleCam" not in zf.read("添付/写真.jpg")
        with zipfile.ZipFile(io.BytesIO(zf.read("添付/inner.zip"))) as inner:
            assert b"ExampleCam" not in inner.read("photo.jpg")
    where = {f.where.split(" › ")[0] for f in result.report.removals}
    assert where == {"添付/申請書.pdf", "添付/写真.jpg", "添付/様式.docm", "添付/inner.zip"}


def test_one_bad_member_refuses_the_archive():
    data = m.zip_of({"ok.pdf": m.pdf_plain(), "invoice.pdf.exe": b"MZ" + b"\x00" * 200})
    result, _ = run(data)
    assert codes(result) == ["zip.member_refused", "type.refused"]


def test_shift_jis_member_names_are_read_as_japanese():
    """Japanese Windows writes names in Shift_JIS without the UTF-8 flag; 表 ends in 0x5C (a backslash)."""

    class ShiftJisInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):  # what a Japanese Windows archiver writes: no UTF-8 flag
            return self.filename.encode("cp932"), self.flag_bits & ~0x800

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(ShiftJisInfo("資料/表.txt", (2024, 1, 1, 0, 0, 0)), "申請\n".encode())
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert zf.infolist()[0].flag_bits & 0x800 == 0 and "\\" in zf.namelist()[0]  # read as CP437
    result, _ = run(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        assert zf.namelist() == ["資料/表.txt"]
