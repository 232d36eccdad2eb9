"""Jグランツ互換 公開API (/exp/…): a client written for Jグランツ's public API works unchanged against Madoguchi."""

import base64
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pikepdf
import pytest
from django.utils import timezone

from madoguchi.core.zones import Zone
from madoguchi.grants.models import Call, Programme

pytestmark = pytest.mark.django_db

LIST = "/exp/v1/public/subsidies"
V1 = "/exp/v1/public/subsidies/id/{}"
V2 = "/exp/v2/public/subsidies/id/{}"
JGRANTS_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SUMMARY_KEYS = {
    "id", "name", "title", "target_area_search", "subsidy_max_limit", "acceptance_start_datetime",
    "acceptance_end_datetime", "target_number_of_employees", "institution_name",
}  # fmt: skip
DETAIL_KEYS = SUMMARY_KEYS | {
    "subsidy_catch_phrase", "detail", "use_purpose", "industry", "target_area_detail", "subsidy_rate",
    "project_end_deadline", "request_reception_presence", "is_enable_multiple_request",
    "front_subsidy_detail_page_url", "application_guidelines", "outline_of_grant", "application_form",
}  # fmt: skip
ERROR_KEYS = {"type", "errorCode", "title", "instance"}

FORM = {
    "schema": 1,
    "title": {"ja": "IT導入補助金 交付申請", "en": "IT subsidy application"},
    "pages": [
        {
            "key": "project",
            "title": {"ja": "事業計画", "en": "Project"},
            "fields": [
                {
                    "key": "project_title",
                    "type": "text",
                    "label": {"ja": "事業名", "en": "Project"},
                    "required": True,
                }
            ],
        }
    ],
}


def _programme(code, name, institution, *, rate=(2, 3), **extra):
    return Programme.objects.create(
        code=code,
        name=name,
        issuer=Programme.Issuer.MINISTRY,
        institution_name=institution,
        applicant_type=Programme.ApplicantType.BUSINESS,
        rate_num=rate[0],
        rate_den=rate[1],
        **extra,
    )


def _call(programme, public_id, *, start, end, created, **fields):
    call = Call.objects.create(
        programme=programme,
        public_id=public_id,
        acceptance_start_datetime=start,
        acceptance_end_datetime=end,
        form_definition=FORM,
        published=fields.pop("published", True),
        **fields,
    )
    Call.objects.filter(pk=call.pk).update(created_date=created)  # auto_now_add: set it afterwards
    call.refresh_from_db()
    return call


