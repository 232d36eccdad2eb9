"""Public API for public bodies: open data, no sign-in."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from madoguchi.core import selectors

router = Router(tags=["public bodies"])


class PrefectureOut(Schema):
    code: str
    number: int
    name: str
    kana: str
    name_en: str


class MunicipalityOut(Schema):
    code: str
    name: str
    kana: str
    kind: str
    population: int = Field(description="2020 census (令和2年国勢調査, 総務省統計局)")
    prefecture_code: str = Field(alias="prefecture.code")
    prefecture_name: str = Field(alias="prefecture.name")


@router.get("/prefectures", response=list[PrefectureOut], summary="All 47 prefectures")
def prefectures(request):
    return list(selectors.prefecture_list())


@router.get("/municipalities", response=list[MunicipalityOut], summary="Search municipalities")
@paginate(PageNumberPagination, page_size=50)
def municipalities(request, q: str = "", prefecture: int | None = None):
    """Name, kana (hiragana or katakana, full or half width) or code; every word must match."""
    pref = None
    if prefecture is not None:
        pref = selectors.prefecture_by_number(prefecture)
        if pref is None:
            raise Http404(_("There is no prefecture number %(number)s.") % {"number": prefecture})
    return selectors.municipality_search(q[:100], prefecture=pref)


@router.get("/municipalities/{code}", response=MunicipalityOut, summary="One municipality by its code")
def municipality(request, code: str):
    found = selectors.municipality_by_code(code)
    if found is None:
        raise Http404(_("There is no municipality with the code %(code)s.") % {"code": code})
    return found
