"""Completing many jobs of one workflow in one transaction (Torc 0.35's batch_complete_jobs).

A runner that finishes jobs faster than it can make one request per job reports them together.
Each entry is checked as complete_job checks it; an entry that cannot be applied is reported
back and the others are applied. Writes are set-based: one locking read, the shared release of
dependents (only for jobs that have any), then the results, the jobs' states and one event: on
PostgreSQL in one statement, on SQLite in one INSERT, one UPDATE per (status, exit code) and one
INSERT."""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from apps.workflows.models import Event
from apps.workflows.services import event_log

from ..models import Job, JobDependency, Result
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


# savepoint=False: a request's transaction needs no savepoint of its own here (an error fails the
# whole request anyway); two statements fewer on a runner's hottest report.
@transaction.atomic(savepoint=False)
def complete_jobs(*, workflow, completions: list[Completion], claimer: str | None = None
                  ) -> tuple[list[int], list[tuple[int, str]]]:
    """Returns (completed job ids, [(job id, why not)]). A compute node that is not one of the
    workflow's is not recorded, as complete_job does."""
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
    # One locking read in id order, so two batches over the same jobs cannot deadlock. It also
    # tells which jobs have dependents: a batch of leaf jobs skips the release statement.
    rows = _locked_rows(workflow.pk, [e.job_id for e in wanted])
    _forget_unknown_nodes(workflow, wanted, rows)
    applied: list[tuple[Completion, int, bool]] = []
    for entry in wanted:
        if entry.job_id not in rows:
            errors.append((entry.job_id, f"Job not found with ID: {entry.job_id}"))
            continue
        current, attempt, claimed_by, node, dependents = rows[entry.job_id]
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
            applied.append((entry, attempt, bool(dependents)))
    if applied:
        _write(workflow, applied)
    return [entry.job_id for entry, _, _ in applied], errors


