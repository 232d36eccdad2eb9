"""Fixtures of the privacy workflow tests: a small copy of the Adult data in a temporary privacy folder (the
bundled hierarchies are used), a municipality's personal-information file and an open proposal call.

The test municipalities are ordinary cities (codes NN9xx), which take no proposals unless they opt in
(participation.py): here the first of `two_municipalities` (the town) has opted in, the second has not."""

from datetime import timedelta
from pathlib import Path

import pytest

ADULT = Path(__file__).resolve().parent.parent / "data" / "adult" / "adult.csv"
SMALL_ROWS = 2000


@pytest.fixture
def privacy_dir(tmp_path, settings):
    settings.PRIVACY_DIR = tmp_path
    lines = ADULT.read_text(encoding="utf-8").splitlines()[: SMALL_ROWS + 1]
    (tmp_path / "adult-small.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def two_municipalities(two_municipalities):
    """The project's fixture, with the town opted in to the proposal workflow (by the system, as the demo does)."""
    from madoguchi.privacy import services

    town, _other = two_municipalities
    services.participation_opt_in(municipality=town, actor=None)
    return two_municipalities


@pytest.fixture
def town_file(privacy_dir, two_municipalities):
    from madoguchi.privacy import services
    from madoguchi.privacy.demo import ADULT_ITEMS

    town, _other = two_municipalities
    return services.file_register(
        municipality=town, actor=None, name="住民意識調査回答ファイル", purpose="意識調査の集計", items=ADULT_ITEMS,
        source_path="adult-small.csv", separator=";", hierarchies_path="adult",
    )  # fmt: skip


@pytest.fixture
def town_call(town_file):
    from django.utils import timezone

    from madoguchi.privacy import services

    today = timezone.localdate()
    return services.call_create(
        municipality=town_file.municipality, actor=None, title="匿名加工情報の提案募集",
        starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=30), files=[town_file],
    )  # fmt: skip


@pytest.fixture
def few_persons(settings):
    """Tests whose files have a few dozen records queue creation jobs: the minimum number of persons (法第114条
    第1項第2号), checked at the acceptance and again when a job is queued, is lowered to 1 for them."""
    settings.PRIVACY_MIN_PERSONS = 1
