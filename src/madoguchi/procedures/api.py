"""Public API of the online procedures: the catalogue (ぴったりサービス) and the postcode → address lookup."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from madoguchi.core.selectors import municipality_by_code
from madoguchi.procedures import postcodes, selectors

router = Router(tags=["online procedures"])


class AddressOut(Schema):
    postcode: str
    prefecture: str
    city: str
    town: str
    kana: str
    municipality_code: str
    text: str


class ProcedureOut(Schema):
    municipality_code: str
    code: str
    name: str
    name_en: str
    summary: str
    category: str
    life_events: list[str]
    online: bool
    signature_required: bool
    fee_yen: int
    reception_starts_on: str | None
    reception_ends_on: str | None

    @staticmethod
    def resolve_municipality_code(obj) -> str:
        return obj.municipality.code

    @staticmethod
    def resolve_reception_starts_on(obj) -> str | None:
        return obj.reception_starts_on.isoformat() if obj.reception_starts_on else None

    @staticmethod
    def resolve_reception_ends_on(obj) -> str | None:
        return obj.reception_ends_on.isoformat() if obj.reception_ends_on else None


@router.get("/postcodes/{code}", response=AddressOut, summary="Address for a postcode (郵便番号)")
def postcode(request, code: str):
    """7 digits, with or without the hyphen; full-width digits accepted. 404 when Japan Post has no such code."""
    found = postcodes.lookup(code)
    if found is None:
        raise Http404(_("No address is known for this postcode."))
    return {**found.__dict__, "text": found.text}


@router.get(
    "/procedures", response=list[ProcedureOut], summary="Search the procedures that can be applied for"
)
@paginate(PageNumberPagination, page_size=50)
def procedures(request, municipality: str = "", q: str = "", life_event: str = "", category: str = ""):
    """Published procedures; `municipality` is a 6-digit 地方公共団体コード; keyword in kanji, kana or English."""
    found_municipality = None
    if municipality:
        found_municipality = municipality_by_code(municipality)
        if found_municipality is None:
            raise Http404(_("No such municipality."))
    return selectors.procedures_search(
        municipality=found_municipality, keyword=q, life_event=life_event, category=category
    )
