"""Mitosis tasks on the job core: a task is a Job without a workflow, in a group, ready at once.
Workers report Finish or Cancel, then Commit with the exit status; Commit finishes the job."""

import shlex

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.exceptions import FieldValidationError, NotFound
from apps.groups.choices import Role
from apps.groups.models import Group
from apps.groups.services import require_role
from apps.workflows.services import event_log

from ..models import Job
from ..states import ACTIVE, Status
from .lifecycle import complete_job
from .transitions import transition

REPORT_KEY = "mitosis_report"  # in Job.spec: "Finish" or "Cancel" until the worker commits


def _group_for_submit(user, group_name: str) -> Group:
    group = Group.objects.select_for_update().filter(name=group_name).first()
    if group is None:
        raise NotFound(f"User or group with name {group_name} not found", field="group_name")
    require_role(user, group, Role.WRITE)
    return group


@transaction.atomic
def task_submit(*, user, group_name: str, tags: list[str], labels: list[str], timeout_s: int, priority: int,
                spec: dict) -> Job:
    """A ready task; its number is the group's next task_id."""
    for resource in spec.get("resources") or []:
        path = str(resource.get("local_path", "")) if isinstance(resource, dict) else ""
        if path.startswith("/") or ".." in path.split("/"):
            raise FieldValidationError("Resource local path is absolute or contains `..`",
                                       field="task_spec.resources.local_path")
    group = _group_for_submit(user, group_name)
    Group.objects.filter(pk=group.pk).update(task_count=F("task_count") + 1)
    task_id = Group.objects.values_list("task_count", flat=True).get(pk=group.pk)
    args = [str(a) for a in spec.get("args") or []]
    job = Job.objects.create(
        owner=user, group=group, name=f"{group.name}#{task_id}", command=shlex.join(args), args=args,
        env=spec.get("envs") or {}, spec={**spec, "task_id": task_id}, timeout_s=timeout_s, priority=priority,
        tags=sorted(set(tags)), labels=sorted(set(labels)), status=Status.READY, ready_at=timezone.now(),
    )
    event_log(workflow_id=None, category="task_submitted", data={"uuid": str(job.uuid), "group": group.name})
    return job


def task_by_uuid(uuid) -> Job:
    job = Job.objects.select_related("group", "owner").filter(uuid=uuid, workflow__isnull=True).first()
    if job is None:
        raise NotFound(f"Task with uuid {uuid} not found")
    return job


@transaction.atomic
def task_cancel(*, user, uuid) -> Job:
    """Mitosis cancels only tasks not yet taken by a worker."""
    job = task_by_uuid(uuid)
    require_role(user, job.group, Role.WRITE)
    if job.status not in (Status.READY, Status.BLOCKED, Status.UNINITIALIZED):
        raise NotFound(f"Task with uuid {uuid} not found")
    return transition(job_id=job.pk, target=Status.CANCELED, reason="user_cancellation",
                      fields={"spec": {**job.spec, "result": {"exit_status": 0, "msg": "UserCancellation"}}})


@transaction.atomic
def task_report(*, worker, job_id: int, op: str, exit_status: int | None = None, msg: str | None = None) -> Job:
    """A worker's report on the task it holds (anything else is 404, as in Mitosis)."""
    job = Job.objects.select_for_update().filter(pk=job_id, claimed_by=worker.claimer, status__in=ACTIVE).first()
    if job is None:
        raise NotFound(f"Task {job_id} not found")
    if op in ("Finish", "Cancel"):
        Job.objects.filter(pk=job.pk).update(spec={**job.spec, REPORT_KEY: op})
        job.spec[REPORT_KEY] = op
        return job
    if op == "Commit":
        reported = job.spec.get(REPORT_KEY)
        if reported not in ("Finish", "Cancel"):
            raise FieldValidationError("Task can not be marked as done", field="op")
        status = Status.CANCELED if reported == "Cancel" else (
            Status.COMPLETED if exit_status == 0 else Status.FAILED)
        spec = {**job.spec, "result": {"exit_status": exit_status, "msg": msg}, "reporter_uuid": str(worker.uuid)}
        Job.objects.filter(pk=job.pk).update(spec=spec)
        job, _ = complete_job(job_id=job.pk, status=status, return_code=exit_status or 0, claimer=worker.claimer)
        return job
    raise FieldValidationError(f"{op!r} is not a report operation", field="op")
