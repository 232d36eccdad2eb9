"""Jグランツ互換 公開API: the public subsidy API of Jグランツ (デジタル庁), reproduced on Madoguchi's calls, so that a
client written for https://api.jgrants-portal.go.jp/exp/… works unchanged against Madoguchi (DOMAIN.md §4).

Mounted at /exp/ (its own NinjaAPI: schema at /exp/openapi.json, docs at /exp/docs):

- ``GET /exp/v1/public/subsidies``          補助金一覧検索 (search published calls)
- ``GET /exp/v1/public/subsidies/id/{id}``  補助金詳細取得 (one call, with its documents as base64)
- ``GET /exp/v2/public/subsidies/id/{id}``  補助金詳細取得 V2 (as v1, plus ``granttype`` and ``workflow``)

What follows Jグランツ's published OpenAPI (補助金情報取得API): the field names, ``result`` always an array,
``metadata.resultset.count``, several values joined with " / ", the keyword rules (2–255 characters, no spaces,
case and full/half width ignored), the V2 ``workflow`` items, and errors as ``{type, errorCode, title,
instance}`` (``E-ML-9999`` is Jグランツ's code for an internal error; the 4xx codes below are Madoguchi's own,
Jグランツ publishes none). Datetimes are ISO 8601 in UTC with milliseconds and "Z"
(``2026-04-01T00:00:00.000Z``), as in Jグランツ's samples; ``project_end_deadline`` (a date here) is given as
the end of that day in Japan, ``<date>T15:00:00.000Z`` (Jグランツ's samples show deadlines at 15:00Z too).

Only published calls exist for this API. The three document lists are generated on every request (nothing
is stored): the 公募要領 and an outline of the 交付要綱 as PDF (reportlab, the PDF reader's Japanese fonts),
and the application form definition as JSON.
"""

from __future__ import annotations

import base64
import html as html_lib
import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from urllib.parse import quote

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from madoguchi.core.documents import GOTHIC, A4Writer
from madoguchi.core.wareki import format_wareki
from madoguchi.grants.models import Call, Programme
from madoguchi.procedures.formengine import normalize_search_text

logger = logging.getLogger(__name__)

__all__ = ["api", "application_form_json", "grant_outline_pdf", "guidelines_pdf"]

V1_LIST = "/v1/public/subsidies"
V1_DETAIL = "/v1/public/subsidies/id/{id}"
V2_DETAIL = "/v2/public/subsidies/id/{id}"

KEYWORD_MIN, KEYWORD_MAX = 2, 255
ID_MAX = 20  # Call.public_id (Jグランツ's own ids are at most 18 characters)

# Error codes. E-ML-9999 is Jグランツ's (internal error); the others are Madoguchi's, one per cause.
E_BAD_REQUEST = "E-ML-4000"
E_KEYWORD = "E-ML-4001"
E_SORT = "E-ML-4002"
E_ORDER = "E-ML-4003"
E_ACCEPTANCE = "E-ML-4004"
E_ID = "E-ML-4005"
E_NOT_FOUND = "E-ML-4040"
E_METHOD = "E-ML-4050"
E_INTERNAL = "E-ML-9999"

ERROR_CODES_DOC = (
    "- E-ML-4001：keyword の誤り（未指定・文字数・空白） / keyword missing, too short or long, or with spaces\n"
    "- E-ML-4002：sort の誤り / bad sort\n"
    "- E-ML-4003：order の誤り / bad order\n"
    "- E-ML-4004：acceptance の誤り（未指定・0/1 以外） / acceptance missing or not 0/1\n"
    "- E-ML-4005：id の誤り（21文字以上） / id longer than 20 characters\n"
    "- E-ML-4000：その他のパラメータの誤り / another bad parameter\n"
    "- E-ML-4040：補助金が見つからない / no such (published) subsidy\n"
    "- E-ML-4050：GET 以外のメソッド / method other than GET\n"
    "- E-ML-9999：内部サーバエラー / internal server error"
)


