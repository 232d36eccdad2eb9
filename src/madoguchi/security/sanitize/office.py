"""Office documents: find macros with oletools and our own package reading, strip them from OOXML, convert to
PDF with LibreOffice where it is installed, refuse the rest.

OOXML (.docx/.docm/.xlsx/.xlsm/.pptx/.pptm and templates): the package is rebuilt part by part without
- the VBA project (vbaProject.bin, its signatures, vbaData.xml), Excel 4 (XLM) macro sheets and their sheet
  entries, Auto_Open/Auto_Close defined names, Word key-map customisations and toolbars, ribbon (customUI);
- relationships to anything outside the file except web links with an allowed scheme (a remote template —
  the classic way to fetch macros later —, linked OLE objects, linked images that call home on open);
- PowerPoint "run program" / "run macro" click actions;
and with every image re-encoded like an upload (thumbnail included: it shows the first page). The main part
gets the macro-free content type and the file the macro-free extension (.docm → .docx). ActiveX controls,
embedded OLE objects, DDE fields and binary workbooks (.xlsb) cannot be taken out cleanly: such files are
converted to PDF when LibreOffice is installed, refused otherwise. Add-ins are code only: always refused.

Legacy (OLE) .doc/.xls/.ppt cannot be rebuilt here: without macros and embedded objects they pass unchanged
(the report says so); with macros they are converted to PDF where LibreOffice is installed, else refused.

Every rebuilt package is scanned again by olevba and by our part scan; anything left refuses the file.
"""

from __future__ import annotations

import io
import posixpath
import re
import subprocess  # noqa: S404 - LibreOffice is run with a fixed argument list, no shell
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .detect import CT_NS, KINDS, OLE_MAGIC, OOXML_MAIN_TYPES, REL_NS, ZIP_MAGICS, Kind, detect
from .errors import Refused
from .images import PIL_FORMATS, sanitize_image
from .policy import OfficeMode
from .report import Action, Report
from .zipsafe import Context, SafeZip, clean_info, write_zip

R_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
VML_O_NS = "urn:schemas-microsoft-com:office:office"
MACRO_CONTENT_TYPES = {
    "application/vnd.ms-office.vbaProject",
    "application/vnd.ms-office.vbaProjectSignature",
    "application/vnd.ms-office.vbaProjectSignatureAgile",
    "application/vnd.ms-office.vbaProjectSignatureV3",
    "application/vnd.ms-word.vbaData+xml",
    "application/vnd.ms-excel.macrosheet+xml",
    "application/vnd.ms-excel.intlmacrosheet+xml",
    "application/vnd.ms-excel.macrosheet",
    "application/vnd.ms-word.keyMapCustomizations+xml",
    "application/vnd.ms-word.attachedToolbars",
}
_MACRO_NAME = re.compile(
    r"(^|/)(vbaProject\.bin|vbaProjectSignature\w*\.bin|vbaData\.xml|macrosheets/[^/]+)$", re.I
)
CUSTOM_UI_RELS = {
    "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility",
    "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility",
    "http://schemas.microsoft.com/office/2006/relationships/ui/userCustomization",
}
ACTIVEX_CONTENT_TYPES = {"application/vnd.ms-office.activeX+xml", "application/vnd.ms-office.activeX"}
OLE_OBJECT_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.oleObject"
HYPERLINK_REL_SUFFIX = "/hyperlink"
MACRO_FREE_CONTENT_TYPE = {
    "docm": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "dotm": "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "xlsm": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "xltm": "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "pptm": "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    "ppsm": "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
    "potm": "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
}
_AUTO_NAME = re.compile(r"^(_xlnm\.)?auto_(open|close|activate|deactivate)", re.I)
_DDE_FIELD = re.compile(r"\bDDE(AUTO)?\b", re.I)
_DDE_FORMULA = re.compile(r"[A-Za-z0-9_.]+\|'")
_PPT_ACTION = re.compile(r"^ppaction://(program|macro|ole)", re.I)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)

Member = Callable[[bytes, str, Context], tuple[bytes | None, Report]]


