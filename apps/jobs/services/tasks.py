"""Mitosis tasks on the job core: a task is a Job without a workflow, in a group, ready at once
(or blocked on the task it watches, see services.watch). Workers report Finish or Cancel, then
Commit with the exit status; Commit finishes the job. Users change, relabel and cancel tasks."""

import shlex
import uuid as uuid_lib

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.core.exceptions import Conflict, FieldValidationError, NotFound, PermissionDenied
from apps.groups.choices import Role
from apps.groups.models import Group, Membership
from apps.groups.services import require_role
from apps.workflows.services import event_log

from ..models import Job, JobDependency
from ..states import ACTIVE, COMPLETE, MITOSIS_STATE, REPORT_KEY, WAITING, Status, allowed_sources, mitosis_state
from . import graph, publish, watch
from .lifecycle import complete_job
from .transitions import transition

SPEC_KEYS = ("args", "envs", "resources", "terminal_output", "watch")  # the user's TaskSpec inside Job.spec
# Mitosis changes and cancels only tasks no worker holds (Ready, or Pending on a watch).
CHANGEABLE = WAITING
CANCELLABLE = WAITING & allowed_sources(Status.CANCELED)


def task_state(job: Job) -> str:
    """The Mitosis TaskState: a held task the worker reported Finish/Cancel on shows that state
    until it commits."""
    return mitosis_state(job.status, (job.spec or {}).get(REPORT_KEY))


def _group_for_submit(user, group_name: str) -> Group:
    group = Group.objects.select_for_update().filter(name=group_name).first()
    if group is None:
        raise NotFound(f"User or group with name {group_name} not found", field="group_name")
    require_role(user, group, Role.WRITE)
    return group


def check_spec(spec: dict) -> None:
    for resource in spec.get("resources") or []:
        path = str(resource.get("local_path", "")) if isinstance(resource, dict) else ""
        if path.startswith("/") or ".." in path.split("/"):
            raise FieldValidationError("Resource local path is absolute or contains `..`",
                                       field="task_spec.resources.local_path")


def _spec_fields(spec: dict) -> dict:
    args = [str(a) for a in spec.get("args") or []]
    return {"args": args, "command": shlex.join(args), "env": spec.get("envs") or {}}


def watched_task(user, watch_value) -> tuple[Job, str]:
    """The task a spec watches, locked: its completion (which locks it too) then either sees
    the new watch edge or has already happened when we look. Invisible tasks are not found."""
    target_uuid, target = watch_value
    query = (Job.objects.select_for_update(of=("self",)).select_related("group")
             .filter(uuid=target_uuid, workflow__isnull=True))
    if not user.is_staff:
        query = query.filter(group__in=Membership.objects.filter(user=user, role__gte=Role.READ).values("group"))
    job = query.first()
    if job is None:
        raise NotFound(f"Task with uuid {target_uuid} not found", field="task_spec.watch")
    return job, target


def _place_watch(job: Job, watched: Job, target: str) -> Job:
    """The blocked task `job` now waits on `watched`; if that has already ended, settle now."""
    JobDependency.objects.create(job=job, depends_on=watched, watch=target)
    if watched.status not in COMPLETE:
        return job
    msg = ((watched.spec or {}).get("result") or {}).get("msg")
    if watch.reached(target, watched.status, msg):
        return transition(job_id=job.pk, target=Status.READY, fields={"unfinished_deps": 0}, reason="watch_reached")
    return transition(job_id=job.pk, target=Status.CANCELED, reason="watch_unreachable",
                      fields={"exit_code": 0, "spec": {**job.spec, "result": watch.WATCH_TIMEOUT}})


@transaction.atomic
def task_submit(*, user, group_name: str, tags: list[str], labels: list[str], timeout_s: int, priority: int,
                spec: dict) -> Job:
    """A ready task (blocked when it watches another); its number is the group's next task_id."""
    check_spec(spec)
    watched, target = watched_task(user, spec["watch"]) if spec.get("watch") else (None, None)
    group = _group_for_submit(user, group_name)
    Group.objects.filter(pk=group.pk).update(task_count=F("task_count") + 1)
    task_id = Group.objects.values_list("task_count", flat=True).get(pk=group.pk)
    placement = ({"status": Status.BLOCKED, "unfinished_deps": 1, "cancel_on_blocking_job_failure": False}
                 if watched else {"status": Status.READY, "ready_at": timezone.now()})
    job = Job.objects.create(
        owner=user, group=group, name=f"{group.name}#{task_id}", **_spec_fields(spec),
        spec={**spec, "task_id": task_id}, timeout_s=timeout_s, priority=priority,
        tags=sorted(set(tags)), labels=sorted(set(labels)), **placement,
    )
    event_log(workflow_id=None, category="task_submitted", data={"uuid": str(job.uuid), "group": group.name})
    if watched:
        job = _place_watch(job, watched, target)
    publish.tasks_changed([job.pk])
    return job


