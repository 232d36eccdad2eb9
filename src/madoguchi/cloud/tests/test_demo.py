import io

import pytest

from madoguchi.cloud.demo import load_demo
from madoguchi.cloud.models import CloudGroup, CostStatement, NationalCloudFigures

pytestmark = pytest.mark.django_db


def test_demo_seeds_the_decks_groups(public_bodies):
    out = io.StringIO()
    assert load_demo(stdout=out) == []
    assert set(CloudGroup.objects.values_list("name", flat=True)) == {
        "福岡県宇美町,志免町,須恵町",
        "佐賀県唐津市,玄海町",
    }
    assert CloudGroup.objects.get(name="福岡県宇美町,志免町,須恵町").memberships.count() == 3
    for statement in CostStatement.objects.all():
        assert sum(statement.lines.values_list("total_yen", flat=True)) == statement.total_cost_yen
    figures = NationalCloudFigures.objects.get()
    assert (
        figures.target_bodies_on_cloud,
        figures.target_bodies_on_group_cloud,
        figures.bodies_on_cloud,
    ) == (
        1600,
        1100,
        None,
    )
    load_demo(stdout=out)  # a second run changes nothing
    assert CostStatement.objects.count() == 2
