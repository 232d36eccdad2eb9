import pytest
from django.core.management import call_command

from madoguchi.core import audit
from madoguchi.core.models import AuditRecord


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_audit_table_and_keeps_it_append_only():
    """Transactional tests (and `madoguchi flush`) wipe the database; afterwards the trigger is back."""
    from django.db import DatabaseError, transaction

    audit.record(actor=None, action="test.before_flush")
    call_command("flush", interactive=False, verbosity=0)
    assert AuditRecord.objects.count() == 0
    entry = audit.record(actor=None, action="test.after_flush")
    assert entry.seq == 1
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=entry.pk).delete()