def task_by_uuid(uuid) -> Job:
    job = Job.objects.select_related("group", "owner").filter(uuid=uuid, workflow__isnull=True).first()
    if job is None:
        raise NotFound(f"Task with uuid {uuid} not found")
    return job


def _writable_task(user, uuid) -> Job:
    """The task, locked, if `user` may change it: invisible -> 404, Read only -> 403."""
    job = (Job.objects.select_for_update(of=("self",)).select_related("group")
           .filter(uuid=uuid, workflow__isnull=True).first())
    if job is None:
        raise NotFound(f"Task with uuid {uuid} not found")
    if not user.is_staff:
        role = Membership.objects.filter(user=user, group_id=job.group_id).values_list("role", flat=True).first()
        if role is None:
            raise NotFound(f"Task with uuid {uuid} not found")
        if role < Role.WRITE:
            raise PermissionDenied(f"Group {job.group.name} needs the Write role")
    return job


@transaction.atomic
def task_change(*, user, uuid, tags: list[str] | None = None, timeout_s: int | None = None,
                priority: int | None = None, spec: dict | None = None) -> Job:
    """Mitosis' PUT /tasks/{uuid}: new tags, timeout, priority or spec for a task no worker holds
    yet. A changed watch moves the task's edge (and so its Ready/Pending placement)."""
    if tags is None and timeout_s is None and priority is None and spec is None:
        raise FieldValidationError("No change specified; give tags, timeout, priority or task_spec")
    job = _writable_task(user, uuid)
    if job.status not in CHANGEABLE:
        raise Conflict(f"Task {uuid} is {task_state(job)}; only Ready or Pending tasks can be changed",
                       field="uuid")
    fields: dict = {}
    if tags is not None:
        fields["tags"] = sorted(set(tags))
    if timeout_s is not None:
        fields["timeout_s"] = timeout_s
    if priority is not None:
        fields["priority"] = priority
    old_watch = (job.spec or {}).get("watch")
    watched = target = None
    if spec is not None:
        check_spec(spec)
        new_watch = spec.get("watch")
        if new_watch and str(new_watch[0]) == str(job.uuid):
            raise FieldValidationError("a task cannot watch itself", field="task_spec.watch")
        if new_watch and new_watch != old_watch:
            watched, target = watched_task(user, new_watch)
        if watched is not None and _watches_upstream(watched.pk, job.pk):
            raise FieldValidationError(f"task {watched.uuid} already waits on this task (a watch cycle)",
                                       field="task_spec.watch")
        kept = {k: v for k, v in job.spec.items() if k not in SPEC_KEYS}
        fields.update(_spec_fields(spec), spec={**kept, **spec})
    Job.objects.filter(pk=job.pk, status__in=CHANGEABLE).update(**fields)
    job.refresh_from_db()
    if spec is not None and spec.get("watch") != old_watch:
        job = _rewatch(job, watched, target)
    event_log(workflow_id=None, category="task_changed", data={"uuid": str(job.uuid), "fields": sorted(fields)})
    return job


