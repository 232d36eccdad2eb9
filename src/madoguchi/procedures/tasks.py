"""Background tasks of the online procedures (schedule `procedures.retention_purge` daily with Celery beat)."""

import logging

from celery import shared_task

from madoguchi.procedures import services

logger = logging.getLogger(__name__)


@shared_task(name="procedures.retention_purge")
def retention_purge(limit: int = 1000) -> dict:
    """Delete the contents of closed applications whose retention period has ended; each one is audited."""
    purged = services.retention_purge(limit=limit)
    if purged:
        logger.info("retention: contents of %s closed applications deleted", purged)
    return {"purged": purged}
