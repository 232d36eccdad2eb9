"""Images: decode, re-encode, nothing else survives.

Only pixels (and, for animations, frame timing) cross. Metadata is never copied: EXIF (GPS position, camera,
time), XMP, IPTC, comments, PNG text chunks. Orientation from EXIF is applied to the pixels first so that the
picture still stands the right way up without it.

ICC profiles: not carried. A profile is a small program-like binary that colour engines parse (a history of
parser bugs) and can hold free text; instead, when the image has one that LittleCMS reads, the pixels are
converted to sRGB with it, so that a wide-gamut photo keeps its colours; an unreadable profile is dropped.

Pixel floods: the size in the header is checked before any pixel is decoded (Pillow reads only headers on
open), against the policy; Pillow's own global limit is set as a second line.

The output is then parsed again by our own chunk/marker walkers, which refuse the file if any metadata block
survived: the check does not trust the encoder.
"""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, ImageCms, ImageSequence

from .errors import Refused
from .report import Action, Report
from .zipsafe import Context

# Pillow's own limit (it warns above this and raises above twice this), set once for the process. The
# policy's limit is checked first and is what normally refuses a flood.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_IMAGE_PIXELS

PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
_METADATA_KEYS = {
    "exif": "EXIF",
    "xmp": "XMP",
    "XML:com.adobe.xmp": "XMP",
    "icc_profile": "ICC",
    "photoshop": "Photoshop/IPTC",
    "iptc": "IPTC",
    "comment": "comment",
    "adobe": "Adobe",
}
# Other formats' signatures found inside an image: a polyglot (e.g. a JPEG that is also a ZIP).
_FOREIGN = [
    (re.compile(rb"PK\x03\x04|PK\x05\x06"), "ZIP"),
    (re.compile(rb"%PDF-"), "PDF"),
    (re.compile(rb"<script|<\?php|<html|<svg", re.I), "HTML/script"),
]
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
# EXIF orientation → the transposition that makes the pixels upright (EXIF 2.3, tag 274).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def foreign_content(data: bytes) -> list[str]:
    return [label for pattern, label in _FOREIGN if pattern.search(data)]