# --- oletools ---
def olevba_parser() -> type:
    """olevba's VBA_Parser, imported quietly (it still uses pyparsing's deprecated camelCase names)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from oletools.olevba import VBA_Parser
    return VBA_Parser


# --- -----------------------------------------------------------------------------------------
@dataclass
class MacroScan:
    vba: bool = False
    xlm: bool = False
    autoexec: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)


def macro_scan(data: bytes, filename: str) -> MacroScan:
    """olevba's verdict on an OLE or OOXML file (VBA projects anywhere inside; XLM in legacy .xls)."""
    VBA_Parser = olevba_parser()  # noqa: N806

    scan = MacroScan()
    try:
        parser = VBA_Parser(filename or "upload", data=data)
    except Exception:  # noqa: BLE001 - olevba raises many types; a file it cannot open is refused
        raise Refused("office.scan_failed") from None
    try:
        scan.vba = bool(parser.detect_vba_macros())
        scan.xlm = bool(parser.detect_xlm_macros())
        if scan.vba or scan.xlm:
            for kind, keyword, _description in parser.analyze_macros() or []:
                if kind == "AutoExec":
                    scan.autoexec.append(keyword)
                elif kind == "Suspicious":
                    scan.suspicious.append(keyword)
    except Refused:
        raise
    except Exception:  # noqa: BLE001
        raise Refused("office.scan_failed") from None
    finally:
        parser.close()
    return scan


def _report_macros(scan: MacroScan, report: Report) -> None:
    if scan.vba:
        report.add("office.vba_found", Action.NOTE, autoexec=", ".join(sorted(set(scan.autoexec))) or "-",
                   suspicious=", ".join(sorted(set(scan.suspicious))[:10]) or "-")  # fmt: skip
    if scan.xlm:
        report.add("office.xlm_found", Action.NOTE)


# --- LibreOffice ----------------------------------------------------------------------------------------
def office_to_pdf(data: bytes, ext: str, ctx: Context) -> bytes:
    """The document converted to PDF by LibreOffice (headless, a throw-away profile, no macros run: the
    default macro security of a fresh profile runs no unsigned macro). Refused when it is not installed."""
    if not ctx.tools.soffice:
        raise Refused("office.converter_missing")
    with tempfile.TemporaryDirectory(prefix="madoguchi-office-") as tmp:
        source = Path(tmp) / f"document{ext}"
        source.write_bytes(data)
        out_dir = Path(tmp) / "out"
        command = [
            ctx.tools.soffice, f"-env:UserInstallation={(Path(tmp) / 'profile').as_uri()}", "--headless",
            "--norestore", "--nolockcheck", "--convert-to", "pdf", "--outdir", str(out_dir), str(source),
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=ctx.policy.tool_timeout)  # noqa: S603
        except subprocess.TimeoutExpired:
            raise Refused("office.convert_failed", detail="timeout") from None
        except (subprocess.CalledProcessError, OSError) as exc:
            raise Refused("office.convert_failed", detail=str(exc)[:200]) from None
        result = out_dir / "document.pdf"
        if not result.is_file():
            raise Refused("office.convert_failed", detail="no PDF written")
        return result.read_bytes()


# --- Legacy OLE -----------------------------------------------------------------------------------------
_PPT_OLE_RECORD = re.compile(rb"[\x00\x10]\x00\x11\x10")  # ExOleObjStg record header


def ole_embedded_objects(data: bytes) -> list[str]:
    import olefile

    found = []
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        for path in ole.listdir(streams=True, storages=True):
            for part in path:
                low = part.lower()
                if low in ("objectpool", "\x01ole10native", "equation native") or low.startswith("mbd"):
                    found.append("/".join(path))
                    break
        if ole.exists("PowerPoint Document"):
            if _PPT_OLE_RECORD.search(ole.openstream("PowerPoint Document").read()):
                found.append("PowerPoint Document (ExOleObjStg)")
    return found


def sanitize_ole(data: bytes, kind: Kind, report: Report, ctx: Context) -> tuple[bytes, Kind]:
    scan = macro_scan(data, report.filename)
    _report_macros(scan, report)
    objects = ole_embedded_objects(data)
    if objects:
        report.add("office.ole_objects_found", Action.NOTE, where=", ".join(objects[:5]))
    if scan.vba or scan.xlm or objects or ctx.policy.office_mode == OfficeMode.PDF:
        if not ctx.tools.soffice:
            raise Refused("office.ole_macros" if scan.vba or scan.xlm else "office.ole_objects")
        return office_to_pdf(data, kind.extensions[0], ctx), KINDS["pdf"]
    report.add("office.legacy_unchanged", Action.NOTE)
    return data, kind


