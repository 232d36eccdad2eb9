"""The application and its point account as application_submit writes them (one statement on PostgreSQL, two
elsewhere): the same rows as the ORM would write, linked, and nothing of either when one of them is refused."""

import pytest

from madoguchi.core.models import AuditRecord
from madoguchi.points import services
from madoguchi.points.models import Application, PointAccount
from madoguchi.points.services import ApplicationRequest, PointsError
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = pytest.mark.django_db


def _apply(campaign, provider, account: str):
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    request = ApplicationRequest(provider, "purchase", f" {account} ", account, "123")
    return resident, services.application_submit(
        resident=resident, campaign=campaign, request=request, actor=None
    )


def test_both_rows_as_the_orm_writes_them(campaign, provider):
    sandbox_account(provider, "acct-1")
    resident, application = _apply(campaign, provider, "acct-1")
    assert application.pk is not None and not application._state.adding
    stored = Application.objects.get(pk=application.pk)
    assert (stored.campaign_id, stored.resident_id, stored.provider_id, stored.mode, stored.service_account) == (
        campaign.pk, resident.pk, provider.pk, "purchase", "acct-1")  # fmt: skip
    assert stored.created_at == application.created_at and stored.created_at is not None
    assert stored.municipality_id == resident.municipality_id and stored.representative_id is None
    account = PointAccount.objects.get(application=stored)
    assert (account.campaign_id, account.provider_id, account.service_account, account.mode) == (
        campaign.pk, provider.pk, "acct-1", "purchase")  # fmt: skip
    assert (account.cap, account.granted) == (campaign.cap, 0)
    assert AuditRecord.objects.get(action="points.application_submit").target_id == str(application.pk)


def test_an_account_taken_by_another_resident_leaves_nothing(campaign, provider):
    sandbox_account(provider, "acct-1")
    _apply(campaign, provider, "acct-1")
    # Another resident, the same account: a UNIQUE constraint refuses the statement, so neither row is written.
    with pytest.raises(PointsError) as excinfo:
        _apply(campaign, provider, "acct-1")
    assert excinfo.value.code == "account_taken"
    assert Application.objects.count() == PointAccount.objects.count() == 1
    assert AuditRecord.objects.filter(action="points.application_submit").count() == 1
    campaign.refresh_from_db()
    assert campaign.reserved_budget == campaign.cap


def test_the_pair_is_linked_and_both_or_neither(campaign, provider):
    """fastsql.insert_with_child directly: the child carries the parent's new key; when the child is refused
    (a duplicate account key) the parent is not written either."""
    from django.db import IntegrityError, transaction

    from madoguchi.core import fastsql

    def pair(resident, account):
        application = Application(campaign=campaign, resident=resident, provider=provider, mode="charge",
                                  service_account=account)  # fmt: skip
        return application, PointAccount(application=application, campaign=campaign, provider=provider,
                                          service_account=account, mode="charge", cap=campaign.cap)  # fmt: skip

    application, account = fastsql.insert_with_child(*pair(make_resident(), "acct-9"), link="application")
    assert account.application_id == application.pk
    assert PointAccount.objects.get(pk=account.pk).application_id == application.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        fastsql.insert_with_child(*pair(make_resident(), "acct-9"), link="application")
    assert Application.objects.count() == PointAccount.objects.count() == 1
