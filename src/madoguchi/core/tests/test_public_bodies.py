import pytest
from django.core.management import call_command

from madoguchi.core import selectors
from madoguchi.core.models import AuditRecord, Municipality, Prefecture
from madoguchi.core.public_bodies import normalize_for_search, public_bodies_load

pytestmark = pytest.mark.django_db


def test_all_public_bodies_load_with_the_census_total(public_bodies):
    assert Prefecture.objects.count() == 47
    assert Municipality.objects.count() == 1741
    assert public_bodies.population == 126_146_099
    assert Municipality.objects.filter(kind=Municipality.Kind.WARD).count() == 23
    chiyoda = Municipality.objects.get(code="131016")
    assert (chiyoda.name, chiyoda.kana, chiyoda.prefecture.name) == ("千代田区", "チヨダク", "東京都")
    assert Municipality.objects.get(code="075469").population == 0  # 双葉町, no residents in 2020
    assert Prefecture.objects.get(number=13).name_en == "Tokyo"


def test_loading_again_changes_nothing_and_audits_nothing(public_bodies, capsys):
    assert public_bodies.changed
    records = AuditRecord.objects.count()
    again = public_bodies_load()
    assert not again.changed and again.municipalities == 1741
    assert AuditRecord.objects.count() == records
    call_command("load_public_bodies")
    assert (
        "already up to date: 47 prefectures, 1741 municipalities, population 126,146,099"
        in capsys.readouterr().out
    )


def test_a_changed_row_is_restored(public_bodies):
    Municipality.objects.filter(code="011002").update(population=1, name="誤記")
    assert public_bodies_load().changed
    sapporo = Municipality.objects.get(code="011002")
    assert (sapporo.name, sapporo.population) == ("札幌市", 1_973_395)


@pytest.mark.parametrize(
    "query", ["札幌", "さっぽろ", "サッポロ", "ｻｯﾎﾟﾛ", "011002", "０１１００２", "北海道 札幌"]
)
def test_search_finds_by_name_kana_and_code(public_bodies, query):
    assert [m.code for m in selectors.municipality_search(query)] == ["011002"]


def test_search_within_a_prefecture(public_bodies):
    tokyo = selectors.prefecture_by_number(13)
    assert selectors.municipality_search("", prefecture=tokyo).count() == 62
    assert {m.code for m in selectors.municipality_search("府中")} == {
        "132063",
        "342084",
        "343021",
    }  # 府中市 (東京都, 広島県), 府中町


def test_normalize_for_search():
    assert normalize_for_search("ｻｯﾎﾟﾛ シ") == normalize_for_search("さっぽろし") == "サッポロシ"
    assert normalize_for_search("ＡＢＣ１２３") == "abc123"


def test_municipality_by_code_refuses_malformed_codes(public_bodies):
    assert selectors.municipality_by_code("131016").name == "千代田区"
    assert selectors.municipality_by_code("131017") is None
    assert selectors.municipality_by_code("13101") is None
    assert selectors.municipality_by_code("999999") is None