@pytest.fixture
def calls(db):
    now = timezone.now()
    it = _programme(
        "it-donyu",
        "IT導入補助金",
        "経済産業省 中小企業庁",
        legal_basis="IT導入補助金交付規程",
        eligibility={"gbiz": ["prime"], "max_employees": 300, "corporate_number": True},
        expense_categories=[
            {"code": "software", "name": "ソフトウェア購入費", "eligible": True},
            {"code": "pc", "name": "パソコン等の汎用機器", "eligible": False},
        ],
    )
    sogyo = _programme("sogyo", "創業助成事業", "東京都 産業労働局", rate=(1, 2))
    c1 = _call(it, "a0W0000000000001AA", round=1, name="ＩＴ導入補助金", title="ＩＴ導入補助金２０２６（通常枠）",
               catch_phrase="中小企業のIT導入を支援", detail="<p>業務効率化のための<b>ITツール</b>導入を補助します。</p>",
               use_purpose="設備整備・IT導入をしたい", industry="製造業 / 情報通信業", target_area_search="全国",
               target_area_detail="日本全国", target_number_of_employees="300名以下", subsidy_max_limit=4_500_000,
               start=now - timedelta(days=60), end=now - timedelta(days=30),
               created=datetime(2026, 1, 1, 9, tzinfo=UTC))  # fmt: skip
    c2 = _call(it, "a0W0000000000002AA", round=2, name="ＩＴ導入補助金", title="ＩＴ導入補助金２０２６（インボイス枠）",
               catch_phrase="インボイス対応を支援", detail="<p>中小企業の<strong>DX</strong>を支援&amp;推進</p>",
               use_purpose="販路拡大・海外展開をしたい / 設備整備・IT導入をしたい", industry="卸売業、小売業",
               target_area_search="東京都 / 大阪府", target_number_of_employees="20名以下",
               subsidy_max_limit=3_500_000, project_end_deadline=date(2026, 12, 31), is_enable_multiple_request=True,
               start=now - timedelta(days=5), end=now + timedelta(days=25),
               created=datetime(2026, 2, 1, 9, tzinfo=UTC))  # fmt: skip
    c3 = _call(it, "a0W0000000000003AA", round=3, name="ＩＴ導入補助金", title="ＩＴ導入補助金２０２６（農業枠）",
               catch_phrase="農業のIT化を支援", industry="農業、林業", target_area_search="北海道",
               start=now + timedelta(days=10), end=now + timedelta(days=40),
               created=datetime(2026, 3, 1, 9, tzinfo=UTC))  # fmt: skip
    c4 = _call(sogyo, "a0W0000000000004AA", round=1, name="創業助成事業", title="令和8年度 創業助成事業",
               catch_phrase="東京で創業する方を支援", detail="<ul><li>ｿｳｷﾞｮｳ経費</li><li>人件費</li></ul>",
               use_purpose="新たな事業を行いたい", industry="情報通信業", target_area_search="東京都",
               target_number_of_employees="従業員数の制約なし",
               start=now - timedelta(days=2), end=now + timedelta(days=5),
               created=datetime(2026, 1, 15, 9, tzinfo=UTC))  # fmt: skip
    c5 = _call(it, "a0W0000000000005AA", round=4, name="ＩＴ導入補助金", title="ＩＴ導入補助金 非公開回",
               catch_phrase="準備中の回を支援", target_area_search="全国", published=False,
               start=now - timedelta(days=1), end=now + timedelta(days=30),
               created=datetime(2026, 4, 1, 9, tzinfo=UTC))  # fmt: skip
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "unpublished": c5}


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["result"]]


def _search(client, **params):
    params.setdefault("acceptance", "0")
    return client.get(LIST, params)


def _pid(calls, *names):
    return [calls[n].public_id for n in names]


# --- 一覧検索 ------------------------------------------------------------------------------------------------


def test_list_shape_count_and_metadata(client, calls):
    response = _search(client, keyword="IT導入", sort="created_date", order="ASC")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "ＩＴ導入補助金".encode() in response.content  # UTF-8, not \u escapes
    body = response.json()
    assert set(body) == {"metadata", "result"}
    assert body["metadata"]["type"] == "http://testserver/exp/docs"
    assert body["metadata"]["resultset"] == {"count": 3}
    assert [r["id"] for r in body["result"]] == _pid(calls, "c1", "c2", "c3")
    first = body["result"][0]
    assert set(first) == SUMMARY_KEYS
    assert first == {
        "id": "a0W0000000000001AA",
        "name": "ＩＴ導入補助金",
        "title": "ＩＴ導入補助金２０２６（通常枠）",
        "target_area_search": "全国",
        "subsidy_max_limit": 4_500_000,
        "acceptance_start_datetime": first["acceptance_start_datetime"],
        "acceptance_end_datetime": first["acceptance_end_datetime"],
        "target_number_of_employees": "300名以下",
        "institution_name": "経済産業省 中小企業庁",
    }
    # Empty values are null, as in Jグランツ.
    third = body["result"][2]
    assert third["target_number_of_employees"] is None and third["subsidy_max_limit"] is None


def test_datetimes_are_utc_with_milliseconds_and_z(client, calls):
    result = _search(client, keyword="IT導入", sort="created_date", order="ASC").json()["result"]
    for item in result:
        assert JGRANTS_DATETIME.match(item["acceptance_start_datetime"])
        assert JGRANTS_DATETIME.match(item["acceptance_end_datetime"])
    start = datetime.fromisoformat(result[0]["acceptance_start_datetime"].replace("Z", "+00:00"))
    stored = calls["c1"].acceptance_start_datetime
    assert abs(start - stored) < timedelta(milliseconds=1)


