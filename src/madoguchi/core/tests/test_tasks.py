import pytest
from django.conf import settings

from madoguchi.conftest import audit_triggers_disabled
from madoguchi.core import audit
from madoguchi.core.tasks import audit_verify

pytestmark = pytest.mark.django_db


def test_without_a_broker_tasks_run_in_process():
    assert settings.CELERY_BROKER_URL == "" and settings.CELERY_TASK_ALWAYS_EAGER
    audit.record(actor=None, action="test.one")
    result = audit_verify.delay()
    assert result.successful() and result.get() == {"checked": 1, "ok": True, "problem": ""}


def test_audit_verify_task_reports_a_broken_chain(caplog):
    entry = audit.record(actor=None, action="test.one")
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE core_auditrecord SET action = 'x' WHERE id = %s", [entry.pk])
    outcome = audit_verify.delay().get()
    assert outcome["ok"] is False and f"record id={entry.pk}" in outcome["problem"]
    assert "audit chain broken" in caplog.text
