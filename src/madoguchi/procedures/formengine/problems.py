"""Problems: what is wrong with a form definition or with the answers, as stable codes (no messages here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DefinitionError", "Problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem. ``code`` is stable (the Django layer maps it to a message), ``path`` says where:
    a field key or ``group.0.sub`` for answers, a JSON-pointer-like path (``/pages/0/fields/2/key``) for
    definitions. ``params`` holds the numbers or names the message needs."""

    code: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)


class DefinitionError(ValueError):
    """A form definition was refused; ``problems`` lists every problem found, in document order."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        shown = "; ".join(f"{p.code} at {p.path or '/'}" for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"invalid form definition: {shown}{more}")
