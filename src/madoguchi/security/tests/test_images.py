"""Images are decoded and re-encoded: metadata (GPS first of all) does not survive; floods never decode."""

import io

import pytest
from PIL import Image

from madoguchi.security.sanitize import Policy, Tools, sanitize
from madoguchi.security.sanitize.images import verify_image

from . import malicious as m


def run(data: bytes, name: str, **policy):
    return sanitize(data, name, policy=Policy(**policy), tools=Tools.none())


def test_gps_exif_xmp_and_comment_are_gone():
    data = m.jpeg_with_gps()
    before = Image.open(io.BytesIO(data))
    assert before.getexif().get_ifd(0x8825)  # the fixture really carries a GPS position
    result = run(data, "現場写真.jpg")
    assert result.report.outcome == "sanitized"
    codes = {f.code for f in result.report.findings}
    assert {"image.gps_removed", "image.metadata_removed"} <= codes
    after = Image.open(io.BytesIO(result.data))
    assert not after.getexif() and not after.getexif().get_ifd(0x8825)
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(after.info)
    assert b"Exif" not in result.data and b"ExampleCam" not in result.data and b"xmpmeta" not in result.data
    assert after.size == before.size


def test_orientation_is_applied_to_the_pixels_before_exif_goes():
    result = run(m.jpeg_with_gps(size=(64, 48), orientation=6), "p.jpg")
    assert Image.open(io.BytesIO(result.data)).size == (48, 64)


def test_png_text_chunks_are_gone_and_transparency_stays():
    result = run(m.png_with_text(), "a.png")
    assert "山田".encode() not in result.data and b"tEXt" not in result.data and b"iTXt" not in result.data
    after = Image.open(io.BytesIO(result.data))
    assert after.mode == "RGBA" and after.getpixel((0, 0))[3] == 128


def test_animated_gif_keeps_frames_loses_comment():
    result = run(m.gif_animated(), "a.gif")
    after = Image.open(io.BytesIO(result.data))
    assert after.n_frames == 3 and "comment" not in after.info


def test_webp_exif_is_gone():
    result = run(m.webp_with_exif(), "a.webp")
    assert b"EXIF" not in result.data and b"ExampleCam" not in result.data


def test_pixel_flood_is_refused_from_the_header():
    data = m.png_pixel_flood(100_000, 100_000)
    result = run(data, "flood.png")
    assert [f.code for f in result.report.reasons] == ["image.pixel_flood"]
    assert "100000×100000" in result.report.reasons[0].ja


def test_pixel_limit_is_a_policy():
    data = io.BytesIO()
    Image.new("RGB", (200, 200)).save(data, "PNG")
    assert run(data.getvalue(), "a.png", max_image_pixels=10_000).data is None
    assert run(data.getvalue(), "a.png").data is not None


def test_jpeg_that_is_also_a_zip_is_neutralised():
    """Polyglot: a valid JPEG with a ZIP appended (zip tools read it from the end). Neutralised, not refused:
    re-encoding keeps only pixels, so the output is no longer a ZIP; the report says what was found."""
    import zipfile

    data = m.jpeg_zip_polyglot()
    assert zipfile.is_zipfile(io.BytesIO(data))  # the fixture really is both
    result = run(data, "photo.jpg")
    assert result.data is not None
    assert "image.polyglot" in {f.code for f in result.report.findings}
    assert not zipfile.is_zipfile(io.BytesIO(result.data)) and b"PK" not in result.data[-100:]
    Image.open(io.BytesIO(result.data)).verify()


def test_verification_refuses_metadata_left_behind():
    from madoguchi.security.sanitize import Refused

    with pytest.raises(Refused):
        verify_image(m.jpeg_with_gps(), "jpeg")
    with pytest.raises(Refused):
        verify_image(m.png_with_text(), "png")
