from datetime import date

import pytest

from madoguchi.cloud import services
from madoguchi.cloud.models import CloudGroup
from madoguchi.core.tests.factories import MunicipalityFactory

STANDARDS = [("resident-record-copy", "住民票の写し等の交付申請"), ("moving-out", "転出届")]


@pytest.fixture
def three(db):
    """Three municipalities of differing population, in code order."""
    return [
        MunicipalityFactory(population=10_000),
        MunicipalityFactory(population=20_000),
        MunicipalityFactory(population=70_000),
    ]


def make_group(
    members, *, rule=CloudGroup.SharingRule.EQUAL_AND_POPULATION, equal_share_bp=5000, befores=None
):
    befores = befores or [None] * len(members)
    group = services.group_create(
        name="テスト自治体クラウド協議会",
        lead_municipality=members[0],
        sharing_rule=rule,
        equal_share_bp=equal_share_bp,
        standards=STANDARDS,
        joined_on=date(2025, 4, 1),
        lead_cost_before_yen=befores[0],
        actor=None,
    )
    for municipality, before in zip(members[1:], befores[1:], strict=True):
        services.member_onboard(
            group=group,
            municipality=municipality,
            joined_on=date(2025, 4, 1),
            cost_before_yen=before,
            actor=None,
        )
    return group