# --- OOXML ----------------------------------------------------------------------------------------------
def _parse(raw: bytes, part: str) -> etree._Element:
    upper = raw.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise Refused("office.dtd", part=part)
    try:
        return etree.fromstring(raw, parser=_PARSER)  # noqa: S320 - DTDs refused above, entities off
    except etree.XMLSyntaxError:
        raise Refused("office.package_invalid", part=part) from None


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def rels_source(rels_name: str) -> str:
    """'word/_rels/document.xml.rels' → 'word/document.xml'; '_rels/.rels' → '' (the package)."""
    folder, base = posixpath.split(rels_name)
    return posixpath.join(posixpath.dirname(folder), base[: -len(".rels")]).lstrip("/")


def resolve(source: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target)).lstrip("/")


class Package:
    def __init__(self, parts: dict[str, bytes]) -> None:
        self.parts = parts
        if "[Content_Types].xml" not in parts:
            raise Refused("office.package_invalid", part="[Content_Types].xml")
        self.types = _parse(parts["[Content_Types].xml"], "[Content_Types].xml")
        self.defaults = {d.get("Extension", "").lower(): d.get("ContentType", "")
                         for d in self.types.findall(f"{{{CT_NS}}}Default")}  # fmt: skip
        self.overrides = {o.get("PartName", "").lstrip("/").lower(): o.get("ContentType", "")
                          for o in self.types.findall(f"{{{CT_NS}}}Override")}  # fmt: skip

    def content_type(self, name: str) -> str:
        if name.lower() in self.overrides:
            return self.overrides[name.lower()]
        return self.defaults.get(posixpath.splitext(name)[1].lstrip(".").lower(), "")

    def rels_files(self) -> list[str]:
        return [n for n in self.parts if n.endswith(".rels")]


def sanitize_ooxml(
    data: bytes, kind: Kind, report: Report, ctx: Context, member: Member
) -> tuple[bytes, Kind]:
    policy = ctx.policy
    if kind.name in ("xlam", "ppam"):
        raise Refused("office.addin", type=kind.label)
    inner = ctx.enter(report.filename)
    archive = SafeZip(data, inner)
    order = [m for m in archive.members if not m.is_dir]
    parts = {m.name: archive.read(m) for m in order}
    scan = macro_scan(data, report.filename)
    _report_macros(scan, report)
    if policy.office_mode == OfficeMode.PDF or kind.name == "xlsb":
        if kind.name == "xlsb" and not ctx.tools.soffice:
            raise Refused("office.xlsb")
        return office_to_pdf(data, kind.extensions[0], ctx), KINDS["pdf"]
    try:
        return _rebuild(parts, order, kind, report, inner, scan, member)
    except Refused as refusal:
        # What cannot be stripped may still be converted.
        if refusal.code in ("office.activex", "office.ole_object", "office.dde") and ctx.tools.soffice:
            report.add("office.converted_instead", Action.NOTE, what=refusal.params.get("part", ""))
            return office_to_pdf(data, kind.extensions[0], ctx), KINDS["pdf"]
        raise