@pytest.mark.parametrize("keyword", ["IT導入", "it導入", "ＩＴ導入", "ｉｔ導入", "Ｉｔ導入"])
def test_keyword_ignores_case_and_width(client, calls, keyword):
    assert sorted(_ids(_search(client, keyword=keyword))) == _pid(calls, "c1", "c2", "c3")


def test_keyword_matches_name_title_catch_phrase_and_detail_text(client, calls):
    assert _ids(_search(client, keyword="ｿｳｷﾞｮｳ経費")) == _pid(calls, "c4")  # detail, half-width kana
    assert _ids(_search(client, keyword="ソウギョウ")) == _pid(calls, "c4")
    assert _ids(_search(client, keyword="dx")) == _pid(calls, "c2")  # detail, inside HTML
    assert _ids(_search(client, keyword="支援&推進")) == _pid(calls, "c2")  # entity decoded
    assert _ids(_search(client, keyword="strong")) == []  # tags are not text
    assert _ids(_search(client, keyword="インボイス対応")) == _pid(calls, "c2")  # catch phrase
    assert _ids(_search(client, keyword="令和8年度")) == _pid(calls, "c4")  # title
    assert _ids(_search(client, keyword="存在しない語")) == []


def test_acceptance_1_returns_only_calls_accepting_now(client, calls):
    assert sorted(_ids(_search(client, keyword="支援", acceptance="0"))) == _pid(
        calls, "c1", "c2", "c3", "c4"
    )
    assert sorted(_ids(_search(client, keyword="支援", acceptance="1"))) == _pid(calls, "c2", "c4")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"use_purpose": "販路拡大・海外展開をしたい"}, ["c2"]),
        ({"use_purpose": "設備整備・IT導入をしたい"}, ["c1", "c2"]),
        ({"use_purpose": "新たな事業を行いたい / 販路拡大・海外展開をしたい"}, ["c2", "c4"]),
        ({"industry": "情報通信業"}, ["c1", "c4"]),
        ({"industry": "情報通信業 / 農業、林業"}, ["c1", "c3", "c4"]),
        ({"target_number_of_employees": "20名以下"}, ["c2"]),
        ({"target_number_of_employees": "20名以下 / 300名以下"}, ["c1", "c2"]),
        ({"target_area_search": "東京都"}, ["c2", "c4"]),
        ({"target_area_search": "北海道 / 大阪府"}, ["c2", "c3"]),
        ({"target_area_search": "沖縄県"}, []),
        ({"institution_name": "東京都 産業労働局"}, ["c4"]),
        ({"institution_name": "経済産業省　中小企業庁 / 東京都 産業労働局"}, ["c1", "c2", "c3", "c4"]),
        ({"institution_name": "中小企業庁"}, []),  # the whole name, not a part of it
        ({"industry": "情報通信業", "target_area_search": "東京都"}, ["c4"]),  # filters combine (AND)
        ({"industry": "情報通信業", "acceptance": "1"}, ["c4"]),
    ],
)
def test_filters(client, calls, params, expected):
    assert sorted(_ids(_search(client, keyword="支援", **params))) == _pid(calls, *expected)


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("created_date", "ASC", ["c1", "c4", "c2", "c3"]),
        ("created_date", "DESC", ["c3", "c2", "c4", "c1"]),
        ("acceptance_start_datetime", "ASC", ["c1", "c2", "c4", "c3"]),
        ("acceptance_start_datetime", "DESC", ["c3", "c4", "c2", "c1"]),
        ("acceptance_end_datetime", "ASC", ["c1", "c4", "c2", "c3"]),
        ("acceptance_end_datetime", "DESC", ["c3", "c2", "c4", "c1"]),
    ],
)
def test_sort_and_order(client, calls, sort, order, expected):
    assert _ids(_search(client, keyword="支援", sort=sort, order=order)) == _pid(calls, *expected)


