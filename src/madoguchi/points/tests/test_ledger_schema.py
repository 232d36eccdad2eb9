"""The ledger carries only the indexes its queries need (each one is paid on every row written), and those
queries can still use one; the foreign keys stay, checked by the database."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from madoguchi.points import ingest, selectors, settlement
from madoguchi.points.models import PointAccount, ProviderTransaction, Statement
from madoguchi.points.tests.test_ingest_batch import _enrol

TABLE = ProviderTransaction._meta.db_table


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("plans and index definitions are PostgreSQL's")


@pytest.fixture
def ledger(campaign, provider):
    """An account with a grant and a refund of it (the refund refers to its original)."""
    account = _enrol(campaign, provider, "acct-schema")
    now = timezone.now()
    common = {
        "provider": provider,
        "account": account,
        "fingerprint": "0" * 64,
        "month": now.year * 100 + now.month,
    }
    original = ProviderTransaction.objects.create(kind="tx", external_id="t1", amount=1000, status="granted",
                                                  points=250, remaining=4750, occurred_at=now, **common)  # fmt: skip
    refund = ProviderTransaction.objects.create(kind="refund", external_id="r1", original=original, amount=400,
                                                status="clawed_back", points=-100, **common)  # fmt: skip
    return account, original, refund


def _plan(sql: str, params) -> str:
    """EXPLAIN with sequential scans priced out: the plan names an index if one can serve the query."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_ledger_has_exactly_the_indexes_its_queries_need(postgres_only):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [TABLE])
        definitions = sorted(row[0].split(" USING btree ")[1] for row in cursor.fetchall())
    assert definitions == [
        "(account_id, recorded_at)",
        "(id)",
        "(original_id) WHERE (original_id IS NOT NULL)",
        "(provider_id, kind, external_id)",
    ]


@pytest.mark.postgres
@pytest.mark.django_db
def test_every_ledger_query_has_an_index(postgres_only, ledger, campaign, provider):
    account, original, _refund = ledger
    # A resident's history ("my points").
    sql, params = selectors.account_history(account.application).query.sql_with_params()
    assert "provider_tx_account_idx" in _plan(sql, params)
    # The refunds of a transaction (the partial index: original_id = x implies original_id IS NOT NULL).
    sql, params = ProviderTransaction.objects.filter(original=original).query.sql_with_params()
    assert "provider_tx_refunds_idx" in _plan(sql, params)
    # A refund finding its original, an id sent again: the idempotency key.
    sql, params = ProviderTransaction.objects.filter(provider=provider, kind="tx", external_id="t1").query.sql_with_params()  # fmt: skip
    assert "provider_tx_once" in _plan(sql, params)
    # Settlement: a provider's unsettled rows up to the month, through the provider prefix of the unique key.
    statement = Statement(
        campaign=campaign, provider=provider, kind=Statement.Kind.ESTIMATE, month=original.month
    )
    sql, params = settlement._unsettled_sql(statement)
    assert "provider_tx_once" in _plan(sql, params)


@pytest.mark.postgres
@pytest.mark.django_db
def test_accounts_keep_room_for_hot_updates(postgres_only):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [PointAccount._meta.db_table])
        assert "fillfactor=60" in (cursor.fetchone()[0] or [])


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["account_id", "provider_id", "original_id"])
def test_the_database_refuses_a_ledger_row_that_refers_to_nothing(ledger, column):
    _account, original, _refund = ledger
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderTransaction.objects.filter(pk=original.pk).update(**{column: 10**12})
        connection.check_constraints(table_names=[TABLE])


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_account_lookup_probes_the_key_index_whatever_the_statistics(
    postgres_only, ledger, campaign, provider
):
    """A table just filled has no statistics: a plain join was then planned as a scan of the provider's
    accounts filtered per key (10,000 keys × 200,000 accounts). The lookup must probe by key."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        cursor.execute(
            f"EXPLAIN {ingest.ACCOUNTS_SQL}", ['["acct-schema", "nobody"]', provider.pk, [campaign.pk]]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert any("Index Cond" in line and "service_account" in line for line in plan.splitlines()), plan
    assert "Join Filter" not in plan, plan
    assert plan.index("Sort Key: f.id") < plan.index("LockRows"), plan  # locks taken in primary-key order
    with connection.cursor() as cursor:
        cursor.execute(ingest.ACCOUNTS_SQL, ['["acct-schema", "nobody"]', provider.pk, [campaign.pk]])
        assert [row[1] for row in cursor.fetchall()] == ["acct-schema"]