class _Utf8JSONRenderer(JSONRenderer):
    """Japanese as UTF-8 rather than \\u escapes, as Jグランツ answers."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="Jグランツ互換 公開API",
    version="1",
    description=(
        "Jグランツ（デジタル庁）の公開API（補助金一覧検索・補助金詳細取得・補助金詳細取得V2）と同じ"
        "パス・パラメータ・項目名・形式で、Madoguchi で公開中の公募（補助金）を返します。Jグランツ向けに書かれた"
        "クライアントは、ベースURLを変えるだけで使えます。認証は不要です。\n\n"
        "A Jグランツ-compatible public API: the same paths, parameters, field names and formats as Jグランツ's "
        "public API, answering with Madoguchi's published calls. No authentication.\n\n"
        "- 日時 / datetimes: ISO 8601, UTC, ミリ秒付き、末尾 Z（例 2026-04-01T00:00:00.000Z）\n"
        "- 複数の値 / several values: 「 / 」（半角スペース＋半角スラッシュ＋半角スペース）区切り\n"
        "- エラー / errors: `{type, errorCode, title, instance}`（title は日本語の説明と英語）\n\n"
        + ERROR_CODES_DOC
    ),
    urls_namespace="jgrants",
    renderer=_Utf8JSONRenderer(),
)


# ---------------------------------------------------------------------------------------------------------
# Schemas (documentation and response validation)
# ---------------------------------------------------------------------------------------------------------

_AREA_DOC = (
    "補助対象地域（Target area to search）。値が複数ある場合は「 / 」で区切る。例：全国、関東・甲信越地方、"
    "東京都 / Target areas (全国, regions, prefectures, 海外), several joined with ' / '"
)
_PURPOSE_DOC = (
    "利用目的（Use of subsidies）。値が複数ある場合は「 / 」で区切る。例：新たな事業を行いたい、"
    "設備整備・IT導入をしたい / Purposes, several joined with ' / '"
)
_INDUSTRY_DOC = (
    "業種（Industry）。日本標準産業分類の大分類。値が複数ある場合は「 / 」で区切る。例：製造業、情報通信業 / "
    "Industries (JSIC divisions), several joined with ' / '"
)
_EMPLOYEES_DOC = (
    "従業員数（Number of employees）。例：従業員数の制約なし、20名以下、300名以下 / Target size of business"
)
_DATETIME_DOC = "ISO 8601、UTC、ミリ秒付き（例 2026-04-01T00:00:00.000Z） / ISO 8601 in UTC with milliseconds"


class SubsidiesQuery(Schema):
    keyword: str = Field(
        ...,
        min_length=KEYWORD_MIN,
        max_length=KEYWORD_MAX,
        pattern=r"^\S+$",
        description=(
            "検索キーワード（Keyword for search）。必須。2文字以上255文字以下、空白不可。補助金名・タイトル・"
            "キャッチコピー・概要に含まれるものを返す。大文字・小文字、全角・半角（ｶﾀｶﾅとカタカナ、ＩＴとIT）を"
            "区別しない / Required, 2–255 characters, no spaces; matched against name, title, catch phrase "
            "and detail, ignoring case and full/half width"
        ),
        examples=["IT導入"],
    )
    sort: Literal["created_date", "acceptance_start_datetime", "acceptance_end_datetime"] = Field(
        "created_date",
        description=(
            "ソート項目名（Field name to order by）。created_date：作成日時、acceptance_start_datetime："
            "募集開始日時、acceptance_end_datetime：募集終了日時。省略時は created_date / Sort field "
            "(default created_date)"
        ),
    )
    order: Literal["ASC", "DESC"] = Field(
        "DESC",
        description="ソート順（Sort order）。ASC：昇順、DESC：降順。省略時は DESC / ASC or DESC (default DESC)",
    )
    acceptance: Literal["0", "1"] = Field(
        ...,
        description=(
            "募集期間内絞込要否（Within an acceptance period）。必須。0：否（すべて）、1：要（現在募集中のみ） / "
            "Required: 0 = all, 1 = only calls accepting applications now"
        ),
    )
    use_purpose: str | None = Field(None, description=_PURPOSE_DOC + "。いずれかに一致 / any of them")
    industry: str | None = Field(None, description=_INDUSTRY_DOC + "。いずれかに一致 / any of them")
    target_number_of_employees: str | None = Field(
        None, description=_EMPLOYEES_DOC + "。「 / 」区切りで複数可、いずれかに一致 / several: any of them"
    )
    target_area_search: str | None = Field(None, description=_AREA_DOC + "。いずれかに一致 / any of them")
    institution_name: str | None = Field(
        None,
        description=(
            "実施機関名（Institution name）。制度の実施機関。「 / 」区切りで複数可、いずれかに完全一致（大文字・"
            "小文字、全角・半角、空白は区別しない） / Issuing body of the programme; several joined with ' / ', "
            "any of them, whole name"
        ),
    )


class Resultset(Schema):
    count: int = Field(..., description="取得件数（Number of results）")


class Metadata(Schema):
    type: str = Field(
        ..., description="API仕様公開URL（API Specification URL）: この互換APIの仕様 / this API's docs"
    )
    resultset: Resultset


class SubsidySummary(Schema):
    id: str = Field(..., description="補助金ID（Subsidy ID）: Madoguchi の公募ID / the call's public id")
    name: str = Field(
        ...,
        description="補助金の略称（Subsidy short name）: Jグランツの補助金番号の位置 / where Jグランツ has its number",
    )
    title: str = Field(..., description="補助金名（Subsidy name）")
    target_area_search: str | None = Field(None, description=_AREA_DOC)
    subsidy_max_limit: int | None = Field(None, description="補助額上限（円） / Subsidy maximum amount (yen)")
    acceptance_start_datetime: str = Field(
        ..., description="募集開始日時（Acceptance start date）。" + _DATETIME_DOC
    )
    acceptance_end_datetime: str = Field(
        ..., description="募集終了日時（Acceptance end date）。" + _DATETIME_DOC
    )
    target_number_of_employees: str | None = Field(None, description=_EMPLOYEES_DOC)
    institution_name: str = Field(
        ..., description="実施機関名（Institution name）: 制度の実施機関 / issuing body"
    )


class SubsidiesResponse(Schema):
    metadata: Metadata
    result: list[SubsidySummary] = Field(
        ..., description="補助金一覧検索結果情報（Result of querying subsidies list）"
    )


class ResultFile(Schema):
    name: str = Field(..., description="ファイル名（File name）")
    data: str = Field(..., description="データ（File data）。Base64形式 / base64 of the file")


class SubsidyDetail(SubsidySummary):
    subsidy_catch_phrase: str | None = Field(None, description="補助金のキャッチコピー（Advertising slogan）")
    detail: str | None = Field(None, description="補助金の概要（Purpose / Overview）。HTML")
    use_purpose: str | None = Field(None, description=_PURPOSE_DOC)
    industry: str | None = Field(None, description=_INDUSTRY_DOC)
    target_area_detail: str | None = Field(None, description="補助対象地域詳細（Target area detail）")
    subsidy_rate: str = Field(..., description="補助率（Subsidy rate）。例 2/3 / e.g. 2/3")
    project_end_deadline: str | None = Field(
        None,
        description=(
            "事業終了期限（Project end deadline）: その日の終わり（日本時間24時）を UTC で / end of that day in "
            "Japan, in UTC (e.g. 2026-12-31T15:00:00.000Z)"
        ),
    )
    request_reception_presence: Literal["有", "無"] = Field(
        ...,
        description="申請受付有無（Request acceptability）。有：現在受付中、無：受付期間外 / 有 = accepting now",
    )
    is_enable_multiple_request: bool = Field(
        ..., description="複数回申請可否（Multiple requests acceptability）。true：可、false：不可"
    )
    front_subsidy_detail_page_url: str = Field(
        ..., description="事業者向け補助金詳細画面URL（Madoguchi の公募ページ） / Madoguchi page of the call"
    )
    application_guidelines: list[ResultFile] = Field(
        ...,
        description="公募要領（Application guidelines）: PDF、公募の内容から生成 / PDF generated from the call",
    )
    outline_of_grant: list[ResultFile] = Field(
        ...,
        description="交付要綱の概要（Outline of grant rules）: PDF、制度の規程から生成 / PDF of the programme",
    )
    application_form: list[ResultFile] = Field(
        ...,
        description="申請様式（Application form）: 申請フォームの定義（JSON） / the form definition as JSON",
    )


class Workflow(Schema):
    id: str = Field(..., description="ワークフローID（id）: その回の公募ID / public id of that round's call")
    target_area_search: str | None = Field(None, description=_AREA_DOC)
    target_area_detail: str | None = Field(None, description="補助対象地域詳細（Target area detail）")
    fiscal_year_round: str = Field(
        ..., description="募集名（fiscal_year_round）。例 第2回 / round, e.g. 第2回"
    )
    acceptance_start_datetime: str = Field(
        ..., description="募集開始日時（Acceptance start date）。" + _DATETIME_DOC
    )
    acceptance_end_datetime: str = Field(
        ..., description="募集終了日時（Acceptance end date）。" + _DATETIME_DOC
    )
    project_end_deadline: str | None = Field(None, description="事業終了期限（Project end deadline）")


class SubsidyDetailV2(SubsidyDetail):
    granttype: str | None = Field(
        None, description="類型（granttype）: Madoguchi では常に null / always null"
    )
    workflow: list[Workflow] = Field(
        ...,
        description=(
            "ワークフロー（workflow）: 同じ制度の公開中の公募回すべて（この回を含む） / every published round "
            "of the same programme, this one included"
        ),
    )


class SubsidyDetailResponse(Schema):
    metadata: Metadata
    result: list[SubsidyDetail] = Field(
        ..., description="補助金詳細照会結果情報（要素1の配列） / one-element array"
    )


class SubsidyDetailV2Response(Schema):
    metadata: Metadata
    result: list[SubsidyDetailV2] = Field(..., description="補助金詳細照会結果情報 V2（要素1の配列）")


class JGrantsError(Schema):
    type: str = Field(..., description="API仕様公開URL（API Specification URL）")
    errorCode: str = Field(..., description="エラーコード（Error code）\n" + ERROR_CODES_DOC)  # noqa: N815
    title: str = Field(
        ..., description="エラータイトル（Error title）: 日本語の説明（英語） / Japanese, then English"
    )
    instance: str = Field(..., description="HTTPリクエストURI（HTTP request URI）")


ERROR_RESPONSES = {400: JGrantsError, 405: JGrantsError, 500: JGrantsError}
DETAIL_ERROR_RESPONSES = {**ERROR_RESPONSES, 404: JGrantsError}


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


class JGrantsAPIError(Exception):
    def __init__(self, status: int, code: str, title: str):
        super().__init__(title)
        self.status, self.code, self.title = status, code, title


def _spec_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("jgrants:openapi-view"))


def _error_response(request: HttpRequest, status: int, code: str, title: str) -> HttpResponse:
    body = {"type": _spec_url(request), "errorCode": code, "title": title, "instance": request.path}
    return api.create_response(request, body, status=status)


@api.exception_handler(JGrantsAPIError)
def _jgrants_error(request, exc: JGrantsAPIError):
    return _error_response(request, exc.status, exc.code, exc.title)


_PARAMETER_ERRORS = {
    "keyword": (
        E_KEYWORD,
        "keyword は必須です。空白を含まない2文字以上255文字以下で指定してください。"
        "(keyword is required: 2 to 255 characters, no spaces.)",
    ),
    "sort": (
        E_SORT,
        "sort は created_date、acceptance_start_datetime、acceptance_end_datetime のいずれかを指定してください。"
        "(sort must be created_date, acceptance_start_datetime or acceptance_end_datetime.)",
    ),
    "order": (E_ORDER, "order は ASC または DESC を指定してください。(order must be ASC or DESC.)"),
    "acceptance": (
        E_ACCEPTANCE,
        "acceptance は必須です。0（すべて）または 1（募集中のみ）を指定してください。"
        "(acceptance is required: 0 for all, 1 for calls accepting applications now.)",
    ),
    "id": (E_ID, f"id は{ID_MAX}文字以内で指定してください。(id must be at most {ID_MAX} characters.)"),
}
_PARAMETER_ORDER = list(_PARAMETER_ERRORS)


@api.exception_handler(NinjaValidationError)
def _invalid_parameter(request, exc: NinjaValidationError):
    """Parameter errors in Jグランツ's shape, the first bad parameter (keyword, sort, order, acceptance, id)."""
    names = [str(error.get("loc", ("", ""))[-1]) for error in exc.errors]
    known = sorted((n for n in names if n in _PARAMETER_ERRORS), key=_PARAMETER_ORDER.index)
    if known:
        code, title = _PARAMETER_ERRORS[known[0]]
    else:
        code, title = E_BAD_REQUEST, "パラメータに誤りがあります。(A parameter is invalid.)"
    return _error_response(request, 400, code, title)


