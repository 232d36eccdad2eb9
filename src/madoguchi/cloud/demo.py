"""Demo data of the 自治体クラウド app: two groups from the deck's table of reported savings, with their real
member municipalities, three months of synthetic usage and one issued statement.

What comes from the deck (the MIC material on 自治体クラウド): the group names, their members and their reported
reduction rates, and the national targets of 1,600 / 1,100 bodies. What does not: usage, the statement's total
and the split rules are demo values, and are labelled so; costs before joining and the current national counts
are left "not recorded" because the deck does not give them.
"""

from datetime import date

from django.db import transaction
from django.utils import timezone

from madoguchi.cloud import services
from madoguchi.cloud.models import CloudGroup, NationalCloudFigures
from madoguchi.core.demo import DemoSignIn
from madoguchi.core.models import Municipality

DECK_SOURCE = "総務省「自治体クラウドについて」—「自治体クラウド」による費用削減効果"
TARGET_SOURCE = "世界最先端デジタル国家創造宣言・官民データ活用推進基本計画（令和元年6月14日閣議決定）"

# (group name as in the deck, prefecture, members with the first named as lead, reported reduction in bp)
GROUPS = [
    ("福岡県宇美町,志免町,須恵町", "福岡県", ["宇美町", "志免町", "須恵町"], 4000, "equal_population", 5000),
    ("佐賀県唐津市,玄海町", "佐賀県", ["唐津市", "玄海町"], 5000, "equal_usage", 3000),
]

STANDARDS = [
    ("resident-record-copy", "住民票の写し等の交付申請"),
    ("tax-certificate", "課税・非課税証明書の交付申請"),
    ("moving-notification", "転出届"),
]

# Synthetic monthly usage per member, scaled by population so that the usage rule has something to split.
DEMO_TOTAL_YEN = 3_000_000


def _months_before(today: date, count: int) -> list[int]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append(year * 100 + month)
    return sorted(months)


@transaction.atomic
def load_demo(*, stdout) -> list[DemoSignIn]:
    NationalCloudFigures.objects.get_or_create(
        as_of=date(2019, 6, 14),
        defaults={
            "target_bodies_on_cloud": 1600,
            "target_bodies_on_group_cloud": 1100,
            "target_deadline": "2023年度末（令和5年度末）",
            "source": TARGET_SOURCE,
        },
    )
    today = timezone.localdate()
    months = _months_before(today, 3)
    for name, prefecture, member_names, reported_bp, rule, equal_bp in GROUPS:
        if CloudGroup.objects.filter(name=name).exists():
            continue
        members = [
            Municipality.objects.filter(prefecture__name=prefecture, name=n).first() for n in member_names
        ]
        if any(m is None for m in members):
            stdout.write(
                f"Cloud: skipped {name}: its municipalities are not loaded (load core's demo first)."
            )
            continue
        group = services.group_create(
            name=name,
            lead_municipality=members[0],
            sharing_rule=rule,
            equal_share_bp=equal_bp,
            standards=STANDARDS,
            joined_on=date(today.year - 1, 4, 1),
            reported_reduction_bp=reported_bp,
            reported_reduction_source=DECK_SOURCE,
            actor=None,
        )
        memberships = {group.lead_municipality_id: group.memberships.get()}
        for municipality in members[1:]:
            memberships[municipality.pk] = services.member_onboard(
                group=group, municipality=municipality, joined_on=date(today.year - 1, 4, 1), actor=None
            )
        for municipality in members:
            for i, month in enumerate(months):
                scale = municipality.population // 1000 + i
                services.usage_record(
                    membership=memberships[municipality.pk],
                    month=month,
                    submissions=scale * 12,
                    storage_bytes=scale * 50_000_000,
                    api_calls=scale * 400,
                    users=max(1, scale // 10),
                    actor=None,
                )
        statement = services.cost_statement_issue(
            group=group,
            period=str(months[-1]),
            total_cost_yen=DEMO_TOTAL_YEN,
            note="Demo figure (not from the deck).",
            actor=None,
        )
        stdout.write(
            f"Cloud: {name} ({len(members)} members), usage for {months[0]}–{months[-1]} (synthetic), "
            f"statement {statement.period} of {DEMO_TOTAL_YEN:,} yen (demo figure)."
        )
    return []
