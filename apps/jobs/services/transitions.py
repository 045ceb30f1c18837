"""Single-job status changes, all checked against states.TRANSITIONS."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.core.exceptions import Conflict, NotFound
from apps.workflows.services import event_log

from ..models import Job, JobDependency
from ..states import ACTIVE, COMPLETE, TRANSITIONS, UNSUCCESSFUL, Status, names
from . import graph, publish


def with_dependents_flag(queryset):
    """Rows that know whether any job depends on them (`has_dependents`): finishing a job that
    has none skips the release statements."""
    return queryset.annotate(has_dependents=Exists(JobDependency.objects.filter(depends_on_id=OuterRef("pk"))))


def locked(job_id: int) -> Job:
    """The job row, locked for this transaction (SELECT ... FOR UPDATE; SQLite: the
    IMMEDIATE transaction already holds the write lock)."""
    job = with_dependents_flag(Job.objects.select_for_update(of=("self",))
                               .select_related("workflow", "resource_requirements").filter(pk=job_id)).first()
    if job is None:
        raise NotFound(f"Job not found with ID: {job_id}")
    return job


def refuse(job: Job, target: Status) -> Conflict:
    current = Status(job.status)
    return Conflict(
        f"Job {job.pk} cannot change from {current.label} to {target.label}; "
        f"allowed from {current.label}: {names(TRANSITIONS[current])}",
        field="status",
    )


@transaction.atomic
def transition(*, job_id: int, target: Status, fields: dict | None = None, reason: str = "status_change",
               job: Job | None = None) -> Job:
    """Move one job to `target` if the table allows it, then fix up the graph around it:
    finishing releases (or cancels) dependents, leaving a finished status sends everything
    downstream back through initialization. `job`: the row already locked by the caller."""
    job = job if job is not None and job.pk == job_id else locked(job_id)
    return apply_transition(job=job, target=target, fields=fields, reason=reason)


def apply_transition(*, job: Job, target: Status, fields: dict | None = None, reason: str = "status_change") -> Job:
    """transition() for a service already inside its own atomic block, holding the job's row lock:
    no savepoint of its own (two statements fewer on the hot report paths); a refusal still
    undoes everything, as it leaves the caller's block too."""
    current = Status(job.status)
    if current == target and not fields:
        return job
    if current != target and target not in TRANSITIONS[current]:
        raise refuse(job, target)
    now = timezone.now()
    values = dict(fields or {})
    values["status"] = target
    if target == Status.READY:
        values.setdefault("ready_at", now)
    if target == Status.RUNNING:
        values.setdefault("started_at", now)
    if target in COMPLETE:
        values.setdefault("finished_at", now)
    if target not in ACTIVE:
        values.setdefault("claimed_by", "")
        values.setdefault("lease_expires_at", None)
    updated = Job.objects.filter(pk=job.pk, status=current).update(**values)
    if not updated:  # cannot happen under the row lock; kept as the guard the lock relies on
        raise refuse(job, target)
    for key, value in values.items():
        setattr(job, key, value)
    data = {"job_id": job.pk, "name": job.name, "from": current.label, "to": target.label, "reason": reason}
    if target in COMPLETE and current not in COMPLETE and getattr(job, "has_dependents", True):
        failed = target in UNSUCCESSFUL or (job.exit_code not in (None, 0))
        data.update(graph.release_dependents(succeeded=[] if failed else [job.pk], failed=[job.pk] if failed else [],
                                             watches=job.workflow_id is None))
    elif current in COMPLETE and target not in COMPLETE:
        data["reset_downstream"] = graph.reset_downstream(job_ids=[job.pk])
        if job.workflow_id:
            graph.initialize_jobs(workflow_id=job.workflow_id)
    event_log(workflow_id=job.workflow_id, category=f"job_{target.label}", data=data)
    if job.workflow_id is None:
        publish.tasks_changed([job.pk])
    return job


def lease_until(seconds: int | None = None):
    return timezone.now() + timedelta(seconds=seconds or settings.DROVER_LEASE_SECONDS)