@api.exception_handler(Exception)
def _internal_error(request, exc: Exception):
    logger.exception("jgrants api: internal error on %s", request.path)
    return _error_response(
        request, 500, E_INTERNAL, "内部サーバエラーが発生しました。(Internal Server Error.)"
    )


def _method_not_allowed(request: HttpRequest) -> HttpResponse:
    response = _error_response(
        request,
        405,
        E_METHOD,
        "このメソッドは使えません。GET で呼び出してください。(Method not allowed: use GET.)",
    )
    response["Allow"] = "GET"
    return response


# ---------------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------------


def jgrants_datetime(value: datetime) -> str:
    """2026-04-01T00:00:00.000Z: UTC, milliseconds and "Z", as Jグランツ writes its datetimes."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jgrants_deadline(value: date | None) -> str | None:
    """A deadline date as the end of that day in Japan (the next midnight, JST) in UTC: 2026-12-31T15:00:00.000Z."""
    if value is None:
        return None
    end_of_day = datetime.combine(value + timedelta(days=1), time(0), tzinfo=timezone.get_default_timezone())
    return jgrants_datetime(end_of_day)


def _or_none(value: str) -> str | None:
    return value or None


def _values(joined: str | None) -> list[str]:
    """'東京都 / 大阪府' → ['東京都', '大阪府'] (a plain '/' is taken as a separator too)."""
    return [part.strip() for part in (joined or "").split("/") if part.strip()]


def _norm(text: str) -> str:
    return normalize_search_text(text, keep_spaces=False)


def _accepting(call: Call, now: datetime) -> bool:
    return call.acceptance_start_datetime <= now <= call.acceptance_end_datetime


_BLOCK_END = re.compile(r"(?i)<\s*(?:br|/p|/div|/li|/h[1-6]|/tr|/ul|/ol|/table)\b[^>]*>")
_LIST_ITEM = re.compile(r"(?i)<\s*li\b[^>]*>")


def html_text(value: str) -> str:
    """The text of the call's HTML detail, with its paragraphs and list items on lines of their own."""
    text = _LIST_ITEM.sub("・", _BLOCK_END.sub("\n", value or ""))
    text = html_lib.unescape(strip_tags(text)).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ---------------------------------------------------------------------------------------------------------
