"""Usage metered from the platform itself, and standards that are national templates adopted as procedures."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from madoguchi.cloud import services
from madoguchi.cloud.models import UsageRecord
from madoguchi.cloud.tests.conftest import make_group
from madoguchi.identity.tests.factories import StaffRoleFactory
from madoguchi.procedures import services as procedures
from madoguchi.procedures.models import Procedure, ProcedureTemplate, Submission

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")


def test_usage_is_metered_from_filed_applications_and_staff(three):
    procedures.catalogue_load()
    group = make_group(three)
    lead, second, _third = three
    StaffRoleFactory(municipality=second)
    StaffRoleFactory(municipality=second)
    procedure = procedures.procedure_adopt(
        municipality=second,
        template=ProcedureTemplate.objects.get(code="tosho-kashidashi-yoyaku"),
        actor=None,
    )
    for day in (3, 17):
        submission = procedures.submission_record_offline(
            procedure=procedure, channel="counter", actor=None, received_on=date(2026, 5, day)
        )
        Submission.objects.filter(pk=submission.pk).update(
            submitted_at=datetime(2026, 5, day, 10, tzinfo=JST)
        )
    outside = procedures.submission_record_offline(procedure=procedure, channel="paper", actor=None)
    Submission.objects.filter(pk=outside.pk).update(submitted_at=datetime(2026, 6, 1, 0, 0, tzinfo=JST))
    records = {
        r.membership.municipality_id: r for r in services.usage_meter(group=group, month=202605, actor=None)
    }
    assert records[second.pk].submissions == 2 and records[second.pk].users == 2
    assert records[second.pk].storage_bytes > 0
    assert records[lead.pk].submissions == 0
    # API calls are entered, not measured: a figure entered before is kept.
    UsageRecord.objects.filter(pk=records[second.pk].pk).update(api_calls=1234)
    again = {
        r.membership.municipality_id: r for r in services.usage_meter(group=group, month=202605, actor=None)
    }
    assert again[second.pk].api_calls == 1234 and again[second.pk].submissions == 2
    with pytest.raises(services.CloudError):
        services.usage_meter(group=group, month=202613, actor=None)


def test_a_standard_that_is_a_national_template_becomes_the_members_procedure(three):
    procedures.catalogue_load()
    from madoguchi.cloud.models import CloudGroup

    group = services.group_create(
        name="おうみ自治体クラウド協議会（試験）", lead_municipality=three[0],
        sharing_rule=CloudGroup.SharingRule.EQUAL_AND_POPULATION, equal_share_bp=5000,
        standards=[("sodai-gomi-shushu", "粗大ごみ収集申込")], joined_on=date(2026, 4, 1),
        lead_cost_before_yen=None, actor=None,
    )  # fmt: skip
    services.member_onboard(group=group, municipality=three[1], joined_on=date(2026, 4, 1), cost_before_yen=None,
                            actor=None)  # fmt: skip
    for municipality in three[:2]:
        procedure = Procedure.objects.get(municipality=municipality, code="sodai-gomi-shushu")
        assert procedure.adopted and procedure.status == "published"
