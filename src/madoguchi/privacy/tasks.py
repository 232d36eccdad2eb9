"""Background task of the privacy workflow: the creation job (runs eagerly when no broker is configured)."""

from celery import shared_task

from madoguchi.privacy import services


@shared_task(name="privacy.create_anonymized")
def create_anonymized(job_id: int) -> dict:
    """Run the anonymization engine for a queued CreationJob and store its table and processing record."""
    job = services.creation_job_run(job_id=job_id)
    return {"job": job.pk, "status": job.status}
