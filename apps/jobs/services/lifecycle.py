"""What runners do to a claimed job: start it, complete it with a result, retry it."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.exceptions import Conflict, FieldValidationError, NotFound, Unprocessable

from ..models import Job, Result
from ..states import ACTIVE, COMPLETE, Status
from .transitions import apply_transition, lease_until, locked


def check_run_id(job: Job, run_id: int | None) -> None:
    if run_id is None or job.workflow_id is None:
        return
    current = job.workflow.run_id
    if int(run_id) != current:
        raise Unprocessable(f"run_id {run_id} does not match the workflow's current run_id {current}", field="run_id")


def check_holder(job: Job, node_id: int | None) -> None:
    """A report from a compute node about a job another node holds is late (its lease lapsed and
    the job went to someone else): refused, so the holder's result is the one recorded."""
    if node_id is not None and job.status in ACTIVE and job.compute_node_id and job.compute_node_id != node_id:
        raise Conflict(f"Job {job.pk} is held by compute node {job.compute_node_id}; this report from node "
                       f"{node_id} is refused", field="compute_node_id")


# savepoint=False here and below: callers (a request's transaction, the pool) let a refusal end
# their whole transaction, so no savepoint of its own is needed: two statements fewer a report.
@transaction.atomic(savepoint=False)
def start_job(*, job_id: int, run_id: int | None = None, compute_node_id: int | None = None) -> Job:
    job = locked(job_id)
    check_run_id(job, run_id)
    check_holder(job, compute_node_id)
    runtime = job.resource_requirements.runtime_s if job.resource_requirements_id else 0
    # a started job keeps its claim for at least its declared runtime
    fields = {"lease_expires_at": lease_until(max(settings.DROVER_LEASE_SECONDS, runtime + 60)),
              "started_at": timezone.now()}
    if compute_node_id is not None:
        fields["compute_node_id"] = compute_node_id
    return apply_transition(job=job, target=Status.RUNNING, fields=fields, reason="start_job")


def record_result(*, job: Job, return_code: int, status: Status, run_id: int | None = None,
                  compute_node_id: int | None = None, exec_time_minutes: float = 0.0, completion_time=None,
                  stdout: str = "", stderr: str = "", metrics: dict | None = None) -> Result:
    """A result row; does not change the job (Torc's POST /results). One INSERT: no atomic block
    needed."""
    return Result.objects.create(
        job=job, workflow_id=job.workflow_id, run_id=run_id or (job.workflow.run_id if job.workflow_id else 1),
        attempt=job.attempt, compute_node_id=compute_node_id, return_code=return_code, status=status,
        exec_time_minutes=exec_time_minutes, completion_time=completion_time or timezone.now(),
        stdout=stdout or "", stderr=stderr or "", **(metrics or {}),
    )


@transaction.atomic(savepoint=False)
def complete_job(*, job_id: int, status: Status, return_code: int, run_id: int | None = None,
                 claimer: str | None = None, job_fields: dict | None = None, job: Job | None = None,
                 **result_fields) -> tuple[Job, Result]:
    """Record the result and finish the job; its dependents are released or canceled.
    With `claimer`, only the holder of the claim may complete (a late report is refused).
    `job_fields`: more of the job's columns to write in the same UPDATE (e.g. a task's spec).
    `job`: the row, already locked by the caller (as transition() takes it)."""
    if status not in COMPLETE:
        raise FieldValidationError(f"{status.label} is not a finished status; use one of completed, failed, "
                                   f"canceled, terminated", field="status")
    job = job if job is not None and job.pk == job_id else locked(job_id)
    check_run_id(job, run_id)
    if job.status in COMPLETE:
        raise Unprocessable(f"Job {job.pk} is already complete ({Status(job.status).label})", field="status")
    if claimer is not None and job.claimed_by and job.claimed_by != claimer:
        raise Conflict(f"Job {job.pk} is held by another claimer; this report is refused", field="job_id")
    check_holder(job, result_fields.get("compute_node_id"))
    result = record_result(job=job, return_code=return_code, status=status, run_id=run_id, **result_fields)
    job = apply_transition(job=job, target=status, fields={"exit_code": return_code, **(job_fields or {})},
                           reason="complete_job")
    return job, result


@transaction.atomic(savepoint=False)
def retry_job(*, job_id: int, run_id: int | None = None) -> Job:
    """Torc's retry: a failed job goes back to ready with the next attempt number."""
    job = locked(job_id)
    check_run_id(job, run_id)
    if job.status != Status.FAILED:
        raise Unprocessable(f"Job {job.pk} is {Status(job.status).label}; only failed jobs can be retried",
                            field="status")
    if job.max_attempts > 1 and job.attempt >= job.max_attempts:
        raise Unprocessable(f"Job {job.pk} has used its {job.max_attempts} attempts", field="attempt")
    return apply_transition(job=job, target=Status.READY, fields={"attempt": job.attempt + 1, "exit_code": None},
                            reason="retry")


def job_in_workflow(workflow_id: int, job_id) -> Job:
    job = Job.objects.select_related("workflow").filter(pk=job_id, workflow_id=workflow_id).first()
    if job is None:
        raise NotFound(f"Job not found with ID: {job_id}")
    return job
