"""Mitosis workers: registration, heartbeats, fetching through the one claim service, shutdown
and removal. A worker silent for DROVER_WORKER_TIMEOUT seconds is removed and its task goes back
to ready.

Locking order, everywhere: worker rows (by id), then job rows. Fetch locks its worker row while
it claims, so a removal never misses a task claimed at the same moment."""

import json
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.tokens import AccessToken

from apps.core.authentication import forget_workers
from apps.core.exceptions import ApplicationError
from apps.groups.choices import Role
from apps.groups.models import Group
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.services import publish
from apps.jobs.services.tasks import REPORT_KEY, task_report
from apps.jobs.states import ACTIVE, Status
from apps.workflows.services import event_log

from .models import Coordinator, GroupWorker, Worker

WORKER_CLAIM = "worker"
COORDINATOR_PK = 1


class CoordinatorShutDown(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def worker_token(worker: Worker, lifetime_s: int | None) -> str:
    token = AccessToken()
    token[WORKER_CLAIM] = str(worker.uuid)
    token.set_exp(lifetime=timedelta(seconds=lifetime_s or settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()))
    return str(token)


def parse_group_roles(entries: list[str]) -> dict[str, Role]:
    """"name" (Write) or "name:Role" as Mitosis' register request has them; an unknown role is
    Write and an entry with two colons is dropped, as in Mitosis."""
    roles = {}
    for entry in entries:
        name, _, role = entry.partition(":")
        if ":" in role:
            continue
        try:
            roles[name] = Role.from_name(role.capitalize()) if role else Role.WRITE
        except ValueError:
            roles[name] = Role.WRITE
    return roles


def groups_user_may_serve(user, names) -> list[Group]:
    """Groups (of `names`) a worker of `user` may be attached to: those where the user may submit
    (Write or Admin; staff: any). Others are treated as missing: a stranger's worker must not be
    able to pull a group's tasks (and data)."""
    groups = Group.objects.filter(name__in=list(names))
    if not user.is_staff:
        groups = groups.filter(memberships__user=user, memberships__role__gte=Role.WRITE)
    return list(groups)


@transaction.atomic
def worker_register(*, creator, tags: list[str], labels: list[str], groups: list[str],
                    lifetime_s: int | None = None) -> tuple[Worker, str]:
    """Groups that do not exist (or that the creator may not submit to) are ignored, as Mitosis
    ignores unknown ones; the creator's own group always administers the worker."""
    coordinator = Coordinator.objects.select_for_update().filter(pk=COORDINATOR_PK).first()
    if coordinator is not None and not coordinator.accepting_workers:
        raise CoordinatorShutDown("Coordinator is shut down (POST /admin/shutdown); an operator re-enables "
                                  "worker registration in the console")
    roles = parse_group_roles(groups)
    roles[creator.username] = Role.ADMIN
    worker = Worker.objects.create(creator=creator, tags=sorted(set(tags)), labels=sorted(set(labels)))
    known = groups_user_may_serve(creator, roles)
    GroupWorker.objects.bulk_create(GroupWorker(group=g, worker=worker, role=roles[g.name]) for g in known)
    event_log(workflow_id=None, category="worker_registered",
              data={"worker": str(worker.uuid), "groups": sorted(g.name for g in known)})
    return worker, worker_token(worker, lifetime_s)


@transaction.atomic
def worker_fetch(*, worker: Worker) -> Job | None:
    """Claim the highest-priority ready task of the worker's groups (role Write or Admin) whose
    tags the worker all has, and start it. A worker shutting down gets nothing."""
    # The worker row (locked, and re-read: `worker` may be remembered from before a shutdown)
    # and the groups it may take tasks of, in one query: a row per such group.
    rows = list(Worker.objects.select_for_update(of=("self",))
                .filter(pk=worker.pk, state=Worker.State.NORMAL, group_links__role__gte=Role.WRITE)
                .values_list("tags", "group_links__group_id"))
    if not rows:
        return None
    scope = jobs.Scope(group_ids=tuple(group_id for _, group_id in rows), tags=tuple(rows[0][0]))
    # claimed and started in one statement, which returns what the worker is sent: a Mitosis
    # worker runs what it fetches at once
    rows = jobs.claim(scope=scope, claimer=worker.claimer, limit=1, lease_seconds=settings.DROVER_WORKER_TIMEOUT,
                      start=True, columns=FETCHED)
    if not rows:
        return None
    publish.tasks_changed([rows[0]["id"]])
    return fetched_job(rows[0])


FETCHED = ("id", "uuid", "timeout_s", "args", "env", "spec")


def fetched_job(row: dict) -> Job:
    """A Job of the FETCHED columns as the claim returned them: JSON columns come back as text,
    and SQLite stores uuids as hex text."""
    return Job(id=row["id"], uuid=row["uuid"] if isinstance(row["uuid"], UUID) else UUID(row["uuid"]),
               timeout_s=row["timeout_s"],
               **{name: json.loads(row[name]) if isinstance(row[name], str) else row[name]
                  for name in ("args", "env", "spec")})


def worker_heartbeat(*, worker: Worker) -> bool:
    """Renew the worker and its task's lease; returns False when the worker was removed instead:
    its task ran past timeout + 60 s (as in Mitosis), or it is shutting down gracefully and holds
    nothing any more (its task was taken back meanwhile)."""
    now = timezone.now()
    running = Job.objects.filter(claimed_by=worker.claimer, status__in=ACTIVE).values("started_at", "timeout_s").first()
    if running and running["timeout_s"] and running["started_at"] and \
            now - running["started_at"] > timedelta(seconds=running["timeout_s"] + 60):
        workers_shutdown(worker_ids=[worker.pk], force=True, reason="task_timeout")
        return False
    if not Worker.objects.filter(pk=worker.pk, state=Worker.State.NORMAL).update(last_heartbeat=now):
        # Not a normal worker (any more): the row decides, not `worker`, which authentication
        # may have remembered from before a shutdown in another server process.
        state = Worker.objects.filter(pk=worker.pk).values_list("state", flat=True).first()
        if state is None:
            return False
        if running is None:
            workers_shutdown(worker_ids=[worker.pk], force=False, reason="graceful_shutdown")
            return False
        Worker.objects.filter(pk=worker.pk).update(last_heartbeat=now)
    if running:
        Job.objects.filter(claimed_by=worker.claimer, status__in=ACTIVE).update(
            lease_expires_at=now + timedelta(seconds=settings.DROVER_WORKER_TIMEOUT))
    return True


def _requeue(rows, reason: str) -> None:
    """Held tasks back to ready, next attempt; a Finish not committed is forgotten (Mitosis runs
    such a task again too)."""
    for job_id, attempt, spec in rows:
        spec = {k: v for k, v in spec.items() if k != REPORT_KEY}
        jobs.transition(job_id=job_id, target=Status.READY, reason=f"worker_{reason}",
                        fields={"spec": spec, "attempt": attempt + 1})


@transaction.atomic
def workers_shutdown(*, worker_ids, force: bool, reason: str) -> int:
    """Mitosis' shutdown, for many workers at once. Force: removed now, their tasks back to
    ready. Graceful: idle ones removed now, busy ones marked GracefulShutdown (they take no new
    task and are removed when they commit). Returns how many workers were removed or marked."""
    rows = list(Worker.objects.select_for_update().filter(pk__in=list(worker_ids)).order_by("pk").only("pk", "uuid"))
    if not rows:
        return 0
    workers = {w.claimer: w.pk for w in rows}
    held = list(Job.objects.filter(claimed_by__in=list(workers), status__in=ACTIVE)
                .values_list("claimed_by", "pk", "attempt", "spec"))
    busy = {workers[claimer] for claimer, *_ in held}
    if force:
        _requeue([row[1:] for row in held], reason)
        removed = set(workers.values())
    else:
        removed = set(workers.values()) - busy
        Worker.objects.filter(pk__in=busy).update(state=Worker.State.GRACEFUL_SHUTDOWN, updated_at=timezone.now())
        forget_workers(w.uuid for w in rows if w.pk in busy)  # an UPDATE sends no signal
    if removed:
        Worker.objects.filter(pk__in=removed).delete()
    event_log(workflow_id=None, category="workers_shutdown",
              data={"reason": reason, "force": force, "removed": len(removed),
                    "marked": 0 if force else len(busy), "requeued": [row[1] for row in held] if force else []})
    return len(workers)


def worker_remove(*, worker: Worker, reason: str) -> int:
    """Unregister the worker now; the task it holds goes back to ready (next attempt)."""
    return workers_shutdown(worker_ids=[worker.pk], force=True, reason=reason)


@transaction.atomic
def worker_commit(*, worker: Worker, job_id: int, exit_status: int, msg: str | None) -> bool:
    """The worker's Commit of its task; a worker shutting down gracefully is removed with it (its
    next call gets 401, which tells it to stop). One transaction, worker row first as everywhere.
    Returns True when the worker was removed."""
    state = Worker.objects.select_for_update().filter(pk=worker.pk).values_list("state", flat=True).first()
    task_report(worker=worker, job_id=job_id, op="Commit", exit_status=exit_status, msg=msg)
    if state != Worker.State.GRACEFUL_SHUTDOWN:
        return False
    return bool(workers_shutdown(worker_ids=[worker.pk], force=False, reason="graceful_shutdown"))


@transaction.atomic
def expire_workers() -> int:
    """Remove workers silent for longer than DROVER_WORKER_TIMEOUT (periodic task). Rows are
    locked as they are picked, so a heartbeat arriving meanwhile cannot be lost in between;
    a worker busy fetching (its row locked) is looked at next time."""
    cutoff = timezone.now() - timedelta(seconds=settings.DROVER_WORKER_TIMEOUT)
    ids = list(Worker.objects.select_for_update(skip_locked=True).filter(last_heartbeat__lt=cutoff)
               .values_list("pk", flat=True))
    return workers_shutdown(worker_ids=ids, force=True, reason="heartbeat_timeout") if ids else 0


def coordinator_shutdown(*, user) -> int:
    """POST /admin/shutdown, Drover's way: refuse new workers, then shut every worker down
    gracefully (running tasks finish and commit; nothing new is dispatched). Returns how many
    workers were removed or marked."""
    Coordinator.objects.get_or_create(pk=COORDINATOR_PK)  # a row to lock, committed before we lock it
    with transaction.atomic():
        Coordinator.objects.filter(pk=COORDINATOR_PK).update(
            accepting_workers=False, shutdown_at=timezone.now(), shutdown_by=user)
        count = workers_shutdown(worker_ids=Worker.objects.values_list("pk", flat=True), force=False,
                                 reason="coordinator_shutdown")
        event_log(workflow_id=None, category="coordinator_shutdown", data={"by": user.username, "workers": count})
    return count
