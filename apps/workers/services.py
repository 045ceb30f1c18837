"""Compute nodes: registration, heartbeats (an update of the node extends the leases of the jobs
it holds) and lease expiry for every claimer."""

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.jobs.services import release_dependents
from apps.jobs.services.transitions import lease_until
from apps.jobs.states import ACTIVE, Status
from apps.workflows.services import events_log

from .models import ComputeNode


def node_claimer(node_id: int) -> str:
    return f"compute_node:{node_id}"


@transaction.atomic
def compute_node_save(*, instance: ComputeNode | None = None, **fields) -> ComputeNode:
    instance = instance or ComputeNode()
    for key, value in fields.items():
        setattr(instance, key, value)
    instance.save()
    if instance.is_active:
        heartbeat(claimer=node_claimer(instance.pk), compute_node_id=instance.pk)
    return instance


def heartbeat(*, claimer: str, compute_node_id: int | None = None) -> int:
    """Extend the lease of every job the claimer holds; returns how many."""
    from apps.jobs.models import Job

    holder = Q(claimed_by=claimer)
    if compute_node_id is not None:
        holder |= Q(compute_node_id=compute_node_id)
    return Job.objects.filter(holder, status__in=ACTIVE).update(lease_expires_at=lease_until())


@transaction.atomic
def expire_leases() -> dict:
    """Jobs whose claim was not renewed in time go back to ready with the next attempt number,
    or fail once they have used their attempts (their dependents are then released/canceled)."""
    from apps.jobs.models import Job

    now = timezone.now()
    expired = Job.objects.select_for_update(skip_locked=True).filter(status__in=ACTIVE, lease_expires_at__lt=now)
    rows = list(expired.values_list("pk", "workflow_id", "attempt", "max_attempts"))
    retry = [pk for pk, _, attempt, most in rows if attempt < most]
    give_up = [pk for pk, _, attempt, most in rows if attempt >= most]
    if retry:
        Job.objects.filter(pk__in=retry).update(status=Status.READY, attempt=F("attempt") + 1, ready_at=now,
                                               claimed_by="", lease_expires_at=None, compute_node=None)
    summary = {"requeued": len(retry), "failed": len(give_up)}
    if give_up:
        Job.objects.filter(pk__in=give_up).update(status=Status.FAILED, finished_at=now, claimed_by="",
                                                 lease_expires_at=None)
        summary.update(release_dependents(succeeded=[], failed=give_up))
    if rows:
        by_workflow: dict = {}
        for pk, workflow_id, _, _ in rows:
            by_workflow.setdefault(workflow_id, []).append(pk)
        events_log([(wf, "leases_expired", {"job_ids": ids[:1000], "requeued": len(set(ids) & set(retry)),
                                            "failed": len(set(ids) & set(give_up))})
                    for wf, ids in by_workflow.items()])
    return summary
