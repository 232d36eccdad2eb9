"""Migrations 0005–0006 on existing data: a point account's enrolment becomes its application's time; each
provider account's holder is the resident of its earliest application (a later one by someone else, which the
old per-campaign constraint let through, stays recorded but does not take the account); a fixed grant recorded
the old way (kind "tx", id "fixed:<reference>") becomes kind "fixed" with its FixedGrant row."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("points", "0004_account_fillfactor")]
AFTER = [("points", "0006_backfill_enrolment_holders_fixed")]


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
        # A fixed grant the old way: a ledger row of kind "tx" with id "fixed:<reference>" on an account of a
        # fixed campaign; and a provider's own transaction whose id merely starts with "fixed:".
        fixed = Campaign.objects.create(code="card", name="card", kind="fixed", cap=5000, fixed_points=5000,
                                        budget=10**6, **window)  # fmt: skip
        granted = Application.objects.create(campaign=fixed, resident=people[2], provider=provider, mode="charge",
                                             service_account="own")  # fmt: skip
        fixed_account = Account.objects.create(application=granted, campaign=fixed, provider=provider,
                                               service_account="own", mode="charge", cap=5000, granted=5000)  # fmt: skip
        Ledger = apps.get_model("points", "ProviderTransaction")
        common = dict(provider=provider, fingerprint="0" * 64, amount=5000, status="granted", month=202211)
        Ledger.objects.create(
            kind="tx", external_id="fixed:card-7", account=fixed_account, points=5000, **common
        )
        ordinary = Account.objects.get(application=made[0])
        Ledger.objects.create(
            kind="tx", external_id="fixed:looks-like", account=ordinary, points=100, **common
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        Account, Holder = apps.get_model("points", "PointAccount"), apps.get_model("points", "AccountHolder")
        Application = apps.get_model("points", "Application")
        created = dict(Application.objects.values_list("pk", "created_at"))
        assert {a.application_id: a.enrolled_at for a in Account.objects.all()} == created
        holders = {(h.service_account, h.resident_id) for h in Holder.objects.all()}
        assert holders == {("shared", people[0].pk), ("own", people[2].pk)}
        Ledger, Fixed = (
            apps.get_model("points", "ProviderTransaction"),
            apps.get_model("points", "FixedGrant"),
        )
        assert set(Ledger.objects.values_list("kind", "external_id")) == {
            ("fixed", f"{fixed.pk}:card-7"), ("tx", "fixed:looks-like")}  # fmt: skip
        [grant] = Fixed.objects.all()
        assert (grant.campaign_id, grant.resident_id, grant.reference) == (fixed.pk, people[2].pk, "card-7")
        assert grant.transaction.external_id == f"{fixed.pk}:card-7"
        # Run again (a migration stopped midway is run whole again): nothing changes, nothing is duplicated.
        before = (list(Holder.objects.values_list("pk", "service_account", "resident_id")),
                  list(Ledger.objects.values_list("pk", "kind", "external_id")),
                  list(Fixed.objects.values_list("pk", "reference")),
                  list(Account.objects.values_list("pk", "enrolled_at")))  # fmt: skip
        backfill = importlib.import_module(
            "madoguchi.points.migrations.0006_backfill_enrolment_holders_fixed"
        )
        with connection.schema_editor(atomic=False) as editor:
            backfill.forwards(apps, editor)
        assert before == (list(Holder.objects.values_list("pk", "service_account", "resident_id")),
                          list(Ledger.objects.values_list("pk", "kind", "external_id")),
                          list(Fixed.objects.values_list("pk", "reference")),
                          list(Account.objects.values_list("pk", "enrolled_at")))  # fmt: skip
    finally:
        MigrationExecutor(connection).migrate(leaves)