def test_sort_and_order_default_to_created_date_descending(client, calls):
    assert _ids(_search(client, keyword="支援")) == _pid(calls, "c3", "c2", "c4", "c1")


def test_unpublished_calls_are_invisible(client, calls):
    hidden = calls["unpublished"].public_id
    assert _search(client, keyword="非公開").json() == {
        "metadata": {"type": "http://testserver/exp/docs", "resultset": {"count": 0}},
        "result": [],
    }
    assert hidden not in _ids(_search(client, keyword="支援", acceptance="1"))
    for url in (V1, V2):
        response = client.get(url.format(hidden))
        assert response.status_code == 404 and response.json()["errorCode"] == "E-ML-4040"
    workflow = client.get(V2.format(calls["c2"].public_id)).json()["result"][0]["workflow"]
    assert hidden not in [w["id"] for w in workflow]


# --- 詳細取得 ------------------------------------------------------------------------------------------------


def _detail(client, url, call):
    response = client.get(url.format(call.public_id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["metadata"]["resultset"] == {"count": 1} and len(body["result"]) == 1
    return body["result"][0]


def test_detail_fields_and_formats(client, calls):
    item = _detail(client, V1, calls["c2"])
    assert set(item) == DETAIL_KEYS  # v1 has no workflow
    assert item["id"] == "a0W0000000000002AA"
    assert item["institution_name"] == "経済産業省 中小企業庁"
    assert item["subsidy_catch_phrase"] == "インボイス対応を支援"
    assert item["detail"] == "<p>中小企業の<strong>DX</strong>を支援&amp;推進</p>"  # the HTML as it is
    assert item["use_purpose"] == "販路拡大・海外展開をしたい / 設備整備・IT導入をしたい"
    assert item["industry"] == "卸売業、小売業"
    assert item["target_area_search"] == "東京都 / 大阪府"
    assert item["target_area_detail"] is None
    assert item["subsidy_rate"] == "2/3"
    assert item["subsidy_max_limit"] == 3_500_000
    assert item["project_end_deadline"] == "2026-12-31T15:00:00.000Z"  # end of 31 Dec in Japan
    assert item["request_reception_presence"] == "有"
    assert item["is_enable_multiple_request"] is True
    assert item["front_subsidy_detail_page_url"] == "http://testserver/grants/calls/a0W0000000000002AA/"
    assert JGRANTS_DATETIME.match(item["acceptance_start_datetime"])
    assert JGRANTS_DATETIME.match(item["acceptance_end_datetime"])


def test_request_reception_presence_says_whether_the_call_accepts_now(client, calls):
    assert _detail(client, V1, calls["c1"])["request_reception_presence"] == "無"  # closed
    assert _detail(client, V1, calls["c3"])["request_reception_presence"] == "無"  # not yet open
    assert _detail(client, V1, calls["c4"])["request_reception_presence"] == "有"
    other = _detail(client, V1, calls["c4"])
    assert other["subsidy_rate"] == "1/2" and other["project_end_deadline"] is None
    assert other["is_enable_multiple_request"] is False and other["subsidy_max_limit"] is None


def _decoded(files):
    assert isinstance(files, list) and len(files) == 1 and set(files[0]) == {"name", "data"}
    return files[0]["name"], base64.b64decode(files[0]["data"], validate=True)


def test_documents_are_a_real_pdf_and_json(client, calls):
    call = calls["c2"]
    item = _detail(client, V1, call)

    name, guidelines = _decoded(item["application_guidelines"])
    assert (
        name == "公募要領.pdf" and guidelines.startswith(b"%PDF-") and guidelines.rstrip().endswith(b"%%EOF")
    )
    with pikepdf.open(io.BytesIO(guidelines)) as pdf:
        assert len(pdf.pages) >= 1
        assert str(pdf.docinfo["/Title"]) == "ＩＴ導入補助金２０２６（インボイス枠） 公募要領"

    name, outline = _decoded(item["outline_of_grant"])
    assert name == "交付要綱の概要.pdf" and outline.startswith(b"%PDF-")
    with pikepdf.open(io.BytesIO(outline)) as pdf:
        assert str(pdf.docinfo["/Title"]) == "IT導入補助金 交付要綱の概要"

    name, form = _decoded(item["application_form"])
    assert name == "申請様式.json"
    assert json.loads(form.decode("utf-8")) == FORM


def test_documents_are_generated_from_the_current_fields(client, calls):
    call = calls["c4"]
    first = _detail(client, V1, call)["application_guidelines"][0]["data"]
    assert _detail(client, V1, call)["application_guidelines"][0]["data"] == first  # deterministic
    Call.objects.filter(pk=call.pk).update(
        title="令和8年度 創業助成事業（改訂）", detail="<p>" + "長い説明。" * 800 + "</p>"
    )
    data = base64.b64decode(_detail(client, V1, call)["application_guidelines"][0]["data"])
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert str(pdf.docinfo["/Title"]) == "令和8年度 創業助成事業（改訂） 公募要領"
        assert len(pdf.pages) >= 2  # a long detail flows onto further pages


def test_v2_adds_the_programmes_rounds_as_workflow(client, calls):
    item = _detail(client, V2, calls["c2"])
    assert set(item) == DETAIL_KEYS | {"granttype", "workflow"}
    assert item["granttype"] is None
    workflow = item["workflow"]
    assert [w["id"] for w in workflow] == _pid(calls, "c1", "c2", "c3")
    assert [w["fiscal_year_round"] for w in workflow] == ["第1回", "第2回", "第3回"]
    for w in workflow:
        assert set(w) == {
            "id", "target_area_search", "target_area_detail", "fiscal_year_round",
            "acceptance_start_datetime", "acceptance_end_datetime", "project_end_deadline",
        }  # fmt: skip
        assert JGRANTS_DATETIME.match(w["acceptance_start_datetime"])
    assert workflow[1]["target_area_search"] == "東京都 / 大阪府"
    assert workflow[1]["project_end_deadline"] == "2026-12-31T15:00:00.000Z"
    assert workflow[0]["target_area_detail"] == "日本全国"
    # Every other field is as in v1.
    v1 = _detail(client, V1, calls["c2"])
    assert {k: item[k] for k in DETAIL_KEYS} == v1
    # A programme with a single call has a single round.
    assert [w["id"] for w in _detail(client, V2, calls["c4"])["workflow"]] == _pid(calls, "c4")


# --- エラー ----------------------------------------------------------------------------------------------------


def _error(response, status, code, instance):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["errorCode"] == code
    assert body["instance"] == instance
    assert body["type"] == "http://testserver/exp/docs"
    assert body["title"] and isinstance(body["title"], str)
    return body


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"acceptance": "0"}, "E-ML-4001"),  # keyword missing
        ({"keyword": "", "acceptance": "0"}, "E-ML-4001"),
        ({"keyword": "I", "acceptance": "0"}, "E-ML-4001"),  # 1 character
        ({"keyword": "補" * 256, "acceptance": "0"}, "E-ML-4001"),  # 256 characters
        ({"keyword": "IT 導入", "acceptance": "0"}, "E-ML-4001"),  # spaces are not allowed
        ({"keyword": "IT\u3000導入", "acceptance": "0"}, "E-ML-4001"),  # nor full-width ones
        ({"keyword": "IT導入", "acceptance": "0", "sort": "title"}, "E-ML-4002"),
        ({"keyword": "IT導入", "acceptance": "0", "order": "asc"}, "E-ML-4003"),
        ({"keyword": "IT導入", "acceptance": "0", "order": "UP"}, "E-ML-4003"),
        ({"keyword": "IT導入"}, "E-ML-4004"),  # acceptance missing
        ({"keyword": "IT導入", "acceptance": "2"}, "E-ML-4004"),
        ({"keyword": "IT導入", "acceptance": "yes"}, "E-ML-4004"),
        ({"acceptance": "9", "sort": "x"}, "E-ML-4001"),  # several: keyword is reported first
    ],
)
def test_bad_list_parameters_are_jgrants_400_errors(client, calls, params, code):
    body = _error(client.get(LIST, params), 400, code, LIST)
    assert re.search(r"[ぁ-んァ-ン一-龥]", body["title"]) and "(" in body["title"]  # Japanese, then English


