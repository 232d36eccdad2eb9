"""Demo data of the privacy workflow: a 千代田区 personal-information file built from the bundled Adult data
(data/adult, a stand-in for a real file: see its README), an open proposal call, and one proposal at review.
千代田区 is a special ward, not a designated city: it takes proposals because the demo opts it in (participation.py)."""

from datetime import timedelta

from django.utils import timezone

from madoguchi.core.demo import DemoSignIn
from madoguchi.core.selectors import municipality_by_code
from madoguchi.privacy import services
from madoguchi.privacy.models import PersonalInfoFile, Proposal, ProposalCall

ADULT_ITEMS = [
    {"name": "sex", "role": "quasi_identifier", "label": "性別"},
    {"name": "age", "role": "quasi_identifier", "label": "年齢"},
    {"name": "race", "role": "quasi_identifier", "label": "人種"},
    {"name": "marital-status", "role": "quasi_identifier", "label": "婚姻状況"},
    {"name": "education", "role": "quasi_identifier", "label": "学歴"},
    {"name": "native-country", "role": "quasi_identifier", "label": "出生国"},
    {"name": "workclass", "role": "insensitive", "label": "就業形態"},
    {"name": "occupation", "role": "sensitive", "label": "職業"},
    {"name": "salary-class", "role": "insensitive", "label": "所得区分"},
]


def _demo_account():
    from madoguchi.identity.models import Business, BusinessAccount, User

    business, _c = Business.objects.get_or_create(
        name="デモ分析株式会社", defaults={"corp_type": Business.CorpType.CORPORATION, "prefecture": "東京都"}
    )
    user, _c = User.objects.get_or_create(username="privacy-demo-business")
    account, _c = BusinessAccount.objects.get_or_create(
        user=user, defaults={"business": business, "issuer": "demo", "subject": "privacy-demo",
                             "account_type": BusinessAccount.AccountType.PRIME, "name": "デモ 担当"},
    )  # fmt: skip
    return account


def load_demo(*, stdout) -> list[DemoSignIn]:
    chiyoda = municipality_by_code("131016")
    if chiyoda is None:
        return []
    services.participation_opt_in(
        municipality=chiyoda, actor=None
    )  # idempotent: a second run records nothing
    file = PersonalInfoFile.objects.filter(municipality=chiyoda, name__startswith="住民意識調査").first()
    if file is None:
        file = services.file_register(
            municipality=chiyoda, actor=None, name="住民意識調査回答ファイル（デモ: Adult データ）",
            purpose="区政に関する住民意識調査の集計・分析", items=ADULT_ITEMS, source_path="adult/adult.csv",
            separator=";", hierarchies_path="adult", open_to_proposals=True,
        )  # fmt: skip
    today = timezone.localdate()
    call = ProposalCall.objects.filter(municipality=chiyoda).first() or services.call_create(
        municipality=chiyoda, actor=None, title="令和8年度 行政機関等匿名加工情報の提案募集（デモ）",
        starts_on=today - timedelta(days=7), ends_on=today + timedelta(days=60), files=[file],
        guidance="提案書・誓約書（欠格事由に該当しないこと）を提出してください。",
    )  # fmt: skip
    if not Proposal.objects.filter(call=call).exists():
        proposal = services.proposal_submit(
            call=call, file=file, account=_demo_account(), purpose="地域の就業構造の分析による新規事業の検討",
            items_wanted=["age", "sex", "education", "occupation"], processing_method="年齢は10歳階級、k=5 を満たすよう一般化",
            safeguards="アクセス制御された分析環境でのみ扱い、複製しない。", period_months=12,
            declarations={k: True for k, _label in services.DISQUALIFICATIONS},
        )  # fmt: skip
        services.proposal_review_start(proposal=proposal, actor=None)
    stdout.write(f"Privacy: {PersonalInfoFile.objects.count()} files, {ProposalCall.objects.count()} calls, "
                 f"{Proposal.objects.count()} proposals.")  # fmt: skip
    return [
        DemoSignIn("http://localhost:8000/131016/privacy/", "tech-prime", "(GビズID)", "propose to use anonymized info"),
        DemoSignIn("http://localhost:8000/131016/staff/privacy/", "chiyoda-admin", "madoguchi-demo",
                   "review proposals, create and provide anonymized info"),
    ]  # fmt: skip
