"""Background tasks of the subsidies (schedule `grants.alerts_scan` daily with Celery beat)."""

from celery import shared_task

from madoguchi.grants import services


@shared_task(name="grants.alerts_scan")
def alerts_scan() -> dict:
    """Alerts (once each, mailed to the applicant) for late performance reports and late decisions."""
    return {"new_alerts": services.alerts_scan()}
