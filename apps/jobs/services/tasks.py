"""Mitosis tasks on the job core: a task is a Job without a workflow, in a group, ready at once
(or blocked on the task it watches, see services.watch). Workers report Finish or Cancel, then
Commit with the exit status; Commit finishes the job. Users change, relabel and cancel tasks."""

import shlex
import uuid as uuid_lib
from collections import Counter

from django.db import connection, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Conflict, FieldValidationError, NotFound, PermissionDenied
from apps.groups.choices import Role
from apps.groups.models import Group, Membership
from apps.groups.services import require_role
from apps.workflows.services import event_log

from ..models import Job, JobDependency
from ..states import ACTIVE, COMPLETE, MITOSIS_STATE, REPORT_KEY, WAITING, Status, allowed_sources, mitosis_state
from . import graph, publish, task_quota, watch
from .lifecycle import complete_job
from .transitions import transition, with_dependents_flag

SPEC_KEYS = ("args", "envs", "resources", "terminal_output", "watch")  # the user's TaskSpec inside Job.spec
# Mitosis changes and cancels only tasks no worker holds (Ready, or Pending on a watch).
CHANGEABLE = WAITING
CANCELLABLE = WAITING & allowed_sources(Status.CANCELED)
INSERT_BATCH = 1000  # jobs an INSERT: PostgreSQL takes at most 65,535 parameters a statement


def task_state(job: Job) -> str:
    """The Mitosis TaskState: a held task the worker reported Finish/Cancel on shows that state
    until it commits."""
    return mitosis_state(job.status, (job.spec or {}).get(REPORT_KEY))


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


def _place_watches(placed: list[tuple[Job, Job, str]]) -> dict[int, Job]:
    """Blocked tasks now wait on the tasks they watch (one INSERT of edges); those whose watched
    task has already ended settle now. Returns the settled jobs by id."""
    JobDependency.objects.bulk_create(JobDependency(job=job, depends_on=watched, watch=target)
                                      for job, watched, target in placed)
    settled = {}
    for job, watched, target in placed:
        if watched.status not in COMPLETE:
            continue
        msg = ((watched.spec or {}).get("result") or {}).get("msg")
        if watch.reached(target, watched.status, msg):
            settled[job.pk] = transition(job_id=job.pk, target=Status.READY, fields={"unfinished_deps": 0},
                                         reason="watch_reached")
        else:
            settled[job.pk] = transition(job_id=job.pk, target=Status.CANCELED, reason="watch_unreachable",
                                         fields={"exit_code": 0, "spec": {**job.spec, "result": watch.WATCH_TIMEOUT}})
    return settled


def _place_watch(job: Job, watched: Job, target: str) -> Job:
    return _place_watches([(job, watched, target)]).get(job.pk, job)


def _groups_for_submit(user, names: set[str]) -> dict[str, tuple[Group, int | None]]:
    """The named groups, each locked once (in id order, so two batches cannot deadlock), with
    the user's role in each: one query."""
    role = Membership.objects.filter(user=user, group=OuterRef("pk")).values("role")[:1]
    groups = (Group.objects.select_for_update().filter(name__in=list(names)).order_by("pk")
              .annotate(submitter_role=Subquery(role)).only("pk", "name"))
    return {g.name: (g, Role.ADMIN if user.is_staff else g.submitter_role) for g in groups}


