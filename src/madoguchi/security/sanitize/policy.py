"""Limits and choices of one sanitization, chosen per procedure. The defaults suit e-application attachments."""

from __future__ import annotations

import enum
import shutil
from dataclasses import asdict, dataclass, replace
from typing import Any

MiB = 1024 * 1024


class PdfMode(enum.StrEnum):
    # Remove active content with pikepdf and keep the document's structure, text and fonts.
    CLEAN = "clean"
    # The stricter per-procedure option: clean, then render every page to an image and rebuild the PDF from
    # the images, so that nothing of the original file (fonts, content streams, images) reaches LGWAN.
    RASTERIZE = "rasterize"


class OfficeMode(enum.StrEnum):
    # Strip macros from OOXML; legacy (OLE) files with macros are converted to PDF when LibreOffice is
    # installed and refused otherwise.
    STRIP = "strip"
    # Every Office file is converted to PDF (then sanitized as a PDF); refused when LibreOffice is missing.
    PDF = "pdf"


@dataclass(frozen=True)
class Policy:
    max_bytes: int = 50 * MiB
    # Images: 50 megapixels takes a 48 MP phone photo and keeps one decoded RGBA frame under 200 MiB.
    max_image_pixels: int = 50_000_000
    # Animations: frames × width × height, and frames alone.
    max_animation_pixels: int = 200_000_000
    max_frames: int = 1000
    jpeg_quality: int = 90
    # Archives (and OOXML packages, which are ZIP files too). The budget is shared by all nesting levels.
    zip_max_entries: int = 2000
    zip_max_total_bytes: int = 256 * MiB
    # Deflate tops out near 1032:1; ordinary documents and XML stay far below 100:1.
    zip_max_ratio: int = 100
    # The ratio is checked for members that expand to at least this much (tiny files compress oddly).
    zip_ratio_min_bytes: int = 1 * MiB
    # Containers inside containers: a ZIP in a ZIP is depth 2, an .xlsx in a .docx in a ZIP depth 3.
    zip_max_depth: int = 3
    pdf_mode: PdfMode = PdfMode.CLEAN
    pdf_raster_dpi: int = 150
    pdf_max_pages: int = 500
    # Link targets kept in PDF link annotations and OOXML hyperlinks; every other scheme (file:, smb:,
    # javascript:, …) is removed. Clicking a link runs nothing: the browser decides (and in LGWAN, the
    # proxy), so ordinary web links stay useful to staff.
    link_schemes: tuple[str, ...] = ("http", "https", "mailto")
    office_mode: OfficeMode = OfficeMode.STRIP
    # Plain text and CSV (UTF-8 or Shift_JIS) are passed through unchanged after a content check.
    allow_text: bool = True
    # Seconds for one external converter run (pdftoppm, LibreOffice).
    tool_timeout: int = 120

    def with_(self, **changes: Any) -> Policy:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in asdict(self).items()}


DEFAULT_POLICY = Policy()
STRICT_PDF_POLICY = Policy(pdf_mode=PdfMode.RASTERIZE)


@dataclass(frozen=True)
class Tools:
    """External programs the sanitizer may run; None when not installed (nothing is ever downloaded)."""

    pdftoppm: str | None = None
    soffice: str | None = None

    @classmethod
    def discover(cls) -> Tools:
        return cls(
            pdftoppm=shutil.which("pdftoppm"),
            soffice=shutil.which("soffice") or shutil.which("libreoffice"),
        )

    @classmethod
    def none(cls) -> Tools:
        return cls()
