"""ZIP archives: every member is sanitized by the same rules as an upload (recursively), and the archive is
rebuilt from the clean members only. The first refused member refuses the archive (staff never receive a partial
set of attachments without noticing); the report names the members inspected and that member's reasons."""

from __future__ import annotations

from .errors import Refused
from .office import Member
from .report import Action, Report
from .zipsafe import Context, SafeZip, clean_info, write_zip


def sanitize_archive(data: bytes, report: Report, ctx: Context, member: Member) -> bytes:
    inner = ctx.enter(report.filename)
    archive = SafeZip(data, inner)
    if archive.comment:
        report.add("zip.comment_removed", Action.REMOVED)
    entries = []
    for item in archive.members:
        if item.is_dir:
            entries.append((item.name.replace("\\", "/").rstrip("/") + "/", None))
            continue
        cleaned, child = member(archive.read(item), item.name.replace("\\", "/"), inner)
        report.entries.append(child)
        if cleaned is None:
            # Stop at the first refusal: the archive is refused anyway, and a bomb gets no further work.
            raise Refused("zip.member_refused", name=item.name, total=len(archive.members))
        entries.append((clean_info(child.output_filename, item.info), cleaned))
    return write_zip(entries)
