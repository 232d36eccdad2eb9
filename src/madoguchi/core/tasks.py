"""Background tasks of core. With no broker configured they run in the calling process."""

import logging

from celery import shared_task

from madoguchi.core import audit

logger = logging.getLogger(__name__)


@shared_task(name="core.audit_verify")
def audit_verify() -> dict:
    """Verify every audit stream (schedule it daily with Celery beat). Logs an error naming the first bad record."""
    checked, problems = audit.verify()
    if problems:
        logger.error("audit chain broken: %s", problems[0])
    return {"checked": checked, "ok": not problems, "problem": str(problems[0]) if problems else ""}