def _reserve_task_ids(counts: dict[int, int]) -> dict[int, int]:
    """Add counts[group id] to each group's task_count in one UPDATE; returns the first number
    of each group's block. RETURNING reads the new value inside the same statement."""
    table = Group._meta.db_table
    cases = " ".join(["WHEN %s THEN %s"] * len(counts))
    marks = ", ".join(["%s"] * len(counts))
    sql = (f'UPDATE "{table}" SET "task_count" = "task_count" + CASE "id" {cases} END '
           f'WHERE "id" IN ({marks}) RETURNING "id", "task_count"')
    params = [value for pair in counts.items() for value in pair] + list(counts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {pk: last - counts[pk] + 1 for pk, last in cursor.fetchall()}


def _writable_group(user, name: str, groups: dict) -> Group:
    group, role = groups.get(name, (None, None))
    if group is None:
        raise NotFound(f"User or group with name {name} not found", field="group_name")
    if role is None or role < Role.WRITE:
        raise PermissionDenied(f"Group {group.name} needs the {Role.WRITE.label} role")
    return group


@transaction.atomic
def tasks_submit(*, user, items: list[dict]) -> list[Job | ApplicationError]:
    """Submit many tasks at once (items: group_name, tags, labels, timeout_s, priority, spec).
    Every item is checked first, in the order a single submit checks it; a refused one gets its
    error in its place and takes no number. The rest: each group locked once, a block of
    task_ids per group in one UPDATE, the jobs in one INSERT (ready, or blocked when they watch
    a task), one event for the batch."""
    results: list = []  # per item: its ApplicationError, or (what it watches, or None)
    for item in items:  # watched tasks are locked before groups, as everywhere: jobs, then groups
        try:
            check_spec(item["spec"])
            results.append(watched_task(user, item["spec"]["watch"]) if item["spec"].get("watch") else None)
        except ApplicationError as exc:
            results.append(exc)
    groups = _groups_for_submit(user, {item["group_name"] for item, outcome in zip(items, results)
                                       if not isinstance(outcome, ApplicationError)})
    accepted: list[tuple[int, Group, tuple[Job, str] | None]] = []
    for index, (item, watched) in enumerate(zip(items, results)):
        if isinstance(watched, ApplicationError):
            continue
        try:
            accepted.append((index, _writable_group(user, item["group_name"], groups), watched))
        except ApplicationError as exc:
            results[index] = exc
    room, refusal = task_quota.admit(user, len(accepted)) if accepted else (0, None)
    for index, _, _ in accepted[room:]:  # in submit order: the first ones fit
        results[index] = refusal
    accepted = accepted[:room]
    if not accepted:
        return results
    next_id = _reserve_task_ids(Counter(group.pk for _, group, _ in accepted))
    now = timezone.now()
    jobs = []
    for index, group, watched in accepted:
        item, task_id = items[index], next_id[group.pk]
        next_id[group.pk] += 1
        placement = ({"status": Status.BLOCKED, "unfinished_deps": 1, "cancel_on_blocking_job_failure": False}
                     if watched else {"status": Status.READY, "ready_at": now})
        jobs.append(Job(owner=user, group=group, name=f"{group.name}#{task_id}", **_spec_fields(item["spec"]),
                        spec={**item["spec"], "task_id": task_id}, timeout_s=item["timeout_s"],
                        priority=item["priority"], tags=sorted(set(item["tags"])), labels=sorted(set(item["labels"])),
                        **placement))
    Job.objects.bulk_create(jobs, batch_size=INSERT_BATCH)  # sets the ids on PostgreSQL and SQLite
    settled = _place_watches([(job, *watched) for job, (_, _, watched) in zip(jobs, accepted) if watched])
    for job, (index, _, _) in zip(jobs, accepted):
        results[index] = settled.get(job.pk, job)
    ids = [job.pk for job in jobs]
    event_log(workflow_id=None, category="tasks_submitted",
              data={"count": len(ids), "groups": sorted({g.name for _, g, _ in accepted}), "job_ids": ids[:1000]})
    publish.tasks_changed(ids)
    return results


def task_submit(*, user, group_name: str, tags: list[str], labels: list[str], timeout_s: int, priority: int,
                spec: dict) -> Job:
    """A ready task (blocked when it watches another); its number is the group's next task_id."""
    [result] = tasks_submit(user=user, items=[{"group_name": group_name, "tags": tags, "labels": labels,
                                               "timeout_s": timeout_s, "priority": priority, "spec": spec}])
    if isinstance(result, ApplicationError):
        raise result
    return result


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


def task_report(*, worker, job_id: int, op: str, exit_status: int | None = None, msg: str | None = None) -> None:
    """A worker's report on the task it holds (anything else is 404, as in Mitosis). Finish and
    Cancel only note the report: one UPDATE. Commit finishes the job."""
    if op in ("Finish", "Cancel"):
        held = Job.objects.filter(pk=job_id, claimed_by=worker.claimer, status__in=ACTIVE)
        if not held.update(spec=watch.JSONSetKey("spec", REPORT_KEY, op)):
            raise NotFound(f"Task {job_id} not found")
        publish.tasks_changed([job_id])
    elif op == "Commit":
        _commit(worker=worker, job_id=job_id, exit_status=exit_status, msg=msg)
    else:
        raise FieldValidationError(f"{op!r} is not a report operation", field="op")


@transaction.atomic(savepoint=False)  # inside the caller's transaction, no savepoint of its own
def _commit(*, worker, job_id: int, exit_status: int | None, msg: str | None) -> None:
    # the row complete_job needs, locked once; a task has no workflow or requirements to join
    job = with_dependents_flag(Job.objects.select_for_update().filter(
        pk=job_id, claimed_by=worker.claimer, status__in=ACTIVE)).order_by().first()
    if job is None:
        raise NotFound(f"Task {job_id} not found")
    spec = job.spec or {}
    reported = spec.get(REPORT_KEY)
    if reported not in ("Finish", "Cancel"):
        raise FieldValidationError("Task can not be marked as done", field="op")
    status = Status.CANCELED if reported == "Cancel" else (Status.COMPLETED if exit_status == 0 else Status.FAILED)
    spec = {**spec, "result": {"exit_status": exit_status, "msg": msg}, "reporter_uuid": str(worker.uuid)}
    complete_job(job_id=job_id, status=status, return_code=exit_status or 0, claimer=worker.claimer,
                 job_fields={"spec": spec}, job=job)


__all__ = ["CANCELLABLE", "MITOSIS_STATE", "REPORT_KEY", "task_by_uuid", "task_cancel", "task_change", "task_report",
           "task_set_labels", "task_state", "task_submit", "tasks_cancel", "tasks_cancel_by_uuids", "tasks_submit",
           "watched_task"]
