"""The real type of a file, from its bytes alone ("magic bytes"); the name's extension is only checked against it.

Only the types that have a sanitizer are accepted. Every other file is refused: some by name (executables,
RTF, HTML, other archive formats…) so that staff see what it was, the rest as unknown.
"""

from __future__ import annotations

import io
import posixpath
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from .errors import Refused


@dataclass(frozen=True)
class Kind:
    name: str
    family: str  # "image" | "pdf" | "archive" | "ooxml" | "ole" | "odf" | "text"
    extensions: tuple[str, ...]  # accepted, lower case with the dot; the first is the canonical one
    label: str
    group: str = ""  # for Office: "word" | "excel" | "powerpoint"; an extension of the same group is accepted
    macro_free: str = ""  # for macro-enabled OOXML: the kind it becomes once its macros are stripped


def _k(name, family, exts, label, group="", macro_free=""):
    return Kind(name, family, tuple(exts.split()), label, group, macro_free)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        _k("jpeg", "image", ".jpg .jpeg .jpe .jfif", "JPEG"),
        _k("png", "image", ".png", "PNG"),
        _k("gif", "image", ".gif", "GIF"),
        _k("webp", "image", ".webp", "WebP"),
        _k("pdf", "pdf", ".pdf", "PDF"),
        _k("zip", "archive", ".zip", "ZIP"),
        _k("docx", "ooxml", ".docx", "Word (.docx)", "word"),
        _k("docm", "ooxml", ".docm", "Word マクロ有効 (.docm)", "word", "docx"),
        _k("dotx", "ooxml", ".dotx", "Word テンプレート (.dotx)", "word"),
        _k("dotm", "ooxml", ".dotm", "Word マクロ有効テンプレート (.dotm)", "word", "dotx"),
        _k("xlsx", "ooxml", ".xlsx", "Excel (.xlsx)", "excel"),
        _k("xlsm", "ooxml", ".xlsm", "Excel マクロ有効 (.xlsm)", "excel", "xlsx"),
        _k("xltx", "ooxml", ".xltx", "Excel テンプレート (.xltx)", "excel"),
        _k("xltm", "ooxml", ".xltm", "Excel マクロ有効テンプレート (.xltm)", "excel", "xltx"),
        _k("xlsb", "ooxml", ".xlsb", "Excel バイナリ (.xlsb)", "excel"),
        _k("xlam", "ooxml", ".xlam", "Excel アドイン (.xlam)", "excel"),
        _k("pptx", "ooxml", ".pptx", "PowerPoint (.pptx)", "powerpoint"),
        _k("pptm", "ooxml", ".pptm", "PowerPoint マクロ有効 (.pptm)", "powerpoint", "pptx"),
        _k("ppsx", "ooxml", ".ppsx", "PowerPoint スライドショー (.ppsx)", "powerpoint"),
        _k("ppsm", "ooxml", ".ppsm", "PowerPoint マクロ有効スライドショー (.ppsm)", "powerpoint", "ppsx"),
        _k("potx", "ooxml", ".potx", "PowerPoint テンプレート (.potx)", "powerpoint"),
        _k("potm", "ooxml", ".potm", "PowerPoint マクロ有効テンプレート (.potm)", "powerpoint", "potx"),
        _k("ppam", "ooxml", ".ppam", "PowerPoint アドイン (.ppam)", "powerpoint"),
        _k("doc", "ole", ".doc .dot", "Word 97-2003 (.doc)", "word"),
        _k("xls", "ole", ".xls .xlt", "Excel 97-2003 (.xls)", "excel"),
        _k("ppt", "ole", ".ppt .pps .pot", "PowerPoint 97-2003 (.ppt)", "powerpoint"),
        _k("odt", "odf", ".odt", "OpenDocument テキスト (.odt)"),
        _k("ods", "odf", ".ods", "OpenDocument スプレッドシート (.ods)"),
        _k("odp", "odf", ".odp", "OpenDocument プレゼンテーション (.odp)"),
        _k("text", "text", ".txt .csv .tsv", "テキスト / CSV"),
    ]
}

