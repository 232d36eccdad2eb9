"""PDF: remove everything that runs or carries another file, then rewrite the file from its objects (pikepdf).

Removed: document JavaScript (the /Names /JavaScript tree) and every JavaScript action; /OpenAction;
additional actions (/AA: document, pages, annotations, form fields); every action but the harmless ones
(go to a page, named navigation, optional-content toggles, web links with an allowed scheme): /Launch,
/GoToR, /GoToE, /SubmitForm, /ImportData, /Rendition, /Sound, /Movie, /RichMediaExecute…; embedded files
(the /EmbeddedFiles tree, /EF of file specifications, /AF associated files, portfolios) and FileAttachment
annotations; XFA forms; RichMedia, 3D, Movie, Sound and Screen annotations.

Links: a /URI action is kept when its scheme is in the policy (http, https, mailto by default): following a
link runs nothing in the reader, and staff need the web links in applications. file:, smb: (which leaks
Windows credentials on click), javascript: and every other scheme are removed.

The rewrite keeps only objects reachable from the trailer, so data appended after %%EOF (e.g. a ZIP making
the file a polyglot), unreferenced objects and earlier incremental revisions are gone. The output is then
opened again and swept for any of the above: if anything survived, the file is refused (fail closed).

The stricter option renders every page with poppler's pdftoppm and builds a new PDF from the images: fonts,
content streams and images of the original do not cross. Without pdftoppm that mode refuses the file.
"""

from __future__ import annotations

import io
import math
import re
import subprocess  # noqa: S404 - pdftoppm is run with a fixed argument list, no shell
import tempfile
from collections import Counter
from pathlib import Path

import pikepdf
from PIL import Image

from .errors import Refused
from .images import foreign_content
from .policy import PdfMode
from .report import Action, Report
from .zipsafe import Context

SAFE_ACTIONS = {"/GoTo", "/Named", "/SetOCGState", "/URI"}
REMOVED_ANNOTATIONS = {"/FileAttachment", "/RichMedia", "/3D", "/Movie", "/Sound", "/Screen"}
# Keys whose presence anywhere means active or embedded content; each is deleted wherever it appears.
_DROP_KEYS = {
    "/AA": "additional_actions",
    "/OpenAction": "open_action",
    "/JavaScript": "javascript",
    "/EmbeddedFiles": "embedded_files",
    "/EF": "embedded_files",
    "/AF": "embedded_files",
    "/Collection": "embedded_files",
    "/XFA": "xfa",
    "/RichMediaContent": "rich_media",
    "/3DD": "rich_media",
    "/AlternatePresentations": "javascript",
}
_FINDING = {
    "additional_actions": "pdf.additional_actions_removed",
    "open_action": "pdf.open_action_removed",
    "javascript": "pdf.javascript_removed",
    "embedded_files": "pdf.embedded_files_removed",
    "xfa": "pdf.xfa_removed",
    "rich_media": "pdf.rich_media_removed",
    "launch": "pdf.launch_removed",
    "uri": "pdf.uri_removed",
    "action": "pdf.actions_removed",
    "annotation": "pdf.annotations_removed",
}


def sanitize_pdf(data: bytes, report: Report, ctx: Context) -> bytes:
    _note_trailing_data(data, report)
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise Refused("pdf.encrypted") from None
    except (pikepdf.PdfError, ValueError, RecursionError):
        raise Refused("type.corrupt", type="PDF") from None
    with pdf:
        pages = len(pdf.pages)
        if pages > ctx.policy.pdf_max_pages:
            raise Refused("pdf.too_many_pages", pages=pages, limit=ctx.policy.pdf_max_pages)
        counts: Counter[str] = Counter()
        actions: Counter[str] = Counter()
        _clean_annotations(pdf, counts)
        _clean_objects(pdf, ctx.policy.link_schemes, counts, actions)
        out = io.BytesIO()
        try:
            pdf.save(out, compress_streams=True, deterministic_id=True)
        except (pikepdf.PdfError, RecursionError):
            raise Refused("type.corrupt", type="PDF") from None
    cleaned = out.getvalue()
    for key, n in sorted(counts.items()):
        if key == "action":
            report.add(_FINDING[key], Action.REMOVED, count=n, types=", ".join(sorted(actions)))
        else:
            report.add(_FINDING[key], Action.REMOVED, count=n)
    verify_pdf(cleaned, pages, ctx.policy.link_schemes)
    if ctx.policy.pdf_mode == PdfMode.RASTERIZE:
        return rasterize(cleaned, pages, report, ctx)
    return cleaned