def test_keyword_limits_are_inclusive(client, calls):
    assert client.get(LIST, {"keyword": "IT", "acceptance": "0"}).status_code == 200
    assert client.get(LIST, {"keyword": "補" * 255, "acceptance": "0"}).status_code == 200


def test_unknown_id_is_a_jgrants_404(client, calls):
    for url in (V1, V2):
        path = url.format("a0W9999999999999ZZ")
        body = _error(client.get(path), 404, "E-ML-4040", path)
        assert "見つかりません" in body["title"]


def test_too_long_id_is_a_jgrants_400(client, calls):
    path = V1.format("x" * 21)
    _error(client.get(path), 400, "E-ML-4005", path)


def test_other_methods_are_a_jgrants_405(client, calls):
    response = client.post(LIST, {"keyword": "IT導入"})
    _error(response, 405, "E-ML-4050", LIST)
    assert response["Allow"] == "GET"
    path = V2.format(calls["c2"].public_id)
    _error(client.delete(path), 405, "E-ML-4050", path)


def test_internal_errors_are_e_ml_9999(client, calls, monkeypatch):
    from madoguchi.grants import jgrants_api

    def broken(call, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jgrants_api, "guidelines_pdf", broken)
    path = V1.format(calls["c2"].public_id)
    body = _error(client.get(path), 500, "E-ML-9999", path)
    assert "boom" not in body["title"]