def _rebuild(parts, order, kind: Kind, report: Report, ctx: Context, scan: MacroScan, member: Member):
    pkg = Package(parts)
    removed: set[str] = set()
    for name in parts:
        content_type = pkg.content_type(name)
        # Embedded objects first: a part cannot escape this check by borrowing the macro content type.
        if content_type in ACTIVEX_CONTENT_TYPES or "/activex/" in f"/{name.lower()}":
            raise Refused("office.activex", part=name)
        if content_type == OLE_OBJECT_CONTENT_TYPE or (
            "/embeddings/" in f"/{name.lower()}" and parts[name][:8] == OLE_MAGIC
        ):
            raise Refused("office.ole_object", part=name)
        if content_type in MACRO_CONTENT_TYPES or _MACRO_NAME.search(name):
            removed.add(name)
    _check_dde(parts, pkg)
    if (scan.vba or scan.xlm) and not removed:
        raise Refused("office.macro_unlocated")
    # Ribbon customisations are declared from the package relationships.
    root_rels = parts.get("_rels/.rels")
    if root_rels is not None:
        for rel in _parse(root_rels, "_rels/.rels").findall(f"{{{REL_NS}}}Relationship"):
            if rel.get("Type") in CUSTOM_UI_RELS and rel.get("TargetMode") != "External":
                target = resolve("", rel.get("Target", ""))
                removed |= {n for n in parts if n == target or n.startswith(posixpath.dirname(target) + "/")}
    for name in sorted(removed):
        report.add(
            "office.part_removed", Action.REMOVED, where=name, content_type=pkg.content_type(name) or "-"
        )
    removed |= {
        posixpath.join(posixpath.dirname(n), "_rels", posixpath.basename(n) + ".rels") for n in removed
    }

    out_parts: dict[str, bytes] = {}
    kept_links = 0
    for name in parts:
        if name in removed:
            continue
        out_parts[name] = parts[name]
    # Relationships: drop those to removed parts and to the outside world, and what in the source part uses them.
    for rels_name in [n for n in out_parts if n.endswith(".rels")]:
        source = rels_source(rels_name)
        rels = _parse(out_parts[rels_name], rels_name)
        dropped: dict[str, str] = {}  # rel id → "link" (drop the attribute) | "element" (drop the element)
        for rel in list(rels):
            target, rel_type, rel_id = rel.get("Target", ""), rel.get("Type", ""), rel.get("Id", "")
            if rel.get("TargetMode") == "External":
                if rel_type.endswith(HYPERLINK_REL_SUFFIX):
                    if _scheme(target) in ctx.policy.link_schemes:
                        kept_links += 1
                        continue
                    report.add("office.link_removed", Action.REMOVED, where=source, target=target[:200])
                    dropped[rel_id] = "link"
                else:
                    report.add("office.external_removed", Action.REMOVED, where=source,
                               type=rel_type.rsplit("/", 1)[-1], target=target[:200])  # fmt: skip
                    dropped[rel_id] = "element"
                rels.remove(rel)
            elif resolve(source, target) in removed:
                dropped[rel_id] = "element"
                rels.remove(rel)
        if dropped:
            out_parts[rels_name] = _serialize(rels)
            if source and source in out_parts and not source.endswith(".bin"):
                out_parts[source] = _drop_references(out_parts[source], source, dropped)
    for name in list(out_parts):
        if pkg.content_type(name).startswith("application/vnd.openxmlformats-officedocument.presentationml"):
            out_parts[name] = _drop_ppt_actions(out_parts[name], name, report)
    if kind.group == "excel":
        _clean_workbook(out_parts, pkg, report)
    if kept_links:
        report.add("office.links_kept", Action.KEPT, count=kept_links)
    # Embedded packages and images: sanitized like uploads.
    for name in list(out_parts):
        blob = out_parts[name]
        content_type = pkg.content_type(name)
        if "/embeddings/" in f"/{name.lower()}" and blob[:4] in ZIP_MAGICS:
            cleaned, child = member(blob, name, ctx)
            report.entries.append(child)
            if cleaned is None or extension_changed(name, child.output_filename):
                raise Refused("office.embedded_refused", part=name)
            out_parts[name] = cleaned
        elif content_type.startswith("image/"):
            try:
                image_kind = detect(blob)
            except Refused:
                image_kind = None
            if image_kind is not None and image_kind.name in PIL_FORMATS:
                child = Report.for_input(blob, name)
                child.detected_type = image_kind.name
                out_parts[name] = sanitize_image(blob, image_kind.name, child, ctx)
                if child.findings:
                    report.entries.append(child)
            else:
                report.add("office.image_kept", Action.KEPT, where=name, content_type=content_type)
    # Content types: forget removed parts, macro-free main type.
    result_kind = KINDS[kind.macro_free] if kind.macro_free else kind
    out_parts["[Content_Types].xml"] = _fix_content_types(pkg, removed, out_parts, kind)
    if kind.macro_free:
        report.add(
            "office.content_type_changed", Action.CONVERTED, before=kind.label, after=result_kind.label
        )
    info = {m.name: m.info for m in order}
    names = ["[Content_Types].xml"] + [n for n in out_parts if n != "[Content_Types].xml"]
    result = write_zip([(clean_info(n, info[n]), out_parts[n]) for n in names])
    _verify(result, result_kind, report.filename)
    return result, result_kind


def extension_changed(name: str, output_name: str) -> bool:
    return posixpath.splitext(name)[1].lower() != posixpath.splitext(output_name)[1].lower()


def _scheme(uri: str) -> str:
    match = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*):", uri)
    return match.group(1).lower() if match else ""


def _drop_references(raw: bytes, part: str, dropped: dict[str, str]) -> bytes:
    root = _parse(raw, part)
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        for attr, value in list(element.attrib.items()):
            ns = etree.QName(attr).namespace if attr.startswith("{") else None
            if value not in dropped or ns not in (*R_NS, VML_O_NS):
                continue
            local = etree.QName(attr).localname
            mode = dropped[value]
            drop_element = mode == "element" and local not in ("link",)
            if mode == "link" and etree.QName(element).localname in (
                "hlinkClick",
                "hlinkHover",
                "hlinkMouseOver",
            ):
                drop_element = True
            parent = element.getparent()
            if drop_element and parent is not None:
                parent.remove(element)
                break
            del element.attrib[attr]
    return _serialize(root)


