"""What the sanitizer did to one file, as plain data: JSON-serialisable, Japanese first.

A report is written for every file, clean or not. Staff read `findings` (one line each: what, where, why);
programs read the stable `code` of each finding and the `outcome`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .messages import text_for


class Action(enum.StrEnum):
    REMOVED = "removed"  # active content or metadata taken out of the file
    CONVERTED = "converted"  # the file was rebuilt in another form (pages rendered, Office → PDF)
    REFUSED = "refused"  # the file cannot be made safe: it goes to quarantine
    KEPT = "kept"  # looked at and deliberately left in place (e.g. an https link)
    NOTE = "note"  # anything else staff should know


class Outcome(enum.StrEnum):
    CLEAN = "clean"  # rebuilt, nothing had to be removed
    SANITIZED = "sanitized"  # rebuilt, something was removed or converted
    REFUSED = "refused"


@dataclass(frozen=True)
class Finding:
    code: str
    action: str
    ja: str
    en: str
    where: str = ""

    @classmethod
    def make(cls, code: str, action: Action, where: str = "", **params: Any) -> Finding:
        ja, en = text_for(code, **params)
        return cls(code=code, action=action.value, ja=ja, en=en, where=where)

    def __str__(self) -> str:
        place = f"[{self.where}] " if self.where else ""
        return f"{place}{self.ja} / {self.en}"


@dataclass
class Report:
    filename: str
    size: int
    sha256: str
    detected_type: str = "unknown"
    outcome: str = Outcome.REFUSED.value
    output_filename: str = ""
    output_size: int = 0
    output_sha256: str = ""
    findings: list[Finding] = field(default_factory=list)
    # One report per member of an archive or embedded package, in order.
    entries: list[Report] = field(default_factory=list)

    @classmethod
    def for_input(cls, data: bytes, filename: str) -> Report:
        return cls(filename=filename, size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def add(self, code: str, action: Action, where: str = "", **params: Any) -> Finding:
        item = Finding.make(code, action, where, **params)
        self.findings.append(item)
        return item

    def all_findings(self) -> list[Finding]:
        """This file's findings and those of every member, each member's prefixed with its name."""
        out = list(self.findings)
        for entry in self.entries:
            for item in entry.all_findings():
                where = entry.filename + (f" › {item.where}" if item.where else "")
                out.append(Finding(item.code, item.action, item.ja, item.en, where))
        return out

    @property
    def reasons(self) -> list[Finding]:
        """Why the file was refused (empty unless refused)."""
        return [f for f in self.all_findings() if f.action == Action.REFUSED]

    @property
    def removals(self) -> list[Finding]:
        return [f for f in self.all_findings() if f.action in (Action.REMOVED, Action.CONVERTED)]

    @property
    def refused(self) -> bool:
        return self.outcome == Outcome.REFUSED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