def _watches_upstream(start_id: int, job_id: int) -> bool:
    """Does the task `start_id` wait, through watch edges, on `job_id`? One recursive query."""
    deps, jobs = JobDependency._meta.db_table, Job._meta.db_table
    sql = (f"WITH RECURSIVE up(id) AS (SELECT id FROM {jobs} WHERE id = %s UNION SELECT d.depends_on_id "
           f"FROM {deps} d JOIN up ON d.job_id = up.id) SELECT 1 FROM up WHERE id = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [start_id, job_id])
        return cursor.fetchone() is not None


def _rewatch(job: Job, watched: Job | None, target: str | None) -> Job:
    JobDependency.objects.filter(job=job).delete()
    if watched is None:  # no watch any more: ready now
        if job.status == Status.BLOCKED:
            return transition(job_id=job.pk, target=Status.READY, fields={"unfinished_deps": 0}, reason="unwatched")
        return job
    placed = {"unfinished_deps": 1, "cancel_on_blocking_job_failure": False}
    if job.status == Status.BLOCKED:
        Job.objects.filter(pk=job.pk).update(**placed)
    else:
        job = transition(job_id=job.pk, target=Status.BLOCKED, fields={**placed, "ready_at": None}, reason="watch")
    return _place_watch(job, watched, target)


@transaction.atomic
def task_set_labels(*, user, uuid, labels: list[str]) -> None:
    """Labels are bookkeeping: they may be replaced in any state, even after the task ended."""
    job = _writable_task(user, uuid)
    Job.objects.filter(pk=job.pk).update(labels=sorted(set(labels)))


@transaction.atomic
def task_cancel(*, user, uuid) -> Job:
    """Mitosis cancels only tasks not yet taken by a worker."""
    job = task_by_uuid(uuid)
    require_role(user, job.group, Role.WRITE)
    if job.status not in CANCELLABLE:
        raise NotFound(f"Task with uuid {uuid} not found")
    return transition(job_id=job.pk, target=Status.CANCELED, reason="user_cancellation",
                      fields={"exit_code": 0, "spec": {**job.spec, "result": watch.USER_CANCELLATION}})


@transaction.atomic
def tasks_cancel(*, tasks: QuerySet) -> list[uuid_lib.UUID]:
    """Cancel, in one UPDATE, those of `tasks` that no worker holds (the caller has checked the
    Write role); settle what watches them and log one event. Returns the uuids canceled."""
    rows = graph.update_returning(
        tasks.filter(status__in=CANCELLABLE), ("id", "uuid"),
        status=Status.CANCELED, finished_at=timezone.now(), exit_code=0, claimed_by="", lease_expires_at=None,
        spec=watch.with_result(watch.USER_CANCELLATION),
    )
    if not rows:
        return []
    ids = [pk for pk, _ in rows]
    publish.tasks_changed(ids)
    summary = graph.release_dependents(succeeded=[], failed=ids)
    event_log(workflow_id=None, category="tasks_canceled",
              data={"count": len(ids), "job_ids": ids[:1000], "reason": "user_cancellation", **summary})
    return [value if isinstance(value, uuid_lib.UUID) else uuid_lib.UUID(str(value)) for _, value in rows]


@transaction.atomic
def tasks_cancel_by_uuids(*, user, uuids: list[uuid_lib.UUID]) -> tuple[int, list[uuid_lib.UUID]]:
    """Cancel the listed tasks that `user` may write (staff: any) and no worker holds, one UPDATE
    per chunk of uuids. Returns the count and the uuids not canceled, in input order."""
    wanted = list(dict.fromkeys(uuids))
    cancelled: set[uuid_lib.UUID] = set()
    for part in graph.chunks(wanted):
        tasks = Job.objects.filter(uuid__in=part, workflow__isnull=True)
        if not user.is_staff:
            tasks = tasks.filter(group__in=Membership.objects.filter(user=user, role__gte=Role.WRITE).values("group"))
        cancelled.update(tasks_cancel(tasks=tasks))
    return len(cancelled), [u for u in wanted if u not in cancelled]


@transaction.atomic
def task_report(*, worker, job_id: int, op: str, exit_status: int | None = None, msg: str | None = None) -> Job:
    """A worker's report on the task it holds (anything else is 404, as in Mitosis)."""
    job = Job.objects.select_for_update().filter(pk=job_id, claimed_by=worker.claimer, status__in=ACTIVE).first()
    if job is None:
        raise NotFound(f"Task {job_id} not found")
    if op in ("Finish", "Cancel"):
        Job.objects.filter(pk=job.pk).update(spec={**job.spec, REPORT_KEY: op})
        job.spec[REPORT_KEY] = op
        publish.tasks_changed([job.pk])
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


__all__ = ["CANCELLABLE", "MITOSIS_STATE", "REPORT_KEY", "task_by_uuid", "task_cancel", "task_change", "task_report",
           "task_set_labels", "task_state", "task_submit", "tasks_cancel", "tasks_cancel_by_uuids", "watched_task"]