def _locked_rows(workflow_id: int, ids: list[int]) -> dict[int, tuple]:
    """{id: (status, attempt, claimed_by, compute node, has dependents)}, rows locked in id order.
    Raw SQL: the ORM took longer to build this statement than PostgreSQL to run it."""
    if not ids:
        return {}
    jobs, deps = Job._meta.db_table, JobDependency._meta.db_table
    if connection.vendor == "postgresql":
        match, params, lock = "j.id = ANY(%s)", [ids], " FOR UPDATE OF j"
    else:  # the IMMEDIATE transaction holds the write lock
        match, params, lock = f"j.id IN ({', '.join(['%s'] * len(ids))})", ids, ""
    sql = (f"SELECT j.id, j.status, j.attempt, j.claimed_by, j.compute_node_id, "
           f"EXISTS (SELECT 1 FROM {deps} d WHERE d.depends_on_id = j.id) FROM {jobs} j "
           f"WHERE j.workflow_id = %s AND {match} ORDER BY j.id{lock}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [workflow_id, *params])
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _forget_unknown_nodes(workflow, entries: list[Completion], rows: dict) -> None:
    """A report's node is recorded only if it is one of the workflow's nodes. The node the job
    was claimed by is (claims check it), so only other nodes are looked up: usually none."""
    from apps.workers.models import ComputeNode

    other = {e.compute_node_id for e in entries
             if e.compute_node_id is not None and (e.job_id not in rows or rows[e.job_id][3] != e.compute_node_id)}
    known = set(ComputeNode.objects.filter(pk__in=other, workflow_id=workflow.pk).values_list("pk", flat=True)
                ) if other else set()
    for entry in entries:
        if entry.compute_node_id in other and entry.compute_node_id not in known:
            entry.compute_node_id = None


def _write(workflow, applied: list[tuple[Completion, int, bool]]) -> None:
    now = timezone.now()
    groups: dict[tuple[Status, int], list[int]] = defaultdict(list)
    for e, _, _ in applied:
        groups[(e.status, e.return_code)].append(e.job_id)
    # as transition(): a non-zero exit code counts as a failure for the dependents. Only jobs with
    # dependents are passed on: for the others release_dependents would find nothing.
    failed = [e.job_id for e, _, dependents in applied if dependents and (e.status in UNSUCCESSFUL or e.return_code)]
    failed_set = set(failed)
    succeeded = [e.job_id for e, _, dependents in applied if dependents and e.job_id not in failed_set]
    released = (graph.release_dependents(succeeded=succeeded, failed=failed, watches=False)  # workflow jobs
                if succeeded or failed else {"unblocked": 0, "canceled": 0})
    event = {"job_ids": [e.job_id for e, _, _ in applied],
             "statuses": {s.label: sum(len(ids) for (st, _), ids in groups.items() if st == s)
                          for s in {e.status for e, _, _ in applied}},
             "reason": "batch_complete_jobs", **released}
    if connection.vendor == "postgresql":
        _write_one_statement(workflow, applied, now, event)
        return
    Result.objects.bulk_create(_result(workflow, e, attempt, now) for e, attempt, _ in applied)
    for (status, code), ids in groups.items():
        for part in graph.chunks(ids):
            Job.objects.filter(pk__in=part).update(status=status, exit_code=code, finished_at=now, claimed_by="",
                                                   lease_expires_at=None)
    event_log(workflow_id=workflow.pk, category="jobs_completed", data=event)


def _result(workflow, e: Completion, attempt: int, now) -> Result:
    return Result(job_id=e.job_id, workflow_id=workflow.pk, run_id=workflow.run_id, attempt=attempt,
                  compute_node_id=e.compute_node_id, return_code=e.return_code, status=e.status,
                  exec_time_minutes=e.exec_time_minutes, completion_time=e.completion_time or now,
                  stdout=e.stdout, stderr=e.stderr, **e.metrics)


RESULT_COLUMNS = (("job_id", "bigint"), ("attempt", "integer"), ("compute_node_id", "bigint"),
                  ("return_code", "integer"), ("status", "smallint"), ("exec_time_minutes", "double precision"),
                  ("completion_time", "timestamptz"), ("stdout", "text"), ("stderr", "text"),
                  ("peak_memory_bytes", "bigint"), ("avg_memory_bytes", "bigint"),
                  ("peak_cpu_percent", "double precision"), ("avg_cpu_percent", "double precision"))


def _write_one_statement(workflow, applied: list[tuple[Completion, int, bool]], now, event: dict) -> None:
    """PostgreSQL: the results, the jobs' new states and the event in one statement (one array
    per column, unnest()ed), where the ORM takes three round trips and most of the request's
    Python time. The SQLite path above writes the same rows."""
    results = [_result(workflow, e, attempt, now) for e, attempt, _ in applied]
    columns = [[getattr(r, name) for r in results] for name, _ in RESULT_COLUMNS]
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in RESULT_COLUMNS)
    names = ", ".join(name for name, _ in RESULT_COLUMNS)
    jobs, results_table, events = Job._meta.db_table, Result._meta.db_table, Event._meta.db_table
    sql = (
        f"WITH r AS (INSERT INTO {results_table} (workflow_id, run_id, {names}) "
        f"SELECT %s, %s, * FROM unnest({arrays})), "
        f"j AS (UPDATE {jobs} SET status = v.status, exit_code = v.code, finished_at = %s, claimed_by = '', "
        f"lease_expires_at = NULL FROM unnest(%s::bigint[], %s::smallint[], %s::integer[]) AS v(id, status, code) "
        f"WHERE {jobs}.id = v.id) "
        f"INSERT INTO {events} (workflow_id, timestamp, category, data) VALUES (%s, %s, 'jobs_completed', %s::jsonb)"
    )
    params = [workflow.pk, workflow.run_id, *columns, now, [e.job_id for e, _, _ in applied],
              [int(e.status) for e, _, _ in applied], [e.return_code for e, _, _ in applied],
              workflow.pk, now, json.dumps(event)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
