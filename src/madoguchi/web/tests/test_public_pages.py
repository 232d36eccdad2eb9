import re

import pytest
from django.urls import reverse

from madoguchi.core.public_bodies import public_bodies_load


@pytest.fixture
def public_bodies(db):
    public_bodies_load()


def _text(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_home_is_japanese_with_skip_link_and_prefecture_index(client, public_bodies):
    response = client.get(reverse("web:home"))

    assert response.status_code == 200
    html = _text(response)
    assert '<html lang="ja">' in html
    assert re.search(r'<a class="skip-link" href="#main">本文へ移動</a>', html)
    assert 'id="main"' in html
    for region in ("北海道・東北", "関東", "中部", "近畿", "中国", "四国", "九州・沖縄"):
        assert f">{region}</h3>" in html
    assert f'href="{reverse("web:prefecture_detail", args=[1])}">北海道</a>' in html
    assert f'href="{reverse("web:prefecture_detail", args=[47])}">沖縄県</a>' in html
    assert 'action="/i18n/setlang/"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["札幌", "さっぽろ", "ｻｯﾎﾟﾛ", "011002"])
def test_search_finds_sapporo(client, public_bodies, query):
    response = client.get(reverse("web:municipality_search"), {"q": query})

    assert response.status_code == 200
    html = _text(response)
    assert f'href="{reverse("web:municipality_home", args=["011002"])}" lang="ja">札幌市</a>' in html


@pytest.mark.django_db
def test_search_within_a_prefecture(client, public_bodies):
    response = client.get(reverse("web:municipality_search"), {"q": "府中", "pref": 13})

    html = _text(response)
    assert "府中市" in html
    assert "132063" in html  # 東京都府中市
    assert "342076" not in html  # 広島県府中市 is in another prefecture


@pytest.mark.django_db
def test_search_with_empty_query_asks_for_one(client, public_bodies):
    response = client.get(reverse("web:municipality_search"), {"q": "  "})

    assert response.status_code == 200
    html = _text(response)
    assert "市区町村名の一部" in html
    assert "<table" not in html


@pytest.mark.django_db
def test_search_without_match_says_so(client, public_bodies):
    response = client.get(reverse("web:municipality_search"), {"q": "存在しない町"})

    assert response.status_code == 200
    assert "に一致する市区町村は見つかりませんでした" in _text(response)


@pytest.mark.django_db
def test_search_paginates_by_fifty(client, public_bodies):
    # "市" matches every city: far more than one page.
    response = client.get(reverse("web:municipality_search"), {"q": "市"})

    page = response.context["page"]
    assert page.paginator.per_page == 50
    assert len(page.object_list) == 50
    assert "?q=%E5%B8%82&amp;page=2" in _text(response)

    second = client.get(reverse("web:municipality_search"), {"q": "市", "page": 2})
    assert second.context["page"].number == 2


@pytest.mark.django_db
def test_search_page_query_count(client, public_bodies, django_assert_max_num_queries):
    # prefecture list, result count, result page (with prefecture joined)
    with django_assert_max_num_queries(3):
        response = client.get(reverse("web:municipality_search"), {"q": "市"})
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "queries"),
    # 北海道 has the most municipalities (179); a municipality page: itself + its online procedures.
    [("/", 1), ("/prefectures/1/", 2), ("/011002/", 2)],
)
def test_other_pages_query_count(client, public_bodies, django_assert_max_num_queries, path, queries):
    with django_assert_max_num_queries(queries):
        response = client.get(path)
    assert response.status_code == 200


@pytest.mark.django_db
def test_prefecture_page_lists_its_municipalities(client, public_bodies):
    response = client.get(reverse("web:prefecture_detail", args=[13]))

    assert response.status_code == 200
    html = _text(response)
    assert "<h1>東京都" in html
    assert "千代田区" in html
    assert "八王子市" in html
    assert "札幌市" not in html
    assert len(response.context["municipalities"]) == 62  # 23 wards, 26 cities, 5 towns, 8 villages


@pytest.mark.django_db
def test_unknown_prefecture_is_404_in_japanese(client, public_bodies):
    response = client.get(reverse("web:prefecture_detail", args=[48]))

    assert response.status_code == 404
    html = _text(response)
    assert "ページが見つかりません" in html
    assert "番号 48 の都道府県はありません" in html


@pytest.mark.django_db
def test_municipality_home(client, public_bodies):
    response = client.get("/131016/")

    assert response.status_code == 200
    html = _text(response)
    assert "千代田区" in html
    assert "チヨダク" in html
    assert "131016" in html
    assert "「令和2年国勢調査」（総務省統計局）を加工して作成" in html
    assert "このまちの手続き" in html
    assert reverse("web:staff_dashboard", args=["131016"]) in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "explanation"),
    [
        ("/131017/", "検査数字が一致しません"),  # 千代田区 is 131016
        ("/999999/", "検査数字が一致しません"),
        ("/999997/", "団体コード 999997 の市区町村はありません"),  # a valid check digit, but no such body
    ],
)
def test_bad_municipality_code_is_404_in_japanese(client, public_bodies, path, explanation):
    response = client.get(path)

    assert response.status_code == 404
    html = _text(response)
    assert '<html lang="ja">' in html
    assert "ページが見つかりません" in html
    assert explanation in html


@pytest.mark.django_db
def test_language_switch_to_english(client, public_bodies):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"

    response = client.get(reverse("web:home"))

    html = _text(response)
    assert '<html lang="en">' in html
    assert "Skip to main content" in html
    assert "Find your municipality" in html
    assert "Hokkaido and Tohoku" in html
    assert ">Hokkaido</a>" in html


@pytest.mark.django_db
def test_search_with_unknown_prefecture_marks_the_field_invalid(client, public_bodies):
    response = client.get(reverse("web:municipality_search"), {"q": "札幌", "pref": 99})

    assert response.status_code == 200
    html = _text(response)
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_pref_error"' in html
    assert 'id="id_pref_error"' in html
    assert "<table" not in html


@pytest.mark.django_db
def test_municipality_home_in_english_keeps_japanese_names_marked(client, public_bodies):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    response = client.get("/011002/")

    html = _text(response)
    assert '<html lang="en">' in html
    assert '<h1 lang="ja">' in html
    assert "Procedures in this municipality" in html
    assert ">Hokkaido</a>" in html
