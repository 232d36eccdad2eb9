"""core.fastsql.insert writes the row save() would, and refuses what it cannot do as save() would."""

import pytest
from django.db.models.signals import pre_save
from django.forms.models import model_to_dict

from madoguchi.core import fastsql
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory


def _record(municipality, seq):
    return AuditRecord(
        stream="fastsql-test", seq=seq, created_at="2026-11-29T05:00:00+00:00", municipality=municipality,
        actor_type="system", actor_id="", actor_label="テスト", action="test.row", target_type="",
        target_id="", details={"名前": "値", "n": [1, 2]}, prev_hash="0" * 64, hash=f"{seq:064d}",
    )  # fmt: skip


@pytest.mark.django_db
def test_insert_writes_the_same_row_as_save():
    municipality = MunicipalityFactory()
    by_save = _record(municipality, 1)
    by_save.save()
    by_insert = fastsql.insert(_record(municipality, 2))
    assert by_insert.pk is not None and by_insert.pk != by_save.pk
    assert by_insert._state.adding is False and by_insert._state.db == "default"
    a = model_to_dict(AuditRecord.objects.get(pk=by_save.pk), exclude=["id", "seq", "hash"])
    b = model_to_dict(AuditRecord.objects.get(pk=by_insert.pk), exclude=["id", "seq", "hash"])
    assert a == b and b["details"] == {"名前": "値", "n": [1, 2]}


@pytest.mark.django_db
def test_insert_refuses_saved_rows_overridden_save_and_signal_receivers():
    from madoguchi.cloud.models import CostStatement

    municipality = MunicipalityFactory()
    saved = fastsql.insert(_record(municipality, 1))
    with pytest.raises(ValueError):
        fastsql.insert(saved)
    assert "save" in vars(CostStatement)  # the premise: it overrides save()
    with pytest.raises(TypeError, match="overrides save"):
        fastsql.insert(CostStatement())

    def receiver(**kwargs):
        pass

    pre_save.connect(receiver, sender=AuditRecord)
    try:
        with pytest.raises(TypeError, match="signal"):
            fastsql.insert(_record(municipality, 2))
    finally:
        pre_save.disconnect(receiver, sender=AuditRecord)
    assert AuditRecord.objects.filter(stream="fastsql-test").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_repeated_statements_are_prepared_on_postgresql():
    """settings: server-side parameters with `prepare_threshold`, so the busiest INSERTs are parsed and planned
    once per connection (the database's half of a filed application's cost)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert connection.settings_dict["OPTIONS"]["server_side_binding"] is True
    municipality = MunicipalityFactory()
    for seq in range(1, threshold + 3):
        fastsql.insert(_record(municipality, seq))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(s.startswith('INSERT INTO "core_auditrecord"') for s in prepared), prepared


def test_prepared_statements_can_be_turned_off_for_a_pooler(monkeypatch):
    """DATABASE_PREPARE_THRESHOLD=-1 leaves Django's client-side binding (PgBouncer in transaction mode)."""
    from madoguchi.conf import settings as conf

    monkeypatch.setenv("DB_PROBE_URL", "postgres://u@db.example:5432/x")
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "-1")
    assert "server_side_binding" not in conf._database("DB_PROBE_URL", "x.sqlite3").get("OPTIONS", {})
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "2")
    options = conf._database("DB_PROBE_URL", "x.sqlite3")["OPTIONS"]
    assert options == {"server_side_binding": True, "prepare_threshold": 2}
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "0")  # never 0: a multi-statement string would fail
    assert conf._database("DB_PROBE_URL", "x.sqlite3")["OPTIONS"]["prepare_threshold"] == 1


@pytest.mark.django_db
def test_insert_also_runs_its_statement_in_the_same_call():
    """`also` (one statement with the INSERT on PostgreSQL, two elsewhere) changes what it says and nothing more."""
    from madoguchi.core.models import AuditChainHead

    municipality = MunicipalityFactory()
    head = AuditChainHead.objects.create(stream="fastsql-also", seq=0, hash="")
    row = fastsql.insert(
        _record(municipality, 7),
        also=("UPDATE core_auditchainhead SET seq = %s, hash = %s WHERE id = %s", [7, "f" * 64, head.pk]),
    )
    head.refresh_from_db()
    assert (head.seq, head.hash) == (7, "f" * 64)
    assert AuditRecord.objects.get(pk=row.pk).seq == 7


@pytest.mark.django_db
def test_insert_also_writes_both_or_neither():
    """A row that cannot be written (here a duplicate (stream, seq)) leaves the `also` statement undone too."""
    from django.db import IntegrityError, transaction

    from madoguchi.core.models import AuditChainHead

    municipality = MunicipalityFactory()
    head = AuditChainHead.objects.create(stream="fastsql-test", seq=0, hash="")
    fastsql.insert(_record(municipality, 1))
    move = ("UPDATE core_auditchainhead SET seq = %s, hash = %s WHERE id = %s", [1, "e" * 64, head.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        fastsql.insert(_record(municipality, 1), also=move)
    head.refresh_from_db()
    assert (head.seq, head.hash) == (0, "")
    assert AuditRecord.objects.filter(stream="fastsql-test").count() == 1


@pytest.mark.django_db
def test_insert_with_child_needs_a_foreign_key_to_the_parent():
    municipality = MunicipalityFactory()
    with pytest.raises(TypeError, match="not a foreign key"):
        fastsql.insert_with_child(_record(municipality, 1), _record(municipality, 2), link="action")
    with pytest.raises(TypeError, match="not a foreign key"):  # a foreign key, but to another model
        fastsql.insert_with_child(_record(municipality, 1), _record(municipality, 2), link="municipality")
    with pytest.raises(ValueError, match="new rows only"):
        fastsql.insert_with_child(municipality, _record(municipality, 2), link="municipality")
    assert not AuditRecord.objects.filter(stream="fastsql-test").exists()