def sanitize_image(data: bytes, kind: str, report: Report, ctx: Context) -> bytes:
    policy = ctx.policy
    fmt = PIL_FORMATS[kind]
    for label in foreign_content(data):
        report.add("image.polyglot", Action.REMOVED, other=label)
    size = header_size(data, kind)
    if size is not None and size[0] * size[1] > policy.max_image_pixels:
        raise Refused("image.pixel_flood", width=size[0], height=size[1], limit=policy.max_image_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = im.size
            if width * height > policy.max_image_pixels or width <= 0 or height <= 0:
                raise Refused("image.pixel_flood", width=width, height=height, limit=policy.max_image_pixels)
            _note_metadata(im, report)
            frames = _decode_frames(im, policy.max_frames, policy.max_animation_pixels)
        except Refused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Refused("image.pixel_flood", width=0, height=0, limit=policy.max_image_pixels) from None
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
            # Pillow reports broken images as OSError/SyntaxError; truncated data as OSError.
            raise Refused("type.corrupt", type=fmt) from None
    out = _encode(frames, kind, im, policy.jpeg_quality, data)
    verify_image(out, kind)
    return out


def _note_metadata(im: Image.Image, report: Report) -> None:
    found = sorted({label for key, label in _METADATA_KEYS.items() if im.info.get(key)})
    exif = im.getexif()
    if exif:
        if "EXIF" not in found:
            found.append("EXIF")
        if exif.get_ifd(_GPS_IFD) or _GPS_IFD in exif:
            report.add("image.gps_removed", Action.REMOVED)
    text_chunks = [k for k, v in im.info.items() if isinstance(v, str) and k not in _METADATA_KEYS]
    if text_chunks:
        found.append("text")
    if found:
        report.add("image.metadata_removed", Action.REMOVED, kinds=", ".join(found))


def _decode_frames(im: Image.Image, max_frames: int, max_animation_pixels: int) -> list[Image.Image]:
    frames: list[Image.Image] = []
    pixels = 0
    for frame in ImageSequence.Iterator(im):
        if len(frames) >= max_frames:
            raise Refused("image.too_many_frames", limit=max_frames)
        pixels += frame.size[0] * frame.size[1]
        if pixels > max_animation_pixels:
            raise Refused(
                "image.pixel_flood", width=frame.size[0], height=frame.size[1], limit=max_animation_pixels
            )
        frame.load()
        clean = _to_srgb(frame)
        # Per-frame timing is all an animation needs; every other info key stays behind.
        clean.info = {k: frame.info[k] for k in ("duration", "transparency") if k in frame.info}
        frames.append(clean)
    orientation = im.getexif().get(_ORIENTATION, 1)
    if len(frames) == 1 and orientation in _TRANSPOSE:
        info = frames[0].info
        frames[0] = frames[0].transpose(_TRANSPOSE[orientation])
        frames[0].info = info
    return frames


def _to_srgb(frame: Image.Image) -> Image.Image:
    profile = frame.info.get("icc_profile")
    if profile and frame.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            target_mode = "RGBA" if frame.mode == "RGBA" else ("L" if frame.mode == "L" else "RGB")
            target = ImageCms.createProfile("sRGB") if target_mode != "L" else None
            if target is not None:
                return ImageCms.profileToProfile(frame, source, target, outputMode=target_mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unreadable profile is dropped; the pixels stay as they are
    return frame.copy()


def _encode(frames: list[Image.Image], kind: str, original: Image.Image, quality: int, data: bytes) -> bytes:
    buf = io.BytesIO()
    first = frames[0]
    if kind == "jpeg":
        if first.mode not in ("RGB", "L", "CMYK"):
            first = first.convert("RGB")
        first.info = {}
        first.save(buf, "JPEG", quality=quality, exif=b"", icc_profile=None)
    elif kind == "png":
        params = {}
        if "transparency" in first.info:
            params["transparency"] = first.info["transparency"]
        first.info = {}
        first.save(buf, "PNG", **params)
    elif kind == "gif":
        params = {}
        if len(frames) > 1:
            params.update(
                save_all=True,
                append_images=frames[1:],
                duration=[f.info.get("duration", 100) for f in frames],
                loop=original.info.get("loop", 0),
            )
        if "transparency" in first.info and first.mode == "P":
            params["transparency"] = first.info["transparency"]
        for f in frames:
            f.info = {}
        first.save(buf, "GIF", **params)
    elif kind == "webp":
        lossless = data[12:16] == b"VP8L"
        params = {"lossless": lossless, "quality": 100 if lossless else quality, "exif": b"", "xmp": b""}
        if len(frames) > 1:
            params.update(
                save_all=True,
                append_images=frames[1:],
                duration=[f.info.get("duration", 100) for f in frames],
                loop=original.info.get("loop", 0),
            )
        for f in frames:
            f.info = {}
        first.save(buf, "WEBP", **params)
    return buf.getvalue()


def header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read from the header by hand, before any decoder sees the file; None if not found."""
    try:
        if kind == "png" and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if kind == "gif":
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if kind == "webp":
            chunk = data[12:16]
            if chunk == b"VP8X":
                return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            if chunk == b"VP8 ":
                return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(
                    data[28:30], "little"
                ) & 0x3FFF
        if kind == "jpeg":
            i = 2
            while i + 9 < len(data) and data[i] == 0xFF:
                marker = data[i + 1]
                if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                    return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                        data[i + 5 : i + 7], "big"
                    )
                i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    except IndexError:
        return None
    return None


# --- Verification by our own parsers --------------------------------------------------------------------
# SOFn, DHT, DQT, DRI, SOS, SOI/EOI, JFIF (APP0) and Adobe's colour-transform flag (APP14, CMYK files).
_JPEG_ALLOWED = {0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xDB, 0xDD, 0xDA, 0xD9, 0xD8, 0xE0, 0xEE}
_PNG_ALLOWED = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"pHYs", b"gAMA", b"cHRM", b"sRGB", b"sBIT"}
_WEBP_ALLOWED = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"}


def verify_image(out: bytes, kind: str) -> None:
    """Refuse unless the re-encoded file holds nothing but image data blocks."""
    blocks = {"jpeg": _jpeg_markers, "png": _png_chunks, "webp": _webp_chunks, "gif": _gif_blocks}[kind](out)
    allowed = {"jpeg": _JPEG_ALLOWED, "png": _PNG_ALLOWED, "webp": _WEBP_ALLOWED, "gif": {"ok"}}[kind]
    left = [b for b in blocks if b not in allowed]
    if left:
        raise Refused("image.metadata_left", blocks=repr(left[:5]))


def _jpeg_markers(data: bytes) -> list[int]:
    markers, i = [0xD8], 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return [-1]
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows to the end of image
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        i += 2 + length
    if not data.endswith(b"\xff\xd9"):
        markers.append(-2)  # anything after the end of image
    return markers


def _png_chunks(data: bytes) -> list[bytes]:
    chunks, i = [], 8
    while i + 8 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        chunks.append(data[i + 4 : i + 8])
        i += 12 + length
    if i != len(data):
        chunks.append(b"trailing")
    return chunks


def _webp_chunks(data: bytes) -> list[bytes]:
    chunks, i = [], 12
    while i + 8 <= len(data):
        length = int.from_bytes(data[i + 4 : i + 8], "little")
        chunks.append(data[i : i + 4])
        i += 8 + length + (length & 1)
    if i != len(data):
        chunks.append(b"trailing")
    # VP8X carries flags announcing EXIF/XMP/ICC: none may be set (bits 3, 2, 5).
    if b"VP8X" in chunks and data[20] & 0b00101100:
        chunks.append(b"VP8X-metadata-flags")
    return chunks


def _gif_blocks(data: bytes) -> list[str]:
    """GIF: no comment, plain-text or application extension except the NETSCAPE loop block."""
    blocks: list[str] = []
    i = 13
    flags = data[10]
    if flags & 0x80:
        i += 3 * (2 ** ((flags & 7) + 1))
    while i < len(data):
        b = data[i]
        if b == 0x3B:  # trailer
            if i + 1 != len(data):
                blocks.append("trailing")
            break
        if b == 0x21:
            label = data[i + 1]
            if label == 0xFF and data[i + 3 : i + 14] != b"NETSCAPE2.0":
                blocks.append("application-extension")
            elif label in (0xFE, 0x01):
                blocks.append("comment")
            i += 2
            while i < len(data) and data[i]:
                i += data[i] + 1
            i += 1
        elif b == 0x2C:
            local = data[i + 9]
            i += 10
            if local & 0x80:
                i += 3 * (2 ** ((local & 7) + 1))
            i += 1  # LZW minimum code size
            while i < len(data) and data[i]:
                i += data[i] + 1
            i += 1
        else:
            blocks.append("unknown")
            break
    return blocks or ["ok"]