def _note_trailing_data(data: bytes, report: Report) -> None:
    end = data.rfind(b"%%EOF")
    tail = data[end + 5 :].strip(b"\r\n\t \x00") if end >= 0 else b""
    if tail:
        report.add("pdf.trailing_data_removed", Action.REMOVED, size=len(tail),
                   other=", ".join(foreign_content(tail)) or "-")  # fmt: skip


def _clean_annotations(pdf: pikepdf.Pdf, counts: Counter[str]) -> None:
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if not isinstance(annots, pikepdf.Array):
            continue
        keep = pikepdf.Array()
        for annot in annots:
            if isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") in REMOVED_ANNOTATIONS:
                counts["annotation"] += 1
                if annot.get("/Subtype") == "/FileAttachment":
                    counts["embedded_files"] += 1
                continue
            keep.append(annot)
        page.obj["/Annots"] = keep


def _scheme(uri: str) -> str:
    match = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*):", uri)
    return match.group(1).lower() if match else ""


def _is_safe_action(action: object, schemes: tuple[str, ...]) -> tuple[bool, str]:
    """(safe, category) for an action dictionary; a destination array is a plain "go to"."""
    if isinstance(action, pikepdf.Array):
        return True, ""
    if not isinstance(action, pikepdf.Dictionary):
        return False, "action"
    kind = str(action.get("/S", ""))
    if kind == "/URI":
        uri = action.get("/URI")
        ok = isinstance(uri, pikepdf.String) and _scheme(str(uri)) in schemes
        return ok, "uri"
    if kind in SAFE_ACTIONS:
        return True, ""
    if kind == "/JavaScript" or "/JS" in action:
        return False, "javascript"
    if kind == "/Launch":
        return False, "launch"
    return False, "action"


def _clean_dict(
    d: pikepdf.Object, schemes: tuple[str, ...], counts: Counter[str], actions: Counter[str]
) -> None:
    for key, category in _DROP_KEYS.items():
        if key in d:
            del d[key]
            counts[category] += 1
    if "/A" in d:
        safe, category = _is_safe_action(d["/A"], schemes)
        if not safe:
            if category == "action":
                target = d["/A"]
                actions[str(target.get("/S", "?")) if isinstance(target, pikepdf.Dictionary) else "?"] += 1
            del d["/A"]
            counts[category] += 1
    if "/Next" in d:
        nxt = d["/Next"]
        items = list(nxt) if isinstance(nxt, pikepdf.Array) else [nxt]
        if not all(_is_safe_action(a, schemes)[0] for a in items):
            del d["/Next"]
            counts["action"] += 1
            actions["/Next"] += 1


def _neutralize(d: pikepdf.Object, counts: Counter[str]) -> None:
    """An action still reachable by a path not handled above (no reader runs it from there): empty it."""
    kind = d.get("/S")
    if isinstance(kind, pikepdf.Name) and ("/JS" in d or kind in ("/JavaScript", "/Launch")):
        for key in list(d.keys()):
            if key != "/Type":
                del d[key]
        counts["javascript" if kind == "/JavaScript" else "launch"] += 1
    if "/NeedsRendering" in d:  # XFA-only documents: without XFA, let the reader draw the PDF content
        del d["/NeedsRendering"]