OOXML_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.ms-word.document.macroEnabled.main+xml": "docm",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "dotx",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": "dotm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xltx",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xltm",
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": "xlsb",
    "application/vnd.ms-excel.addin.macroEnabled.main+xml": "xlam",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": "pptm",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": "ppsx",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": "ppsm",
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": "potx",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml": "potm",
    "application/vnd.ms-powerpoint.addin.macroEnabled.main+xml": "ppam",
}
ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}

# Known types that are refused by name. (prefix, offset, label)
_REFUSED_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"MZ", 0, "Windows 実行ファイル (EXE/DLL)"),
    (b"\x7fELF", 0, "ELF 実行ファイル"),
    (b"\xcf\xfa\xed\xfe", 0, "Mach-O 実行ファイル"),
    (b"\xce\xfa\xed\xfe", 0, "Mach-O 実行ファイル"),
    (b"\xca\xfe\xba\xbe", 0, "Java クラス / Mach-O"),
    (b"#!", 0, "スクリプト"),
    (b"{\\rtf", 0, "RTF"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7-Zip"),
    (b"Rar!\x1a\x07", 0, "RAR"),
    (b"\x1f\x8b", 0, "gzip"),
    (b"BZh", 0, "bzip2"),
    (b"\xfd7zXZ\x00", 0, "xz"),
    (b"MSCF", 0, "CAB"),
    (b"ITSF", 0, "HTML ヘルプ (CHM)"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", 0, "Windows ショートカット (LNK)"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"%!PS", 0, "PostScript"),
    (b"FWS", 0, "Flash (SWF)"),
    (b"CWS", 0, "Flash (SWF)"),
    (b"ZWS", 0, "Flash (SWF)"),
    (b"\x00asm", 0, "WebAssembly"),
    (b"CD001", 0x8001, "ディスクイメージ (ISO)"),
]
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_MARKUP = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:\?xml|!doctype|html|svg|script|head|body|\?php|!--)", re.I)

# C0 and C1 control characters except tab, line feed, form feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
# Unicode format characters that make a name display differently from what it is ("abc\u202egpj.exe").
_BIDI = {
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
}


def kind(name: str) -> Kind:
    return KINDS[name]


def extension_of(filename: str) -> str:
    """The extension that a desktop would act on, lower case with its dot ("" when there is none).

    Windows drops trailing dots and spaces ("a.exe." opens as "a.exe"), so they are dropped here too.
    """
    base = posixpath.basename(filename.replace("\\", "/")).rstrip(". ")
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def check_filename(filename: str) -> None:
    if any(ch in _BIDI for ch in filename):
        raise Refused("name.bidi")
    if any(unicodedata.category(ch) == "Cc" for ch in filename):
        raise Refused("name.control")


def check_extension(detected: Kind, filename: str) -> None:
    """Refuse a name whose extension does not belong to the detected type.

    Office files may carry any extension of their own application ("report.docx" that holds a macro-enabled
    document is the same Word family; it leaves here as a .docx either way).
    """
    ext = extension_of(filename)
    if not ext:
        raise Refused("name.no_extension", type=detected.label)
    if ext in detected.extensions:
        return
    if detected.group and detected.family in ("ooxml", "ole"):
        if any(k.group == detected.group and k.family == detected.family and ext in k.extensions
               for k in KINDS.values()):  # fmt: skip
            return
    raise Refused("type.mismatch", ext=ext, type=detected.label)


