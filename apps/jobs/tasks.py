"""Celery tasks are interfaces: they take ids and call services (here via the built-in pool)."""

from celery import current_app, shared_task
from django.db import transaction


@shared_task(name="drover.jobs.dispatch_pool", acks_late=True, time_limit=60, soft_time_limit=50)
def dispatch_pool(limit: int | None = None) -> int:
    """Claim ready jobs of the built-in pool and queue one run_pool_job task per job."""
    from apps.workers.pool import claim_pool_jobs

    ids = claim_pool_jobs(limit)
    for job_id in ids:
        transaction.on_commit(lambda job_id=job_id: run_pool_job.delay(job_id))
    return len(ids)


@shared_task(name="drover.jobs.run_pool_job", acks_late=True, time_limit=24 * 3600)
def run_pool_job(job_id: int) -> str | None:
    from apps.workers.pool import run_claimed_job

    status = run_claimed_job(job_id)
    if status is not None and not current_app.conf.task_always_eager:
        dispatch_pool.delay()  # what this job released can run now, not at the next beat
    return status
