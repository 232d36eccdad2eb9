"""Who takes proposals for 行政機関等匿名加工情報 (提案募集, 法第110条・第111条).

Under the 2021 amendment (令和3年法律第37号) the proposal workflow applies to local governments as follows:
都道府県 and 指定都市 must call for proposals; any other municipality may, and takes part only if it chooses to
(the amendment's 附則: "当分の間", 第110条・第111条 are optional for them; the article number is not in this
project's sources, so it is not cited here). Madoguchi's tenants are 市区町村
(`core.Municipality`); prefectures are not tenants. So a municipality participates when it is

- a designated city (指定都市, 地方自治法第252条の19第1項): `DESIGNATED_CITIES` below, always; or
- any other municipality whose administrators opted in (`WorkflowParticipation`, changed by
  `services.participation_opt_in` / `participation_opt_out`).

A municipality that does not participate publishes no new call and receives no new proposal (`services`
refuses them); what was already under way — proposals, contracts, creation jobs, provisions and the public
register (個人情報ファイル簿, published by every body under 法第75条) — goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# 指定都市 (地方自治法第252条の19第1項; the cities designated by 政令 under it), the 20 as of 2020 (熊本市, the last,
# since 2012-04-01): 6-digit 全国地方公共団体コード with the check digit, as in core/data/local_governments.csv
# (総務省「全国地方公共団体コード」). test_workflow_participation checks each code is in that file and is the city named.
DESIGNATED_CITIES: dict[str, str] = {
    "011002": "札幌市",
    "041009": "仙台市",
    "111007": "さいたま市",
    "121002": "千葉市",
    "141003": "横浜市",
    "141305": "川崎市",
    "141500": "相模原市",
    "151009": "新潟市",
    "221007": "静岡市",
    "221309": "浜松市",
    "231002": "名古屋市",
    "261009": "京都市",
    "271004": "大阪市",
    "271403": "堺市",
    "281000": "神戸市",
    "331007": "岡山市",
    "341002": "広島市",
    "401005": "北九州市",
    "401307": "福岡市",
    "431001": "熊本市",
}


def is_designated_city(municipality) -> bool:
    return municipality.code in DESIGNATED_CITIES


@dataclass(frozen=True)
class Participation:
    """What a page shows: whether the municipality takes proposals, and why."""

    participates: bool
    designated: bool
    opted_in: bool
    changed_at: datetime | None
    changed_by: str


def participation_of(municipality) -> Participation:
    from madoguchi.privacy.models import WorkflowParticipation

    row = WorkflowParticipation.objects.filter(municipality=municipality).select_related("changed_by").first()
    designated = is_designated_city(municipality)
    opted_in = bool(row and row.opted_in)
    by = ""
    if row is not None and row.changed_by is not None:
        by = getattr(row.changed_by, "display_name", "") or row.changed_by.get_username()
    return Participation(
        participates=designated or opted_in, designated=designated, opted_in=opted_in,
        changed_at=row.changed_at if row else None, changed_by=by,
    )  # fmt: skip


def participates(municipality) -> bool:
    """True when the municipality takes new proposal calls and proposals (a designated city, or opted in)."""
    from madoguchi.privacy.models import WorkflowParticipation

    if is_designated_city(municipality):
        return True
    return WorkflowParticipation.objects.filter(municipality=municipality, opted_in=True).exists()