# --- スキーマ・ゾーン --------------------------------------------------------------------------------------------


def test_openapi_schema_lists_the_three_paths_with_descriptions(client):
    response = client.get("/exp/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Jグランツ互換 公開API"
    assert {
        "/exp/v1/public/subsidies",
        "/exp/v1/public/subsidies/id/{id}",
        "/exp/v2/public/subsidies/id/{id}",
    } == set(schema["paths"])
    for path, operations in schema["paths"].items():
        assert set(operations) == {"get"}, path  # the 405 catch-alls are not in the schema
        for parameter in operations["get"]["parameters"]:
            assert parameter.get("description"), (path, parameter["name"])
    parameters = {p["name"] for p in schema["paths"]["/exp/v1/public/subsidies"]["get"]["parameters"]}
    assert parameters == {
        "keyword", "sort", "order", "acceptance", "use_purpose", "industry", "target_number_of_employees",
        "target_area_search", "institution_name",
    }  # fmt: skip
    for name, component in schema["components"]["schemas"].items():
        for field, spec in component.get("properties", {}).items():
            described = spec.get("description") or "$ref" in spec or "items" in spec
            assert described, (name, field)
    docs = client.get("/exp/docs")
    assert docs.status_code == 200
    assert not re.search(r'(src|href)="https?://', docs.content.decode())  # no CDN: local assets only


def test_the_main_api_schema_is_unchanged(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not any(p.startswith("/exp/") for p in paths)


@pytest.mark.parametrize(("zone", "status"), [(Zone.ALL, 200), (Zone.INTERNET, 200), (Zone.LGWAN, 404),
                                              (Zone.MYNUMBER, 404)])  # fmt: skip
def test_served_in_the_public_zones_only(client, calls, settings, zone, status):
    settings.MADOGUCHI_ZONE = zone
    assert client.get(LIST, {"keyword": "IT導入", "acceptance": "1"}).status_code == status
    assert client.get(V2.format(calls["c2"].public_id)).status_code == status
    assert client.get("/exp/openapi.json").status_code == status
