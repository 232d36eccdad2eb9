"""Migration 0005 on existing data: a point account's enrolment becomes its application's time, and each
provider account's holder is the resident of its earliest application (a later one by someone else, which the
old per-campaign constraint let through, stays recorded but does not take the account)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("points", "0004_account_fillfactor")]
AFTER = [("points", "0005_holder_enrolment_fixed_kind")]


@pytest.mark.django_db(transaction=True)
def test_existing_accounts_get_their_enrolment_and_holders():
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        User, Resident = apps.get_model("identity", "User"), apps.get_model("identity", "Resident")
        Campaign, Provider = apps.get_model("points", "Campaign"), apps.get_model("points", "PaymentProvider")
        Application, Account = (
            apps.get_model("points", "Application"),
            apps.get_model("points", "PointAccount"),
        )
        now = timezone.now()
        window = dict(
            application_starts_at=now, application_ends_at=now, earning_starts_at=now, earning_ends_at=now
        )
        first, second = (
            Campaign.objects.create(code=code, name=code, kind="premium", cap=5000, budget=10**6, **window)
            for code in ("c2020", "c2022")
        )
        provider = Provider.objects.create(
            code="p", name="p", type="qr", modes=["charge"], callback_url="http://x/"
        )
        people = [Resident.objects.create(user=User.objects.create(username=f"u{i}")) for i in range(3)]
        made = []
        for campaign, person, account in [(first, people[0], "shared"), (second, people[1], "shared"),
                                          (first, people[2], "own")]:  # fmt: skip
            application = Application.objects.create(campaign=campaign, resident=person, provider=provider,
                                                     mode="charge", service_account=account)  # fmt: skip
            Account.objects.create(application=application, campaign=campaign, provider=provider,
                                   service_account=account, mode="charge", cap=5000)  # fmt: skip
            made.append(application)
        # Applications made at different times: enrolment must follow each one's own.
        for i, application in enumerate(made):
            Application.objects.filter(pk=application.pk).update(created_at=now - timedelta(days=10 - i))

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        Account, Holder = apps.get_model("points", "PointAccount"), apps.get_model("points", "AccountHolder")
        Application = apps.get_model("points", "Application")
        created = dict(Application.objects.values_list("pk", "created_at"))
        assert {a.application_id: a.enrolled_at for a in Account.objects.all()} == created
        holders = {(h.service_account, h.resident_id) for h in Holder.objects.all()}
        assert holders == {("shared", people[0].pk), ("own", people[2].pk)}
    finally:
        MigrationExecutor(connection).migrate(leaves)