def _drop_ppt_actions(raw: bytes, part: str, report: Report) -> bytes:
    if b"ppaction://" not in raw:
        return raw
    root = _parse(raw, part)
    changed = False
    for element in list(root.iter()):
        if isinstance(element.tag, str) and _PPT_ACTION.match(element.get("action", "")):
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
                changed = True
                report.add(
                    "office.ppt_action_removed", Action.REMOVED, where=part, action=element.get("action")
                )
    return _serialize(root) if changed else raw


def _check_dde(parts: dict[str, bytes], pkg: Package) -> None:
    for name, raw in parts.items():
        if not name.endswith(".xml"):
            continue
        content_type = pkg.content_type(name)
        if "wordprocessingml" in content_type and (b"instrText" in raw or b"instr=" in raw):
            root = _parse(raw, name)
            codes = "".join(e.text or "" for e in root.iter() if isinstance(e.tag, str)
                            and etree.QName(e).localname == "instrText")  # fmt: skip
            codes += " ".join(v for e in root.iter() if isinstance(e.tag, str)
                              for k, v in e.attrib.items() if etree.QName(k).localname == "instr")  # fmt: skip
            if _DDE_FIELD.search(codes):
                raise Refused("office.dde", part=name)
        elif "spreadsheetml" in content_type:
            if b"ddeLink" in raw:
                raise Refused("office.dde", part=name)
            if b"<f" in raw or b":f>" in raw:
                root = _parse(raw, name)
                for e in root.iter():
                    if (
                        isinstance(e.tag, str)
                        and etree.QName(e).localname == "f"
                        and _DDE_FORMULA.search(e.text or "")
                    ):
                        raise Refused("office.dde", part=name)


def _clean_workbook(parts: dict[str, bytes], pkg: Package, report: Report) -> None:
    """Auto_Open-style defined names go; sheet-local names follow the sheets that were removed."""
    for name, raw in list(parts.items()):
        if not pkg.content_type(name).endswith(
            ("sheet.main+xml", "template.main+xml", "macroEnabled.main+xml")
        ):
            continue
        if b"definedName" not in raw and b"macrosheet" not in raw:
            continue
        root = _parse(raw, name)
        changed = False
        for element in list(root.iter()):
            if isinstance(element.tag, str) and etree.QName(element).localname == "definedName":
                if _AUTO_NAME.match(element.get("name", "")):
                    element.getparent().remove(element)
                    report.add(
                        "office.auto_name_removed", Action.REMOVED, where=name, defined=element.get("name")
                    )
                    changed = True
        if changed:
            parts[name] = _serialize(root)


def _fix_content_types(pkg: Package, removed: set[str], parts: dict[str, bytes], kind: Kind) -> bytes:
    types = pkg.types
    for override in list(types.findall(f"{{{CT_NS}}}Override")):
        name = override.get("PartName", "").lstrip("/")
        if name in removed or name.lower() in {r.lower() for r in removed}:
            types.remove(override)
        elif kind.macro_free and OOXML_MAIN_TYPES.get(override.get("ContentType", "")) == kind.name:
            override.set("ContentType", MACRO_FREE_CONTENT_TYPE[kind.name])
    remaining_ext = {posixpath.splitext(n)[1].lstrip(".").lower() for n in parts}
    for default in list(types.findall(f"{{{CT_NS}}}Default")):
        if default.get("ContentType") in MACRO_CONTENT_TYPES:
            ext = default.get("Extension", "").lower()
            users = [n for n in parts if n.lower().endswith("." + ext) and n.lower() not in pkg.overrides]
            if ext not in remaining_ext or not users:
                types.remove(default)
    return _serialize(types)


def _verify(result: bytes, expected: Kind, filename: str) -> None:
    found = detect(result)
    if found.name != expected.name:
        raise Refused("office.verify_failed", detail=f"{found.name} != {expected.name}")
    scan = macro_scan(result, filename)
    with zipfile.ZipFile(io.BytesIO(result)) as zf:
        left = [n for n in zf.namelist() if _MACRO_NAME.search(n)]
    if scan.vba or scan.xlm or left:
        raise Refused("office.verify_failed", detail="macros left")
