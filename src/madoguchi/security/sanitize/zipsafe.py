"""Reading ZIP files (archives and OOXML packages) without letting them expand without bound.

Everything is checked from the central directory before a single member is inflated: member count, declared
sizes against the budget that all nesting levels share, compression ratio, overlapping members (the
"overlapping files" bomb of many entries pointing at one deflate stream), names, encryption and links. The
reads themselves are bounded again, since declared sizes can lie.
"""

from __future__ import annotations

import io
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field

from .detect import _BIDI
from .errors import Refused
from .policy import Policy, Tools

_CHUNK = 64 * 1024


@dataclass
class Budget:
    """Bytes that may still be expanded, shared by every container of one upload."""

    remaining: int

    def charge(self, n: int) -> None:
        self.remaining -= n
        if self.remaining < 0:
            raise Refused("zip.too_large")


@dataclass
class Context:
    policy: Policy
    tools: Tools
    budget: Budget
    depth: int = 0  # containers (ZIP, OOXML) entered so far
    path: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, policy: Policy, tools: Tools) -> Context:
        return cls(policy=policy, tools=tools, budget=Budget(policy.zip_max_total_bytes))

    def enter(self, name: str) -> Context:
        if self.depth + 1 > self.policy.zip_max_depth:
            raise Refused("zip.too_deep", depth=self.policy.zip_max_depth)
        return Context(self.policy, self.tools, self.budget, self.depth + 1, [*self.path, name])


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    name: str  # as the user's unzip tool would show it (Shift_JIS names recovered)

    @property
    def is_dir(self) -> bool:
        return self.info.is_dir()


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name. Japanese Windows writes Shift_JIS names without the UTF-8 flag, which zipfile decodes
    as CP437; decode them as CP932 instead, so that a 0x5C trail byte ("表") is not taken for a backslash."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("cp932")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def check_member_name(name: str) -> None:
    """Refuse names that would land outside the folder they are extracted to, or that display falsely."""
    if not name or "\x00" in name:
        raise Refused("zip.unsafe_name", name=repr(name))
    if any(ch in _BIDI or unicodedata.category(ch) == "Cc" for ch in name):
        raise Refused("zip.unsafe_name", name=repr(name))
    normal = name.replace("\\", "/")
    if normal.startswith("/") or (len(normal) > 1 and normal[1] == ":"):
        raise Refused("zip.path_traversal", name=name)
    if any(part == ".." for part in normal.split("/")):
        raise Refused("zip.path_traversal", name=name)


class SafeZip:
    def __init__(self, data: bytes, ctx: Context) -> None:
        policy = ctx.policy
        self.ctx = ctx
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
            raise Refused("type.corrupt", type="ZIP") from None
        if len(infos) > policy.zip_max_entries:
            raise Refused("zip.too_many_entries", count=len(infos), limit=policy.zip_max_entries)
        self.comment = self.zf.comment
        members: list[Member] = []
        seen: set[str] = set()
        declared = 0
        for info in infos:
            name = member_name(info)
            check_member_name(name)
            key = unicodedata.normalize("NFC", name.replace("\\", "/")).casefold()
            if key in seen:
                raise Refused("zip.duplicate", name=name)
            seen.add(key)
            if info.flag_bits & 0x1:
                raise Refused("zip.encrypted", name=name)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise Refused("zip.symlink", name=name)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Refused("zip.method", name=name)
            size = info.file_size
            if size >= policy.zip_ratio_min_bytes and size > info.compress_size * policy.zip_max_ratio:
                ratio = size // max(info.compress_size, 1)
                raise Refused("zip.ratio", name=name, ratio=ratio, limit=policy.zip_max_ratio)
            declared += size
            members.append(Member(info, name))
        if declared > ctx.budget.remaining:
            raise Refused("zip.too_large_declared", size=declared, limit=policy.zip_max_total_bytes)
        self._check_overlap(infos)
        self.members = members

    def _check_overlap(self, infos: list[zipfile.ZipInfo]) -> None:
        # A local header is at least 30 bytes, then the member's data: the next member cannot start earlier.
        ordered = sorted(infos, key=lambda i: i.header_offset)
        end = 0
        for info in ordered:
            if info.header_offset < end:
                raise Refused("zip.overlap", name=member_name(info))
            end = info.header_offset + 30 + info.compress_size
        if ordered and end > self.zf.start_dir:
            raise Refused("zip.overlap", name=member_name(ordered[-1]))

    def read(self, member: Member) -> bytes:
        out = bytearray()
        try:
            with self.zf.open(member.info) as fh:
                while chunk := fh.read(_CHUNK):
                    out += chunk
                    self.ctx.budget.charge(len(chunk))
                    if len(out) > member.info.file_size:
                        raise Refused("zip.size_mismatch", name=member.name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError):
            raise Refused("zip.corrupt_member", name=member.name) from None
        return bytes(out)


def write_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes | None]]) -> bytes:
    """A fresh ZIP (deflated, UTF-8 names, no comments or extra fields) of (name or info, data) pairs;
    data None is a folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for target, data in entries:
            if data is None:
                out.mkdir(target if isinstance(target, str) else target.filename)
            else:
                out.writestr(target, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def clean_info(name: str, source: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A new member header that keeps only the name and the timestamp (no extra fields, comment or mode)."""
    year = max(source.date_time[0], 1980)
    info = zipfile.ZipInfo(name, date_time=(year, *source.date_time[1:]))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
