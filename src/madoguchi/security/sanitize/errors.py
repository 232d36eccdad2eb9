"""The one exception a sanitizer raises to refuse a file: it carries the reason as a report finding."""

from typing import Any


class Refused(Exception):  # noqa: N818 - a verdict, not an error of the program
    """The file cannot be made safe. `code` names the reason in messages.MESSAGES; `params` fill it in."""

    def __init__(self, code: str, where: str = "", **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.where = where
        self.params = params