def _walk(obj: pikepdf.Object, visit, seen: set[tuple[int, int]]) -> None:
    """Visit every dictionary (and stream dictionary) in `obj` and in its direct sub-objects. Indirect objects
    are visited once each (by object number); direct objects belong to one parent and cannot repeat."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if item.is_indirect:
            if item.objgen in seen:
                continue
            seen.add(item.objgen)
        if isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
            visit(item)
            children = [item.get(key) for key in list(item.keys())]
        elif isinstance(item, pikepdf.Array):
            children = list(item)
        else:
            continue
        for child in children:
            if (
                isinstance(child, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream)
                and not child.is_indirect
            ):
                stack.append(child)


def _clean_objects(
    pdf: pikepdf.Pdf, schemes: tuple[str, ...], counts: Counter[str], actions: Counter[str]
) -> None:
    def visit(d: pikepdf.Object) -> None:
        _clean_dict(d, schemes, counts, actions)

    _walk_all(pdf, visit)
    _walk_all(pdf, lambda d: _neutralize(d, counts))


def _walk_all(pdf: pikepdf.Pdf, visit) -> None:
    seen: set[tuple[int, int]] = set()
    _walk(pdf.trailer, visit, seen)
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream):
            _walk(obj, visit, seen)


def residual_active_content(pdf: pikepdf.Pdf, schemes: tuple[str, ...]) -> list[str]:
    """What of the removed kinds is still in `pdf` (empty when clean)."""
    found: set[str] = set()

    def visit(d: pikepdf.Object) -> None:
        for key, category in _DROP_KEYS.items():
            if key in d:
                found.add(category)
        if "/JS" in d or d.get("/S") in ("/JavaScript", "/Launch"):
            found.add("javascript/launch")
        for key in ("/A", "/Next"):
            if key in d:
                items = list(d[key]) if isinstance(d[key], pikepdf.Array) and key == "/Next" else [d[key]]
                if not all(_is_safe_action(a, schemes)[0] for a in items):
                    found.add("action")
        if d.get("/Subtype") in REMOVED_ANNOTATIONS or d.get("/Type") == "/EmbeddedFile":
            found.add(str(d.get("/Subtype") or d.get("/Type")))

    _walk_all(pdf, visit)
    return sorted(found)


def verify_pdf(cleaned: bytes, pages: int, schemes: tuple[str, ...]) -> None:
    try:
        with pikepdf.open(io.BytesIO(cleaned)) as pdf:
            left = residual_active_content(pdf, schemes)
            if left:
                raise Refused("pdf.residual", what=", ".join(left))
            if len(pdf.pages) != pages:
                raise Refused("pdf.page_count_changed", before=pages, after=len(pdf.pages))
    except pikepdf.PdfError:
        raise Refused("type.corrupt", type="PDF") from None
    # A ZIP's end record must sit in the last 64 KiB: one there would make the output a polyglot again.
    if b"PK\x05\x06" in cleaned[-(65536 + 22) :]:
        raise Refused("pdf.polyglot_output")


# --- Strict mode: render and rebuild --------------------------------------------------------------------
def _raster_dpi(pdf: pikepdf.Pdf, dpi: int, max_pixels: int) -> int:
    for page in pdf.pages:
        box = [float(v) for v in page.mediabox]
        unit = float(page.obj.get("/UserUnit", 1))
        width, height = abs(box[2] - box[0]) * unit, abs(box[3] - box[1]) * unit
        if width <= 0 or height <= 0:
            continue
        fitting = int(72 * math.sqrt(max_pixels / (width * height)))
        dpi = min(dpi, fitting)
    return dpi


def rasterize(cleaned: bytes, pages: int, report: Report, ctx: Context) -> bytes:
    policy = ctx.policy
    if not ctx.tools.pdftoppm:
        raise Refused("pdf.rasterizer_missing")
    with pikepdf.open(io.BytesIO(cleaned)) as pdf:
        dpi = _raster_dpi(pdf, policy.pdf_raster_dpi, policy.max_image_pixels)
    if dpi < 36:
        raise Refused("pdf.page_too_large")
    with tempfile.TemporaryDirectory(prefix="madoguchi-raster-") as tmp:
        source = Path(tmp) / "in.pdf"
        source.write_bytes(cleaned)
        command = [
            ctx.tools.pdftoppm,
            "-r",
            str(dpi),
            "-png",
            "-l",
            str(pages),
            str(source),
            str(Path(tmp) / "p"),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=policy.tool_timeout)  # noqa: S603
        except subprocess.TimeoutExpired:
            raise Refused("pdf.rasterize_failed", detail="timeout") from None
        except subprocess.CalledProcessError as exc:
            raise Refused(
                "pdf.rasterize_failed", detail=exc.stderr.decode("utf-8", "replace")[:200]
            ) from None
        images = sorted(Path(tmp).glob("p-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if len(images) != pages:
            raise Refused("pdf.rasterize_failed", detail=f"{len(images)} of {pages} pages")
        result = _pdf_from_images(images, dpi)
    verify_pdf(result, pages, policy.link_schemes)
    report.add("pdf.rasterized", Action.CONVERTED, pages=pages, dpi=dpi)
    return result


def _pdf_from_images(images: list[Path], dpi: int) -> bytes:
    """A new PDF with one page per image, the page size that of the rendered page; one page in memory at a time."""
    out = pikepdf.new()
    for path in images:
        with Image.open(path, formats=["PNG"]) as im:
            rgb = im.convert("RGB")
            width, height = rgb.size
            jpeg = io.BytesIO()
            rgb.save(jpeg, "JPEG", quality=85)
        image = pikepdf.Stream(out, jpeg.getvalue())
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = width, height, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        page_w, page_h = width * 72 / dpi, height * 72 / dpi
        content = pikepdf.Stream(out, f"q {page_w:.3f} 0 0 {page_h:.3f} 0 0 cm /Im0 Do Q".encode("ascii"))
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=pikepdf.Array([0, 0, page_w, page_h]),
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
            Contents=content,
        )
        out.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    out.save(buf, compress_streams=True, deterministic_id=True)
    return buf.getvalue()
