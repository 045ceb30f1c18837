"""Completing many jobs of one workflow in one transaction (Torc 0.35's batch_complete_jobs).

A runner that finishes jobs faster than it can make one request per job reports them together.
Each entry is checked as complete_job checks it; an entry that cannot be applied is reported
back and the others are applied. Writes are set-based: one locking read, one INSERT of the
results, one UPDATE per (status, exit code) group, the shared release of dependents, one event."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.workflows.services import event_log

from ..models import Job, Result
from ..states import COMPLETE, TRANSITIONS, UNSUCCESSFUL, Status
from . import graph

MAX_BATCH = 10_000


@dataclass
class Completion:
    job_id: int
    status: Status
    return_code: int
    run_id: int | None = None
    compute_node_id: int | None = None
    exec_time_minutes: float = 0.0
    completion_time: datetime | None = None
    stdout: str = ""
    stderr: str = ""
    metrics: dict = field(default_factory=dict)  # peak/avg memory bytes, peak/avg cpu percent


@transaction.atomic
def complete_jobs(*, workflow, completions: list[Completion], claimer: str | None = None
                  ) -> tuple[list[int], list[tuple[int, str]]]:
    """Returns (completed job ids, [(job id, why not)])."""
    errors: list[tuple[int, str]] = []
    seen: set[int] = set()
    wanted: list[Completion] = []
    for entry in completions:
        if entry.job_id in seen:
            errors.append((entry.job_id, "listed more than once in this batch"))
        elif entry.status not in COMPLETE:
            errors.append((entry.job_id, f"{entry.status.label} is not a finished status; use one of completed, "
                                         "failed, canceled, terminated"))
        elif entry.run_id is not None and entry.run_id != workflow.run_id:
            errors.append((entry.job_id, f"run_id {entry.run_id} does not match the workflow's current run_id "
                                         f"{workflow.run_id}"))
        else:
            wanted.append(entry)
        seen.add(entry.job_id)
    # One locking read in id order, so two batches over the same jobs cannot deadlock.
    rows = {pk: (status, attempt, claimed_by, node) for pk, status, attempt, claimed_by, node in
            Job.objects.select_for_update().filter(workflow_id=workflow.pk, pk__in=[e.job_id for e in wanted])
            .order_by("pk").values_list("pk", "status", "attempt", "claimed_by", "compute_node_id")}
    applied: list[tuple[Completion, int, Status]] = []
    for entry in wanted:
        if entry.job_id not in rows:
            errors.append((entry.job_id, f"Job not found with ID: {entry.job_id}"))
            continue
        current, attempt, claimed_by, node = rows[entry.job_id]
        current = Status(current)
        if current in COMPLETE:
            errors.append((entry.job_id, f"Job {entry.job_id} is already complete ({current.label})"))
        elif entry.status not in TRANSITIONS[current]:
            errors.append((entry.job_id, f"Job {entry.job_id} cannot change from {current.label} to "
                                         f"{entry.status.label}"))
        elif claimer is not None and claimed_by and claimed_by != claimer:
            errors.append((entry.job_id, f"Job {entry.job_id} is held by another claimer; this report is refused"))
        elif entry.compute_node_id is not None and node and node != entry.compute_node_id:  # a late report
            errors.append((entry.job_id, f"Job {entry.job_id} is held by compute node {node}; this report from "
                                         f"node {entry.compute_node_id} is refused"))
        else:
            applied.append((entry, attempt, current))
    if applied:
        _write(workflow, applied)
    return [entry.job_id for entry, _, _ in applied], errors


def _write(workflow, applied: list[tuple[Completion, int, Status]]) -> None:
    now = timezone.now()
    Result.objects.bulk_create(
        Result(job_id=e.job_id, workflow_id=workflow.pk, run_id=workflow.run_id, attempt=attempt,
               compute_node_id=e.compute_node_id, return_code=e.return_code, status=e.status,
               exec_time_minutes=e.exec_time_minutes, completion_time=e.completion_time or now,
               stdout=e.stdout, stderr=e.stderr, **e.metrics)
        for e, attempt, _ in applied
    )
    groups: dict[tuple[Status, int], list[int]] = defaultdict(list)
    for e, _, _ in applied:
        groups[(e.status, e.return_code)].append(e.job_id)
    for (status, code), ids in groups.items():
        for part in graph.chunks(ids):
            Job.objects.filter(pk__in=part).update(status=status, exit_code=code, finished_at=now, claimed_by="",
                                                   lease_expires_at=None)
    # as transition(): a non-zero exit code counts as a failure for the dependents
    failed = [e.job_id for e, _, _ in applied if e.status in UNSUCCESSFUL or e.return_code != 0]
    failed_set = set(failed)
    succeeded = [e.job_id for e, _, _ in applied if e.job_id not in failed_set]
    released = graph.release_dependents(succeeded=succeeded, failed=failed, watches=False)  # workflow jobs
    event_log(workflow_id=workflow.pk, category="jobs_completed",
              data={"job_ids": [e.job_id for e, _, _ in applied],
                    "statuses": {s.label: sum(len(ids) for (st, _), ids in groups.items() if st == s)
                                 for s in {e.status for e, _, _ in applied}},
                    "reason": "batch_complete_jobs", **released})