# Documents (generated on each request; nothing stored)
# ---------------------------------------------------------------------------------------------------------


def _wareki_datetime(value: datetime) -> str:
    local = timezone.localtime(value)
    return f"{format_wareki(local.date())} {local:%H:%M}"


def _yen(amount: int | None) -> str:
    return f"{amount:,}円" if amount is not None else "上限なし"


# The documents are Japanese whatever the request's language: the model's choice labels are not used.
_APPLICANTS = {"local_government": "地方公共団体", "business": "事業者（GビズIDでログイン）"}
_ISSUERS = {"ministry": "国（府省庁）", "prefecture": "都道府県", "municipality": "市区町村"}
_GBIZ_ACCOUNTS = {"prime": "プライム", "member": "メンバー", "entry": "エントリー"}


def _listed(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


# Programme.eligibility rules in words; a rule not listed here is shown as "key：value".
_ELIGIBILITY_LABELS = {
    "gbiz": lambda v: (
        "GビズIDのアカウント（" + "・".join(_GBIZ_ACCOUNTS.get(x, x) for x in _listed(v)) + "）"
    ),
    "max_employees": lambda v: f"従業員数が{v}人以下であること",
    "industries": lambda v: "業種が次のいずれかであること：" + "、".join(_listed(v)),
    "prefectures": lambda v: "所在地が次のいずれかであること：" + "、".join(_listed(v)),
    "corporate_number": lambda v: "法人番号を有すること" if v else "",
    "council_member": lambda v: "協議会の構成員であること" if v else "",
}


def _eligibility_lines(rules: dict) -> list[str]:
    lines = []
    for key, value in (rules or {}).items():
        render = _ELIGIBILITY_LABELS.get(key)
        line = render(value) if render else f"{key}：{value}"
        if line:
            lines.append(line)
    return lines


def _programme_rules(page: A4Writer, programme: Programme, *, first: int) -> None:
    """Two numbered sections from the programme's rules: eligible costs, then decision and reporting."""
    page.heading(f"{first}　補助対象経費")
    categories = programme.expense_categories or []
    if categories:
        for category in categories:
            mark = "対象" if category.get("eligible", True) else "対象外"
            page.text(f"・{category.get('name') or category.get('code')}（{mark}）", indent=12)
    else:
        page.text("交付要綱に定めるところによる。", indent=12)
    page.heading(f"{first + 1}　交付決定・実績報告")
    page.text(f"・標準処理期間：交付申請の到達から{programme.decision_business_days}営業日", indent=12)
    page.text(f"・実績報告：補助事業の完了の日から{programme.report_business_days}営業日以内", indent=12)
    page.text(
        "・補助金等に係る予算の執行の適正化に関する法律（昭和30年法律第179号）及び同法施行令の定めるところによる"
        "（計画変更の事前承認（第7条）、申請の取下げ（第9条）、額の確定（第15条）、交付決定の取消し及び返還"
        "（第17条・第18条）、加算金・延滞金（第19条））。",
        indent=12,
        size=9.5,
    )


def guidelines_pdf(call: Call, *, page_url: str = "") -> bytes:
    """公募要領: the call as its applicants read it (purpose, who may apply, costs, rate, window, how to apply)."""
    programme = call.programme
    page = A4Writer(
        f"{call.title} 公募要領",
        subject=f"{programme.name} 第{call.round}回 公募要領",
        creator="Madoguchi Jグランツ互換 公開API",
    )
    page.text(programme.institution_name, font=GOTHIC, size=10.5)
    page.space(6)
    page.text(call.title, font=GOTHIC, size=16)
    page.text(f"公募要領（第{call.round}回）", font=GOTHIC, size=14)
    if call.catch_phrase:
        page.space(4)
        page.text(call.catch_phrase, size=11)
    page.space(6)
    page.heading("1　事業の目的・概要")
    page.text(html_text(call.detail) or call.title, indent=12)
    if call.use_purpose:
        page.text(f"利用目的：{call.use_purpose}", indent=12)
    page.heading("2　補助対象者")
    page.text(
        f"・申請できる者：{_APPLICANTS.get(programme.applicant_type, programme.applicant_type)}", indent=12
    )
    page.text(f"・対象地域：{call.target_area_search or '指定なし'}", indent=12)
    if call.target_area_detail:
        page.text(f"・対象地域の詳細：{call.target_area_detail}", indent=12)
    page.text(f"・対象業種：{call.industry or '指定なし'}", indent=12)
    page.text(f"・従業員数：{call.target_number_of_employees or '指定なし'}", indent=12)
    for line in _eligibility_lines(programme.eligibility):
        page.text(f"・{line}", indent=12)
    page.heading("3　補助率・補助上限額")
    page.text(f"・補助率：{programme.rate_label}以内", indent=12)
    page.text(f"・補助上限額：{_yen(call.subsidy_max_limit)}", indent=12)
    page.heading("4　公募期間")
    page.text(
        f"{_wareki_datetime(call.acceptance_start_datetime)} から "
        f"{_wareki_datetime(call.acceptance_end_datetime)} まで（日本時間）",
        indent=12,
    )
    page.heading("5　事業実施期間")
    deadline = (
        format_wareki(call.project_end_deadline) if call.project_end_deadline else "交付決定通知に定める日"
    )
    page.text(f"交付決定の日から {deadline} までに事業を完了すること。", indent=12)
    _programme_rules(page, programme, first=6)
    page.heading("8　申請方法")
    how = "GビズIDでログインし、" if programme.applicant_type == Programme.ApplicantType.BUSINESS else ""
    page.text(f"{how}Madoguchi の公募ページから電子申請すること。", indent=12)
    if page_url:
        page.text(page_url, indent=12, size=9.5)
    page.text(f"・複数回の申請：{'可' if call.is_enable_multiple_request else '不可'}", indent=12)
    if programme.legal_basis:
        page.heading("9　根拠")
        page.text(programme.legal_basis, indent=12)
    return page.bytes()


def grant_outline_pdf(call: Call) -> bytes:
    """交付要綱の概要: the programme's rules in short (issuer, basis, who may apply, rate, costs, procedure)."""
    programme = call.programme
    page = A4Writer(f"{programme.name} 交付要綱の概要", subject=f"{programme.name} 交付要綱の概要")
    page.text(programme.institution_name, font=GOTHIC, size=10.5)
    page.space(6)
    page.text(f"{programme.name}　交付要綱の概要", font=GOTHIC, size=16)
    page.space(6)
    page.heading("1　制度")
    page.text(f"・制度名：{programme.name}", indent=12)
    issuer = _ISSUERS.get(programme.issuer, programme.issuer)
    page.text(f"・実施機関：{programme.institution_name}（{issuer}）", indent=12)
    if programme.legal_basis:
        page.text(f"・交付要綱：{programme.legal_basis}", indent=12)
    page.heading("2　補助対象者・補助率")
    page.text(
        f"・申請できる者：{_APPLICANTS.get(programme.applicant_type, programme.applicant_type)}", indent=12
    )
    page.text(f"・補助率：{programme.rate_label}以内", indent=12)
    for line in _eligibility_lines(programme.eligibility):
        page.text(f"・{line}", indent=12)
    _programme_rules(page, programme, first=3)
    return page.bytes()


def application_form_json(call: Call) -> bytes:
    """申請様式: the call's application form definition (procedures form engine), as UTF-8 JSON."""
    return json.dumps(call.form_definition, ensure_ascii=False, indent=2).encode("utf-8")


def _file(name: str, data: bytes) -> dict:
    return {"name": name, "data": base64.b64encode(data).decode("ascii")}


# ---------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------


def _published() -> QuerySet[Call]:
    return Call.objects.filter(published=True).select_related("programme")


def _metadata(request: HttpRequest, count: int) -> dict:
    return {"type": _spec_url(request), "resultset": {"count": count}}


def _summary(call: Call) -> dict:
    return {
        "id": call.public_id,
        "name": call.name,
        "title": call.title,
        "target_area_search": _or_none(call.target_area_search),
        "subsidy_max_limit": call.subsidy_max_limit,
        "acceptance_start_datetime": jgrants_datetime(call.acceptance_start_datetime),
        "acceptance_end_datetime": jgrants_datetime(call.acceptance_end_datetime),
        "target_number_of_employees": _or_none(call.target_number_of_employees),
        "institution_name": call.programme.institution_name,
    }


def _matches_any(wanted: str | None, have: Iterable[str]) -> bool:
    wanted_values = {_norm(v) for v in _values(wanted)}
    if not wanted_values:
        return True
    return not wanted_values.isdisjoint(_norm(v) for v in have)


def _keyword_matches(keyword: str, call: Call) -> bool:
    """The normalised keyword within one of name, title, catch phrase or the text of the detail (no tags)."""
    fields = (call.name, call.title, call.catch_phrase, html_text(call.detail))
    return bool(keyword) and any(keyword in _norm(field) for field in fields if field)


@api.get(
    V1_LIST,
    response={200: SubsidiesResponse, **ERROR_RESPONSES},
    summary="補助金一覧検索（Search subsidies with conditions）",
    description=(
        "条件に合う公開中の公募（補助金）の一覧を返す。keyword と acceptance は必須。絞込み項目は「 / 」区切りで"
        "複数指定でき、いずれかの値を持つ公募を返す / Published calls matching the conditions; keyword and "
        "acceptance are required; filters with several values match any of them."
    ),
    operation_id="jgrants_v1_subsidies",
    tags=["Jグランツ互換 / Jグランツ-compatible"],
)
def subsidies(request, q: Query[SubsidiesQuery]):
    keyword = _norm(q.keyword)
    calls = _published().defer("form_definition")
    now = timezone.now()
    if q.acceptance == "1":
        calls = calls.filter(acceptance_start_datetime__lte=now, acceptance_end_datetime__gte=now)
    found = [
        call
        for call in calls
        if _keyword_matches(keyword, call)
        and _matches_any(q.use_purpose, _values(call.use_purpose))
        and _matches_any(q.industry, _values(call.industry))
        and _matches_any(q.target_number_of_employees, _values(call.target_number_of_employees))
        and _matches_any(q.target_area_search, _values(call.target_area_search))
        and _matches_any(q.institution_name, [call.programme.institution_name])
    ]
    # Stable sort by pk first, then by the field: ties keep a repeatable order in either direction.
    found.sort(key=lambda c: c.pk, reverse=q.order == "DESC")
    found.sort(key=lambda c: getattr(c, q.sort), reverse=q.order == "DESC")
    return {"metadata": _metadata(request, len(found)), "result": [_summary(c) for c in found]}


def _call_or_404(public_id: str) -> Call:
    call = _published().filter(public_id=public_id).first()
    if call is None:
        raise JGrantsAPIError(
            404,
            E_NOT_FOUND,
            f"指定された補助金（id: {public_id[:ID_MAX]}）は見つかりません。(No subsidy with this id.)",
        )
    return call


def _detail(request: HttpRequest, call: Call) -> dict:
    page_url = request.build_absolute_uri(f"/grants/calls/{quote(call.public_id, safe='')}/")
    return {
        **_summary(call),
        "subsidy_catch_phrase": _or_none(call.catch_phrase),
        "detail": _or_none(call.detail),
        "use_purpose": _or_none(call.use_purpose),
        "industry": _or_none(call.industry),
        "target_area_detail": _or_none(call.target_area_detail),
        "subsidy_rate": call.programme.rate_label,
        "project_end_deadline": jgrants_deadline(call.project_end_deadline),
        "request_reception_presence": "有" if _accepting(call, timezone.now()) else "無",
        "is_enable_multiple_request": call.is_enable_multiple_request,
        "front_subsidy_detail_page_url": page_url,
        "application_guidelines": [_file("公募要領.pdf", guidelines_pdf(call, page_url=page_url))],
        "outline_of_grant": [_file("交付要綱の概要.pdf", grant_outline_pdf(call))],
        "application_form": [_file("申請様式.json", application_form_json(call))],
    }


_ID_PATH = Path(
    ...,
    min_length=1,
    max_length=ID_MAX,
    description="補助金ID（Subsidy ID）: 一覧検索の id / the id from the list (Call.public_id)",
    examples=["a0W5h00000ABCDEFG1"],
)


@api.get(
    V1_DETAIL,
    response={200: SubsidyDetailResponse, **DETAIL_ERROR_RESPONSES},
    summary="補助金詳細取得（Retrieve a subsidy detail）",
    description=(
        "公開中の公募1件の詳細。公募要領・交付要綱の概要（PDF）と申請様式（JSON）を Base64 で含む / One published "
        "call, with its guidelines and grant outline (PDF) and application form (JSON) as base64."
    ),
    operation_id="jgrants_v1_subsidy",
    tags=["Jグランツ互換 / Jグランツ-compatible"],
)
def subsidy_v1(request, id: str = _ID_PATH):  # noqa: A002 — Jグランツ's parameter name
    call = _call_or_404(id)
    return {"metadata": _metadata(request, 1), "result": [_detail(request, call)]}


def _workflow(call: Call) -> list[dict]:
    rounds = (
        _published()
        .filter(programme_id=call.programme_id)
        .order_by("round", "acceptance_start_datetime", "pk")
    )
    return [
        {
            "id": other.public_id,
            "target_area_search": _or_none(other.target_area_search),
            "target_area_detail": _or_none(other.target_area_detail),
            "fiscal_year_round": f"第{other.round}回",
            "acceptance_start_datetime": jgrants_datetime(other.acceptance_start_datetime),
            "acceptance_end_datetime": jgrants_datetime(other.acceptance_end_datetime),
            "project_end_deadline": jgrants_deadline(other.project_end_deadline),
        }
        for other in rounds.defer("detail", "form_definition")
    ]


@api.get(
    V2_DETAIL,
    response={200: SubsidyDetailV2Response, **DETAIL_ERROR_RESPONSES},
    summary="補助金詳細取得 V2（Retrieve a subsidy detail V2）",
    description=(
        "V1 の項目に、類型（granttype）と同じ制度の公募回（workflow）を加えたもの / As V1, plus granttype and the "
        "programme's published rounds (workflow)."
    ),
    operation_id="jgrants_v2_subsidy",
    tags=["Jグランツ互換 / Jグランツ-compatible"],
)
def subsidy_v2(request, id: str = _ID_PATH):  # noqa: A002 — Jグランツ's parameter name
    call = _call_or_404(id)
    detail = {**_detail(request, call), "granttype": None, "workflow": _workflow(call)}
    return {"metadata": _metadata(request, 1), "result": [detail]}


# Any other method on the three paths: Jグランツ's 405, in its error shape (not in the schema).
_OTHER_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


@api.api_operation(_OTHER_METHODS, V1_LIST, include_in_schema=False)
def subsidies_other_methods(request):
    return _method_not_allowed(request)


@api.api_operation(_OTHER_METHODS, V1_DETAIL, include_in_schema=False)
def subsidy_v1_other_methods(request, id: str):  # noqa: A002
    return _method_not_allowed(request)


@api.api_operation(_OTHER_METHODS, V2_DETAIL, include_in_schema=False)
def subsidy_v2_other_methods(request, id: str):  # noqa: A002
    return _method_not_allowed(request)


# Mounted with `path("exp/", include("madoguchi.grants.jgrants_api"))`: this module is the URLconf too.
urlpatterns = api.urls[0]
app_name = api.urls_namespace
