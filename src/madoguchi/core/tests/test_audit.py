import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from madoguchi.conftest import audit_triggers_disabled
from madoguchi.core import audit
from madoguchi.core.models import AuditChainHead, AuditRecord
from madoguchi.core.tests.concurrency import run_concurrently
from madoguchi.core.tests.factories import MunicipalityFactory

pytestmark = pytest.mark.django_db


def _write(n, municipality=None, action="test.action"):
    return [
        audit.record(actor=None, action=action, municipality=municipality, details={"i": i}) for i in range(n)
    ]


def test_records_form_a_chain_per_stream():
    tokyo, sapporo = MunicipalityFactory(), MunicipalityFactory()
    a = _write(3, tokyo)
    b = _write(2, sapporo)
    p = _write(1)
    assert [r.seq for r in a] == [1, 2, 3]
    assert [r.seq for r in b] == [1, 2]
    assert a[0].prev_hash == audit.GENESIS
    assert a[1].prev_hash == a[0].hash and a[2].prev_hash == a[1].hash
    assert {r.stream for r in a} == {tokyo.code} and p[0].stream == audit.PLATFORM_STREAM
    assert audit.verify() == (6, [])


def test_record_stores_actor_target_and_details():
    municipality = MunicipalityFactory()
    entry = audit.record(
        actor=audit.Actor("provider", "7", "PayPay"),
        action="points.grant",
        target=municipality,
        municipality=municipality,
        details={"points": 1250},
    )
    entry.refresh_from_db()
    assert (entry.actor_type, entry.actor_id, entry.actor_label) == ("provider", "7", "PayPay")
    assert (entry.target_type, entry.target_id) == ("core.municipality", str(municipality.pk))
    assert entry.details == {"points": 1250}


def test_my_number_in_details_is_refused_and_nothing_is_written():
    with pytest.raises(ValueError, match="My Number"):
        audit.record(actor=None, action="x", details={"note": "番号は 1234 5678 9018 です"})
    assert AuditRecord.objects.count() == 0


def test_database_refuses_update_and_delete():
    (entry,) = _write(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=entry.pk).update(action="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.action == "test.action"


def _first_problem():
    checked, problems = audit.verify()
    assert problems, "verify() should have found a problem"
    return problems[0]


def test_altered_record_is_named():
    records = _write(5)
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE core_auditrecord SET details = %s WHERE id = %s", ['{"i": 99}', records[2].pk])
    problem = _first_problem()
    assert (problem.record_id, problem.seq) == (records[2].pk, 3)
    assert "altered" in problem.reason


def test_altered_hash_to_match_content_breaks_the_next_link():
    records = _write(4)
    forged = dict(AuditRecord.objects.filter(pk=records[1].pk).values()[0])
    forged["details"] = {"i": 42}
    new_hash = audit.compute_hash(forged, forged["prev_hash"])
    with audit_triggers_disabled() as cursor:
        cursor.execute(
            "UPDATE core_auditrecord SET details = %s, hash = %s WHERE id = %s",
            ['{"i": 42}', new_hash, records[1].pk],
        )
    problem = _first_problem()
    assert problem.record_id == records[2].pk and "prev_hash" in problem.reason


def test_deleted_record_is_detected():
    records = _write(4)
    with audit_triggers_disabled() as cursor:
        cursor.execute("DELETE FROM core_auditrecord WHERE id = %s", [records[1].pk])
    problem = _first_problem()
    assert problem.record_id == records[2].pk and "deleted or inserted" in problem.reason


def test_deleted_tail_is_detected_through_the_head():
    records = _write(3)
    with audit_triggers_disabled() as cursor:
        cursor.execute("DELETE FROM core_auditrecord WHERE id = %s", [records[2].pk])
    problem = _first_problem()
    assert problem.record_id is None and "head names seq 3" in problem.reason


def test_inserted_record_is_detected():
    records = _write(3)
    row = dict(AuditRecord.objects.filter(pk=records[2].pk).values()[0])
    with audit_triggers_disabled() as cursor:
        # Push the last record along and slip a forged one in at seq 3 with a self-consistent hash.
        cursor.execute("UPDATE core_auditrecord SET seq = 4 WHERE id = %s", [records[2].pk])
    forged = {**row, "seq": 3, "action": "forged", "prev_hash": records[1].hash}
    forged.pop("id")
    forged["hash"] = audit.compute_hash(forged, forged["prev_hash"])
    AuditRecord.objects.create(**forged)
    problem = _first_problem()
    assert problem.seq == 4 and problem.record_id == records[2].pk


def test_reordered_records_are_detected():
    records = _write(3)
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE core_auditrecord SET seq = 100 WHERE id = %s", [records[0].pk])
        cursor.execute("UPDATE core_auditrecord SET seq = 1 WHERE id = %s", [records[1].pk])
        cursor.execute("UPDATE core_auditrecord SET seq = 2 WHERE id = %s", [records[0].pk])
    problem = _first_problem()
    assert problem.seq == 1 and problem.record_id == records[1].pk


def test_audit_verify_command(capsys):
    records = _write(3)
    call_command("audit", "verify")
    assert "OK: 3 audit records verified" in capsys.readouterr().out
    with audit_triggers_disabled() as cursor:
        cursor.execute(
            "UPDATE core_auditrecord SET actor_label = 'someone else' WHERE id = %s", [records[1].pk]
        )
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify")
    assert excinfo.value.returncode == 1
    assert f"record id={records[1].pk}" in capsys.readouterr().err


def test_rolled_back_change_leaves_no_record_and_no_gap():
    _write(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=None, action="will.roll.back")
        raise RuntimeError
    _write(1)
    assert list(AuditRecord.objects.values_list("seq", flat=True)) == [1, 2]
    assert audit.verify() == (2, [])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    if connection.vendor != "postgresql":
        pytest.skip("thread concurrency is meaningful on PostgreSQL; SQLite serialises writers by design")
    municipality = MunicipalityFactory()
    threads_n, per_thread = 8, 25

    def work(k):
        for i in range(per_thread):
            with transaction.atomic():
                audit.record(actor=None, action="test.concurrent", municipality=municipality,
                             details={"thread": k, "i": i})  # fmt: skip
                audit.record(actor=None, action="test.concurrent.platform", details={"thread": k, "i": i})

    _results, errors = run_concurrently(threads_n, work)
    assert errors == []
    total = threads_n * per_thread
    assert list(AuditRecord.objects.filter(stream=municipality.code).values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    assert AuditChainHead.objects.get(stream=municipality.code).seq == total
    assert audit.verify() == (2 * total, [])


def test_sharded_streams_are_chains_of_their_own():
    names = {audit.sharded_stream("p7", f"tx{i}") for i in range(200)}
    assert len(names) == 16 and all(n.startswith("p7.") for n in names)
    for i in range(40):
        audit.record(actor=None, action="test.sharded", stream=audit.sharded_stream("p7", f"tx{i}"))
    assert audit.verify() == (40, [])
    with pytest.raises(ValueError):
        audit.record(actor=None, action="x", stream="131016")  # a municipality's stream is not for others
