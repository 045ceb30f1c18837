"""Drover's built-in pool: Celery workers run jobs routed to the "celery" queue, claimed through
the same claim service and run by the same runner as `manage.py run_worker`."""

import logging

from django.conf import settings

from apps.core.exceptions import ApplicationError
from apps.jobs import services
from apps.jobs.models import Job
from apps.jobs.states import Status

from . import runner

logger = logging.getLogger("drover.pool")
POOL_QUEUE = "celery"
POOL_CLAIMER = "pool:celery"


def claim_pool_jobs(limit: int | None = None) -> list[int]:
    return services.claim(scope=services.Scope(queue=POOL_QUEUE), claimer=POOL_CLAIMER,
                          limit=limit or settings.DROVER_POOL_BATCH)


def run_claimed_job(job_id: int) -> str | None:
    """Start, run and complete one job the pool holds; returns its final status name."""
    job = Job.objects.select_related("resource_requirements").filter(pk=job_id).first()
    if job is None or job.status != Status.PENDING or job.claimed_by != POOL_CLAIMER:
        logger.info("pool: job %s is no longer held by the pool; skipped", job_id)
        return None
    try:
        services.start_job(job_id=job.pk)
    except ApplicationError as exc:  # canceled or reset in between
        logger.info("pool: job %s could not start: %s", job_id, exc)
        return None
    runtime = job.resource_requirements.runtime_s if job.resource_requirements_id else None
    outcome = runner.run(job_id=job.pk, command=job.command, invocation_script=job.invocation_script,
                         env={"DROVER_JOB_ID": str(job.pk), **{str(k): str(v) for k, v in (job.env or {}).items()}},
                         timeout_s=job.timeout_s or (runtime * 2 if runtime else None), inherit="pool")
    status = Status.COMPLETED if outcome.return_code == 0 else Status.FAILED
    try:
        services.complete_job(job_id=job.pk, status=status, return_code=outcome.return_code,
                              claimer=POOL_CLAIMER, exec_time_minutes=outcome.exec_time_minutes,
                              stdout=outcome.stdout, stderr=outcome.stderr)
    except ApplicationError as exc:
        logger.warning("pool: result of job %s refused: %s", job_id, exc)
        return None
    return status.label
