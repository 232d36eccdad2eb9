"""Errors of the anonymization engine: Japanese first, English second, and where the fault is.

The engine is pure (no Django), so it cannot use gettext; each error carries both languages and callers
(the management command, later the staff pages) show `str(error)`, which puts Japanese first.
"""

from __future__ import annotations


class AnonymizationError(Exception):
    """Bad input or a request the engine cannot meet. Nothing has been written when it is raised."""

    def __init__(self, message_ja: str, message_en: str) -> None:
        super().__init__(f"{message_ja}（{message_en}）")
        self.message_ja = message_ja
        self.message_en = message_en


class HierarchyError(AnonymizationError):
    """A generalization hierarchy that cannot be used.

    `line` is the 1-based line of the hierarchy file that is wrong (or, for a value of the data missing from
    the hierarchy, the 1-based data row, with `source` naming the data); None when no line applies.
    """

    def __init__(
        self, message_ja: str, message_en: str, *, source: str = "", line: int | None = None
    ) -> None:
        where_ja = f"{source} {line}行目: " if line is not None else (f"{source}: " if source else "")
        where_en = f"{source} line {line}: " if line is not None else (f"{source}: " if source else "")
        super().__init__(where_ja + message_ja, where_en + message_en)
        self.source = source
        self.line = line


class NoSolutionError(AnonymizationError):
    """No transformation in the lattice satisfies the privacy model within the suppression limit."""
