"""Demo data of the subsidies: the マイナポイント事業費補助金 FY2020 with base amounts for every body, a demo
round open now, a ministry call for businesses (GビズID プライム/メンバー) and a 千代田区 call, with a few
applications at different steps for the dashboards."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from madoguchi.core.demo import DemoSignIn
from madoguchi.core.selectors import municipality_by_code
from madoguchi.grants import services
from madoguchi.grants.models import Application, Call, Programme

JST = ZoneInfo("Asia/Tokyo")

# DOMAIN.md §3 (別表第1-2 and the FAQ): what the admin-cost subsidy covers; 備品購入費 is not eligible.
ADMIN_COST_CATEGORIES = [
    {"code": "wages", "name": "賃金（会計年度任用職員等）", "eligible": True},
    {"code": "social_insurance", "name": "共済費", "eligible": True},
    {"code": "allowances", "name": "職員手当等（時間外勤務手当等）", "eligible": True},
    {"code": "rewards", "name": "報償費", "eligible": True},
    {"code": "travel", "name": "旅費", "eligible": True},
    {"code": "consumables", "name": "需用費（消耗品費等）", "eligible": True},
    {"code": "services", "name": "役務費（通信運搬費・広告料等）", "eligible": True},
    {"code": "usage_fees", "name": "使用料及び賃借料（PC・タブレットのリース等）", "eligible": True},
    {"code": "outsourcing", "name": "委託料（コールセンター等）", "eligible": True},
    {"code": "equipment", "name": "備品購入費", "eligible": False},
]
BUSINESS_CATEGORIES = [
    {"code": "software", "name": "ソフトウェア購入費", "eligible": True},
    {"code": "cloud", "name": "クラウド利用料（最大2年分）", "eligible": True},
    {"code": "installation", "name": "導入関連経費", "eligible": True},
    {"code": "hardware", "name": "ハードウェア購入費", "eligible": False},
]


def _form(title: str, extra: list[dict]) -> dict:
    return {
        "schema": 1,
        "title": {"ja": title},
        "pages": [{"key": "main", "title": {"ja": "申請内容", "en": "Application"}, "fields": [
            {"key": "contact_name", "type": "text", "required": True, "label": {"ja": "担当者氏名", "en": "Contact person"}},
            {"key": "contact_email", "type": "email", "required": True, "label": {"ja": "担当者メールアドレス", "en": "Contact e-mail"}},
            {"key": "contact_phone", "type": "phone", "required": True, "label": {"ja": "電話番号", "en": "Phone"}},
            *extra,
            {"key": "plan", "type": "textarea", "required": True, "max_length": 2000,
             "label": {"ja": "事業計画の概要", "en": "Outline of the plan"}},
            {"key": "declaration", "type": "declaration",
             "text": {"ja": "申請内容に虚偽がないこと、交付要綱の条件に従うことを誓約します。",
                      "en": "I declare the application true and accept the conditions of the guidelines."}},
        ]}],
    }  # fmt: skip


def _jst(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=JST)


def load_demo(*, stdout) -> list[DemoSignIn]:
    now = timezone.now()
    admin_cost, _c = Programme.objects.get_or_create(
        code="mynapoint-jimuhi-2020",
        defaults=dict(
            name="マイナポイント事業費補助金", issuer=Programme.Issuer.MINISTRY, institution_name="総務省",
            legal_basis="マイナポイント事業費補助金交付要綱", applicant_type=Programme.ApplicantType.LOCAL_GOVERNMENT,
            eligibility={"council_members": "all"}, expense_categories=ADMIN_COST_CATEGORIES, rate_num=1, rate_den=1,
            # About 125億円 in all (the deck); the split between the two shares is a programme setting (demo value).
            base_formula={"equal_total": 3_000_000_000, "population_total": 9_500_000_000},
        ),
    )  # fmt: skip
    if not admin_cost.base_amounts.exists():
        services.base_amounts_compute(programme=admin_cost)
    form = _form("マイナポイント事業費補助金 交付申請", [
        {"key": "council_member", "type": "choice", "widget": "radio", "required": True,
         "label": {"ja": "マイキープラットフォーム運用協議会への参加", "en": "Member of the MyKey platform council"},
         "options": [{"value": "yes", "label": {"ja": "参加している"}}]},
    ])  # fmt: skip
    Call.objects.get_or_create(
        public_id="MNP2020JIMUHI01",
        defaults=dict(
            programme=admin_cost, round=1, name="マイナポイント事業費補助金（令和2年度）",
            title="令和2年度 マイナポイント事業費補助金", acceptance_start_datetime=_jst(2020, 4, 1),
            acceptance_end_datetime=_jst(2021, 3, 31, 17), project_end_deadline=date(2021, 3, 31),
            target_area_search="全国", use_purpose="マイナンバーカード・マイナポイントの普及", form_definition=form,
            published=True,
        ),
    )  # fmt: skip
    demo_round, _c = Call.objects.get_or_create(
        public_id="MNPDEMOJIMUHI02",
        defaults=dict(
            programme=admin_cost, round=2, name="マイナポイント事業費補助金（デモ受付）",
            title="マイナポイント事業費補助金（デモ用の受付期間）", acceptance_start_datetime=now - timedelta(days=7),
            acceptance_end_datetime=now + timedelta(days=60), project_end_deadline=(now + timedelta(days=120)).date(),
            target_area_search="全国", form_definition=form, published=True,
        ),
    )  # fmt: skip
    dx, _c = Programme.objects.get_or_create(
        code="dx-support-demo",
        defaults=dict(
            name="中小企業デジタル化支援補助金（デモ）", issuer=Programme.Issuer.MINISTRY, institution_name="経済産業省（デモ）",
            legal_basis="中小企業デジタル化支援補助金交付要綱（デモ）", applicant_type=Programme.ApplicantType.BUSINESS,
            eligibility={"gbiz": ["prime", "member"], "max_employees": 300, "corporate_number": True},
            expense_categories=BUSINESS_CATEGORIES, rate_num=2, rate_den=3,
        ),
    )  # fmt: skip
    dx_call, created = Call.objects.get_or_create(
        public_id="DXDEMO2026R1",
        defaults=dict(
            programme=dx, round=1, name="デジタル化支援（第1次公募）", title="中小企業デジタル化支援補助金 第1次公募（デモ）",
            catch_phrase="クラウド会計・受発注システムの導入を2/3補助", detail="<p>ITツールの導入費用の一部を補助します。</p>",
            use_purpose="業務効率化・DX等に取り組みたい", industry="製造業 / 卸売業，小売業 / 情報通信業",
            target_area_search="全国", target_number_of_employees="300人以下", subsidy_max_limit=4_500_000,
            acceptance_start_datetime=now - timedelta(days=3), acceptance_end_datetime=now + timedelta(days=45),
            project_end_deadline=(now + timedelta(days=200)).date(),
            form_definition=_form("デジタル化支援補助金 交付申請", [
                {"key": "employees", "type": "number", "required": True, "min": 1, "max": 100000,
                 "label": {"ja": "従業員数", "en": "Employees"}, "unit": {"ja": "人"}},
            ]),
            published=True,
        ),
    )  # fmt: skip
    chiyoda = municipality_by_code("131016")
    local, _c = Programme.objects.get_or_create(
        code="chiyoda-cashless-demo",
        defaults=dict(
            name="商店街キャッシュレス導入支援補助金（デモ）", issuer=Programme.Issuer.MUNICIPALITY,
            institution_name="千代田区", municipality=chiyoda, applicant_type=Programme.ApplicantType.BUSINESS,
            eligibility={"gbiz": ["prime", "member"], "prefectures": ["東京都"]}, expense_categories=BUSINESS_CATEGORIES,
            rate_num=3, rate_den=4,
        ),
    )  # fmt: skip
    Call.objects.get_or_create(
        public_id="CHIYODACASH01",
        defaults=dict(
            programme=local, round=1, name="キャッシュレス導入支援", title="千代田区 商店街キャッシュレス導入支援補助金（デモ）",
            target_area_search="東京都", subsidy_max_limit=500_000, acceptance_start_datetime=now - timedelta(days=1),
            acceptance_end_datetime=now + timedelta(days=30), form_definition=_form("キャッシュレス導入支援 申請", []),
            published=True,
        ),
    )  # fmt: skip
    if created:
        services.notify_matching(call=dx_call)
    _applications(demo_round)
    stdout.write(f"Subsidies: {Programme.objects.count()} programmes, {Call.objects.count()} calls, "
                 f"{admin_cost.base_amounts.count()} base amounts.")  # fmt: skip
    return [
        DemoSignIn("http://localhost:8000/grants/", "tech-prime", "(GビズID)", "apply for a subsidy as a business"),
        DemoSignIn("http://localhost:8000/staff/grants/", "operator", "madoguchi-demo", "ministry programmes: inbox, dashboard"),
        DemoSignIn("http://localhost:8000/131016/staff/grants/apply/", "chiyoda-admin", "madoguchi-demo",
                   "千代田区 applies for the admin-cost subsidy"),
    ]  # fmt: skip


def _applications(call: Call) -> None:
    """Three municipalities' applications to the demo round, at different steps (demo figures)."""
    from madoguchi.identity.models import User

    user = User.objects.filter(username="operator").first()
    if user is None or Application.objects.filter(call=call).exists():
        return
    answers = {"contact_name": "デモ 担当", "contact_email": "demo@example.jp", "contact_phone": "03-0000-0000",
               "council_member": "yes", "plan": "マイキーID設定支援窓口の設置", "declaration": True}  # fmt: skip
    for code, cost, step in (("011002", 30_000_000, "decided"), ("271004", 20_000_000, "submitted"),
                             ("401307", 12_000_000, "confirmed")):  # fmt: skip
        municipality = municipality_by_code(code)
        if municipality is None:
            continue
        application = services.application_submit(call=call, user=user, answers=answers, project_title="マイナポイント申込支援",
                                                  planned_cost=cost, municipality=municipality)  # fmt: skip
        if step in ("decided", "confirmed"):
            services.application_decide(
                application=application, actor=user, amount=application.requested_amount
            )
        if step == "confirmed":
            services.report_submit(application=application, user=user, lines=[
                ("wages", "会計年度任用職員 賃金", 6_000_000), ("equipment", "タブレット購入", 800_000),
                ("outsourcing", "コールセンター委託", 4_000_000)])  # fmt: skip
            services.amount_confirm(application=application, actor=user)
