"""Public pages: the platform home, the municipality search, a prefecture's municipalities, a municipality's home.

Reads go through `madoguchi.core.selectors` only. Public bodies are public data, so no tenant check applies;
`request.municipality` is set (or a 404 raised) by `core.middleware.TenantMiddleware` before
`municipality_home` runs.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from madoguchi.core import selectors
from madoguchi.core.models import Prefecture

SEARCH_PAGE_SIZE = 50
SEARCH_QUERY_MAX_LENGTH = 100

# The eight customary regions (八地方区分), with 北海道・東北 and 九州・沖縄 merged as on most national portals.
# Ranges are JIS X 0401 prefecture numbers.
REGIONS: tuple[tuple[Promise, range], ...] = (
    (_("Hokkaido and Tohoku"), range(1, 8)),
    (_("Kanto"), range(8, 15)),
    (_("Chubu"), range(15, 24)),
    (_("Kinki"), range(24, 31)),
    (_("Chugoku"), range(31, 36)),
    (_("Shikoku"), range(36, 40)),
    (_("Kyushu and Okinawa"), range(40, 48)),
)


@dataclass(frozen=True)
class Region:
    name: str
    slug: str
    prefectures: list[Prefecture]


def _prefecture_label(prefecture: Prefecture) -> str:
    """The prefecture's name in the active language (romanised in English, 漢字 otherwise)."""
    if (get_language() or "").startswith("en") and prefecture.name_en:
        return prefecture.name_en
    return prefecture.name


def _regions(prefectures: Iterable[Prefecture]) -> list[Region]:
    prefectures = list(prefectures)
    return [
        Region(
            name=str(name), slug=f"region-{i}", prefectures=[p for p in prefectures if p.number in numbers]
        )
        for i, (name, numbers) in enumerate(REGIONS, start=1)
    ]


class MunicipalitySearchForm(forms.Form):
    """The search box. The prefecture choices are passed in so that a page that lists the prefectures anyway
    does not query them twice."""

    q = forms.CharField(
        label=_("Municipality name, reading (kana) or code"),
        help_text=_("For example: 札幌, さっぽろ or 011002"),
        required=False,
        max_length=SEARCH_QUERY_MAX_LENGTH,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}),
    )
    pref = forms.TypedChoiceField(
        label=_("Prefecture"),
        required=False,
        coerce=int,
        empty_value=None,
    )

    def __init__(self, *args, prefectures: Iterable[Prefecture], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prefectures = {p.number: p for p in prefectures}
        self.fields["pref"].choices = [("", _("All prefectures"))] + [
            (p.number, _prefecture_label(p)) for p in self.prefectures.values()
        ]

    def clean_q(self) -> str:
        # Collapse runs of (full- or half-width) spaces; the selector splits words on whitespace.
        return " ".join(self.cleaned_data["q"].split())


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    prefectures = list(selectors.prefecture_list())
    form = MunicipalitySearchForm(prefectures=prefectures, auto_id="home-%s")
    return render(request, "web/home.html", {"form": form, "regions": _regions(prefectures)})


@require_GET
def municipality_search(request: HttpRequest) -> HttpResponse:
    """Search all municipalities by name, kana or code (`q`), optionally within one prefecture (`pref`).

    A blank query without a prefecture lists nothing and asks for a query: listing all 1,741 municipalities
    helps no one. A blank query with a prefecture lists that prefecture's municipalities.
    """
    prefectures = list(selectors.prefecture_list())
    form = MunicipalitySearchForm(request.GET or None, prefectures=prefectures)
    query = ""
    prefecture = None
    page = None
    searched = False
    if form.is_bound and form.is_valid():
        query = form.cleaned_data["q"]
        number = form.cleaned_data["pref"]
        prefecture = form.prefectures.get(number) if number is not None else None
        if query or prefecture is not None:
            searched = True
            results = selectors.municipality_search(query, prefecture=prefecture)
            page = Paginator(results, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "query": query,
        "prefecture": prefecture,
        "prefecture_label": _prefecture_label(prefecture) if prefecture else "",
        "searched": searched,
        "page": page,
    }
    return render(request, "web/search.html", context)


@require_GET
def prefecture_detail(request: HttpRequest, number: int) -> HttpResponse:
    prefecture = selectors.prefecture_by_number(number)
    if prefecture is None:
        raise Http404(gettext("There is no prefecture with the number %(number)s.") % {"number": number})
    municipalities = list(selectors.municipalities_of_prefecture(prefecture))
    context = {
        "prefecture": prefecture,
        "prefecture_label": _prefecture_label(prefecture),
        "municipalities": municipalities,
        "total_population": sum(m.population for m in municipalities),
    }
    return render(request, "web/prefecture_detail.html", context)


@require_GET
def municipality_home(request: HttpRequest, municipality_code: str) -> HttpResponse:
    # TenantMiddleware has already answered 404 for an unknown code or a wrong check digit.
    from madoguchi.procedures.selectors import procedures_search

    procedures = list(
        procedures_search(municipality=request.municipality).only("code", "name", "municipality")
    )
    return render(
        request,
        "web/municipality_home.html",
        {
            "municipality": request.municipality,
            "procedure_count": len(procedures),
            "procedures": procedures[:8],
        },
    )