def detect(data: bytes, *, max_xml_bytes: int = 4 * 1024 * 1024) -> Kind:
    """The kind of `data`, or Refused naming what it is (or that it is unknown)."""
    if not data:
        raise Refused("type.empty")
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return KINDS["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["png"]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return KINDS["gif"]
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return KINDS["webp"]
    if head.startswith(b"%PDF-"):
        return KINDS["pdf"]
    if head.startswith(ZIP_MAGICS):
        return _detect_zip(data, max_xml_bytes)
    if head.startswith(OLE_MAGIC):
        return _detect_ole(data)
    for magic, offset, label in _REFUSED_SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            raise Refused("type.refused", type=label)
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        raise Refused("type.refused", type="HEIF/AVIF 画像" if brand in _HEIF_BRANDS else "動画 (MP4/MOV)")
    if head.startswith(b"BM") and len(data) >= 6 and int.from_bytes(data[2:6], "little") == len(data):
        raise Refused("type.refused", type="BMP")
    if b"%PDF-" in data[:1024]:
        # Readers accept a PDF header anywhere in the first kilobyte: a file that hides one after other data
        # is a polyglot made to be read as two things.
        raise Refused("type.pdf_not_at_start")
    if _MARKUP.match(data[:256]):
        raise Refused("type.refused", type="HTML / XML / SVG")
    if is_text(data):
        return KINDS["text"]
    raise Refused("type.unknown")


def is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return not _CONTROL.search(text)
    return False


def _detect_ole(data: bytes) -> Kind:
    import olefile

    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any parser failure means "not a file we can read"
        raise Refused("type.corrupt", type="OLE") from None
    try:
        roots = {entry[0].lower() for entry in ole.listdir(streams=True, storages=True) if entry}
    finally:
        ole.close()
    if "encryptedpackage" in roots or "encryptioninfo" in roots:
        raise Refused("office.encrypted")
    if "worddocument" in roots:
        return KINDS["doc"]
    if "workbook" in roots or "book" in roots:
        return KINDS["xls"]
    if "powerpoint document" in roots:
        return KINDS["ppt"]
    raise Refused("type.refused", type="OLE 複合ファイル (Office 文書以外: MSI, MSG など)")


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit or info.flag_bits & 0x1:
        raise Refused("office.package_invalid", part=info.filename)
    with zf.open(info) as fh:
        return fh.read(limit + 1)[:limit]


def _detect_zip(data: bytes, max_xml_bytes: int) -> Kind:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise Refused("type.corrupt", type="ZIP") from None
    by_name = {i.filename: i for i in infos}
    if "mimetype" in by_name and infos and infos[0].filename == "mimetype":
        mime = _read_small(zf, by_name["mimetype"], 200).decode("ascii", "replace").strip()
        if mime in ODF_MIMETYPES:
            return KINDS[ODF_MIMETYPES[mime]]
        if mime.startswith("application/vnd.oasis.opendocument"):
            raise Refused("type.refused", type=f"OpenDocument ({mime})")
    if "[Content_Types].xml" in by_name:
        return KINDS[_ooxml_kind(zf, by_name, max_xml_bytes)]
    names = {n.lower() for n in by_name}
    if "meta-inf/manifest.mf" in names or "classes.dex" in names or "androidmanifest.xml" in names:
        raise Refused("type.refused", type="Java / Android アプリケーション (JAR/APK)")
    return KINDS["zip"]


REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_DOCUMENT_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
    "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument",
)


def parse_xml(raw: bytes, part: str) -> ElementTree.Element:
    """Parse a package part, refusing DTDs: OOXML never needs one, and entity expansion is a bomb."""
    upper = raw.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise Refused("office.dtd", part=part)
    try:
        return ElementTree.fromstring(raw)  # noqa: S314 - DTDs refused above; no external entities in stdlib
    except ElementTree.ParseError:
        raise Refused("office.package_invalid", part=part) from None


def main_part(zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], limit: int) -> str:
    """The package's main part name (no leading slash), from _rels/.rels."""
    if "_rels/.rels" not in by_name:
        raise Refused("office.package_invalid", part="_rels/.rels")
    rels = parse_xml(_read_small(zf, by_name["_rels/.rels"], limit), "_rels/.rels")
    for rel in rels.findall(f"{{{REL_NS}}}Relationship"):
        if rel.get("Type") in OFFICE_DOCUMENT_REL and rel.get("TargetMode") != "External":
            return posixpath.normpath(rel.get("Target", "").lstrip("/"))
    raise Refused("office.package_invalid", part="_rels/.rels")


def _ooxml_kind(zf: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], limit: int) -> str:
    main = main_part(zf, by_name, limit)
    types = parse_xml(_read_small(zf, by_name["[Content_Types].xml"], limit), "[Content_Types].xml")
    for override in types.findall(f"{{{CT_NS}}}Override"):
        if override.get("PartName", "").lstrip("/").lower() == main.lower():
            content_type = override.get("ContentType", "")
            if content_type in OOXML_MAIN_TYPES:
                return OOXML_MAIN_TYPES[content_type]
            raise Refused("type.refused", type=f"OOXML ({content_type})")
    raise Refused("office.package_invalid", part="[Content_Types].xml")
