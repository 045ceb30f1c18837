"""Mitosis workers: registration, heartbeats, fetching through the one claim service, removal.
A worker silent for DROVER_WORKER_TIMEOUT seconds is removed and its task goes back to ready."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from apps.groups.choices import Role
from apps.groups.models import Group
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.services.tasks import REPORT_KEY
from apps.jobs.states import ACTIVE, Status
from apps.workflows.services import event_log

from .models import GroupWorker, Worker

WORKER_CLAIM = "worker"


def worker_token(worker: Worker, lifetime_s: int | None) -> str:
    token = AccessToken()
    token[WORKER_CLAIM] = str(worker.uuid)
    token.set_exp(lifetime=timedelta(seconds=lifetime_s or settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()))
    return str(token)


def parse_group_roles(entries: list[str]) -> dict[str, Role]:
    """"name" (Write) or "name:Role" as Mitosis' register request has them."""
    roles = {}
    for entry in entries:
        name, _, role = entry.partition(":")
        try:
            roles[name] = Role.from_name(role.capitalize()) if role else Role.WRITE
        except ValueError:
            roles[name] = Role.WRITE
    return roles


@transaction.atomic
def worker_register(*, creator, tags: list[str], labels: list[str], groups: list[str],
                    lifetime_s: int | None = None) -> tuple[Worker, str]:
    roles = parse_group_roles(groups)
    roles[creator.username] = Role.ADMIN  # the creator's own group always administers its worker
    worker = Worker.objects.create(creator=creator, tags=sorted(set(tags)), labels=sorted(set(labels)))
    known = Group.objects.filter(name__in=list(roles))
    GroupWorker.objects.bulk_create(GroupWorker(group=g, worker=worker, role=roles[g.name]) for g in known)
    event_log(workflow_id=None, category="worker_registered",
              data={"worker": str(worker.uuid), "groups": sorted(g.name for g in known)})
    return worker, worker_token(worker, lifetime_s)


def worker_fetch(*, worker: Worker) -> Job | None:
    """Claim the highest-priority ready task of the worker's groups (role Write or Admin) whose
    tags the worker all has, and start it."""
    group_ids = tuple(GroupWorker.objects.filter(worker=worker, role__gte=Role.WRITE).values_list("group_id",
                                                                                                 flat=True))
    if not group_ids or worker.state != Worker.State.NORMAL:
        return None
    ids = jobs.claim(scope=jobs.Scope(group_ids=group_ids, tags=tuple(worker.tags)), claimer=worker.claimer,
                     limit=1, lease_seconds=settings.DROVER_WORKER_TIMEOUT)
    if not ids:
        return None
    return jobs.start_job(job_id=ids[0])


def worker_heartbeat(*, worker: Worker) -> bool:
    """Renew the worker and its task's lease. A task running past its timeout + 60 s costs the
    worker its registration (as in Mitosis); returns False then."""
    now = timezone.now()
    running = Job.objects.filter(claimed_by=worker.claimer, status__in=ACTIVE).values("started_at", "timeout_s").first()
    if running and running["timeout_s"] and running["started_at"] and \
            now - running["started_at"] > timedelta(seconds=running["timeout_s"] + 60):
        worker_remove(worker=worker, reason="task_timeout")
        return False
    Worker.objects.filter(pk=worker.pk).update(last_heartbeat=now)
    Job.objects.filter(claimed_by=worker.claimer, status__in=ACTIVE).update(
        lease_expires_at=now + timedelta(seconds=settings.DROVER_WORKER_TIMEOUT))
    return True


@transaction.atomic
def worker_remove(*, worker: Worker, reason: str) -> int:
    """Unregister the worker; the task it holds goes back to ready (next attempt)."""
    rows = list(Job.objects.filter(claimed_by=worker.claimer, status__in=ACTIVE).values_list("pk", "attempt", "spec"))
    held = [pk for pk, _, _ in rows]
    for job_id, attempt, spec in rows:
        spec = {k: v for k, v in spec.items() if k != REPORT_KEY}  # a Finish not committed does not count
        jobs.transition(job_id=job_id, target=Status.READY, reason=f"worker_{reason}",
                        fields={"spec": spec, "attempt": attempt + 1})
    event_log(workflow_id=None, category="worker_removed",
              data={"worker": str(worker.uuid), "reason": reason, "requeued": held})
    worker.delete()
    return len(held)


def expire_workers() -> int:
    """Remove workers silent for longer than DROVER_WORKER_TIMEOUT (periodic task)."""
    cutoff = timezone.now() - timedelta(seconds=settings.DROVER_WORKER_TIMEOUT)
    removed = 0
    for worker in Worker.objects.filter(last_heartbeat__lt=cutoff):
        worker_remove(worker=worker, reason="heartbeat_timeout")
        removed += 1
    return removed
