"""The one claim service: ready -> pending, highest priority first, never one job to two claimers.

PostgreSQL: one WITH picked AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ...
RETURNING, served by
the partial indexes on ready jobs. SQLite: the same statement inside the IMMEDIATE transaction
Drover's SQLite connections use (one writer at a time).
"""

import functools
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from apps.workflows.models import Event, ResourceRequirements
from apps.workflows.services import event_log

from ..models import Job
from ..states import Status
from .transitions import lease_until


@dataclass(frozen=True)
class Scope:
    """Which ready jobs a claimer may take: a pool queue's, a workflow's, or some groups'."""

    workflow_id: int | None = None
    group_ids: tuple[int, ...] = ()
    queue: str | None = None
    # With group_ids: only jobs whose tags are all among these (Mitosis' matching).
    tags: tuple[str, ...] | None = None

    def where(self) -> tuple[str, list]:
        if self.queue is not None:
            return "queue = %s", [self.queue]
        if self.workflow_id is not None:
            return "workflow_id = %s", [self.workflow_id]
        marks = ", ".join(["%s"] * len(self.group_ids)) or "NULL"
        sql, params = f"group_id IN ({marks}) AND workflow_id IS NULL", list(self.group_ids)
        if self.tags is not None:
            tag_sql, tag_params = tags_within(list(self.tags))
            sql, params = f"{sql} AND {tag_sql}", params + tag_params
        return sql, params


def tags_within(tags: list[str]) -> tuple[str, list]:
    """SQL: the job's tags (a JSON array) are a subset of `tags`."""
    if connection.vendor == "postgresql":
        return "tags <@ %s::jsonb", [json.dumps(tags)]
    if not tags:  # NOT IN (empty) cannot be written; only untagged jobs fit
        return "json_array_length(tags) = 0", []
    marks = ", ".join(["%s"] * len(tags))
    return f"NOT EXISTS (SELECT 1 FROM json_each(tags) t WHERE t.value NOT IN ({marks}))", list(tags)


def _skip_locked() -> str:
    return " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""


def _mark_claimed(ids_sql: str, params: list, *, claimer: str, lease_seconds: int | None,
                  compute_node_id: int | None, columns: tuple[str, ...] = ("id",),
                  log_workflow: int | None | bool = False, start: bool = False, event_extra: dict | None = None,
                  outputs: bool = False) -> list:
    """Claim the rows `ids_sql` selects. The selection is a MATERIALIZED CTE: inside
    `WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` PostgreSQL may pick a nested-loop
    semi join that re-runs the subquery per row, and SKIP LOCKED then yields a fresh job each
    time, claiming far more than n. `outputs`: each row also gets the job's output file and
    user data ids (what a runner checks after running it)."""
    table = Job._meta.db_table
    returning = ", ".join(_column(c) for c in columns)
    started = ", started_at = %s" if start else ""
    update = (f"UPDATE {table} SET status = %s, claimed_by = %s, lease_expires_at = %s, compute_node_id = %s"
              f"{started} WHERE id IN (SELECT id FROM picked) RETURNING {returning}")
    lease = Job._meta.get_field("lease_expires_at").get_db_prep_save(lease_until(lease_seconds), connection)
    values = [*params, int(Status.RUNNING if start else Status.PENDING), claimer, lease, compute_node_id]
    if start:
        values.append(Job._meta.get_field("started_at").get_db_prep_save(timezone.now(), connection))
    if log_workflow is not False and connection.vendor == "postgresql":
        # The claim's event row in the same statement: one round trip less on the hottest path.
        sql = (
            f"WITH picked AS MATERIALIZED ({ids_sql}), claimed AS ({update}), "
            f"logged AS (INSERT INTO {Event._meta.db_table} (workflow_id, timestamp, category, data) "
            f"SELECT %s, now(), 'jobs_claimed', jsonb_build_object('claimer', %s::text, 'count', count(*), "
            f"'job_ids', to_jsonb((array_agg(id ORDER BY id))[1:1000]), 'started', %s) || %s::jsonb FROM claimed "
            f"HAVING count(*) > 0) SELECT {returning}{_output_arrays() if outputs else ''} FROM claimed"
        )
        values += [log_workflow, claimer, start, json.dumps(event_extra or {})]
        log_workflow = False
        if outputs:
            columns, outputs = (*columns, *OUTPUT_KEYS), False
    else:
        sql = f"WITH picked AS MATERIALIZED ({ids_sql}) {update}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    if log_workflow is not False and rows:
        ids = sorted(row[columns.index("id")] for row in rows)
        event_log(workflow_id=log_workflow, category="jobs_claimed",
                  data={"claimer": claimer, "count": len(ids), "job_ids": ids[:1000], "started": start,
                        **(event_extra or {})})
    if columns == ("id",):
        return sorted(row[0] for row in rows)
    claimed = sorted((dict(zip(columns, row, strict=True)) for row in rows), key=lambda r: r["id"])
    if outputs:
        _add_outputs(claimed)
    return claimed


OUTPUT_KEYS = ("output_file_ids", "output_user_data_ids")


@functools.cache
def _output_arrays() -> str:
    from apps.files.models import JobFile, JobUserData

    return (f", ARRAY(SELECT file_id FROM {JobFile._meta.db_table} f WHERE f.job_id = claimed.id AND f.is_output "
            f"ORDER BY file_id), ARRAY(SELECT user_data_id FROM {JobUserData._meta.db_table} u "
            f"WHERE u.job_id = claimed.id AND u.is_output ORDER BY user_data_id)")


def _add_outputs(rows: list[dict]) -> None:
    """The output ids of claimed rows, in one statement (where the claim could not return them)."""
    from apps.files.models import JobFile, JobUserData

    by_id = {row["id"]: row for row in rows}
    for row in rows:
        row.update({key: [] for key in OUTPUT_KEYS})
    if not rows:
        return
    match = f"job_id IN ({', '.join(['%s'] * len(by_id))})"
    sql = (f"SELECT job_id, file_id, 0 FROM {JobFile._meta.db_table} WHERE {match} AND is_output UNION ALL "
           f"SELECT job_id, user_data_id, 1 FROM {JobUserData._meta.db_table} WHERE {match} AND is_output ORDER BY 2")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*by_id, *by_id])
        for job_id, target, kind in cursor.fetchall():
            by_id[job_id][OUTPUT_KEYS[kind]].append(target)


def _column(name: str) -> str:
    return Job._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name).column



# savepoint=False: inside a request's transaction a claim needs no savepoint of its own (an
# error fails the whole request anyway), which saves two round trips on the hottest path.
@transaction.atomic(savepoint=False)
def claim(*, scope: Scope, claimer: str, limit: int, lease_seconds: int | None = None,
          compute_node_id: int | None = None, columns: tuple[str, ...] = ("id",), start: bool = False,
          outputs: bool = False) -> list:
    """Claim up to `limit` ready jobs in priority order; returns their ids, or with `columns`
    the claimed rows as dicts of those columns (RETURNING: no second read). `start`: straight
    to running (ready -> running is in the transition table), for claimers that run what they
    take at once, such as Mitosis workers: one statement instead of a claim and a start."""
    if connection.vendor == "postgresql" and len(scope.group_ids) > 1 and scope.queue is None \
            and scope.workflow_id is None:
        inner, values = _per_group(scope, limit)
    else:
        where, params = scope.where()
        inner = (f"SELECT id FROM {Job._meta.db_table} WHERE status = %s AND {where} "
                 f"ORDER BY priority DESC, id LIMIT %s{_skip_locked()}")
        values = [int(Status.READY), *params, limit]
    return _mark_claimed(inner, values, claimer=claimer, lease_seconds=lease_seconds,
                         compute_node_id=compute_node_id, columns=columns, log_workflow=scope.workflow_id,
                         start=start, outputs=outputs)


def _per_group(scope: Scope, limit: int) -> tuple[str, list]:
    """PostgreSQL, several groups (every Mitosis worker serves its creator's group too): the
    best `limit` of each group from its ready index, then the best of those. With
    `group_id IN (...)` no index gives the claim order, so every fetch sorted all ready tasks of
    the worker's groups (fetches slowed from 122/s to 89/s over 20,000 tasks). Up to `limit`
    rows a group are locked; the ones not taken are free again when the claim commits."""
    tag_sql, tag_params = tags_within(list(scope.tags)) if scope.tags is not None else ("TRUE", [])
    sql = (f"SELECT c.id FROM unnest(%s::bigint[]) AS g(id) CROSS JOIN LATERAL (SELECT id, priority "
           f"FROM {Job._meta.db_table} WHERE status = %s AND group_id = g.id AND workflow_id IS NULL AND {tag_sql} "
           f"ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED) c ORDER BY c.priority DESC, c.id LIMIT %s")
    return sql, [list(scope.group_ids), int(Status.READY), *tag_params, limit, limit]


@dataclass(frozen=True)
class NodeResources:
    num_cpus: int
    memory_bytes: int
    num_gpus: int
    num_nodes: int
    time_limit_s: int | None = None
    scheduler_id: int | None = None


SORTS = {
    "gpus_runtime_memory": "num_gpus DESC, runtime_s DESC, memory_bytes DESC",
    "gpus_memory_runtime": "num_gpus DESC, memory_bytes DESC, runtime_s DESC",
    "none": "j.id",
}
CANDIDATES_PER_SLOT = 4  # candidates read per requested job: enough for packing, bounded


@transaction.atomic(savepoint=False)
def claim_by_resources(*, workflow_id: int, node: NodeResources, limit: int, claimer: str,
                       sort_method: str = "gpus_runtime_memory", compute_node_id: int | None = None,
                       lease_seconds: int | None = None, columns: tuple[str, ...] = ("id",),
                       outputs: bool = False) -> list:
    """Torc's claim_jobs_based_on_resources: ready jobs that fit on the node, then greedy packing
    of cpus, memory and gpus (a multi-node job takes num_nodes times its per-node needs).
    Returns the claimed ids, or with `columns` the claimed rows, as claim() does."""
    jobs, rr = Job._meta.db_table, ResourceRequirements._meta.db_table
    default = ResourceRequirements()
    names = ("num_cpus", "num_gpus", "num_nodes", "memory_bytes", "runtime_s")
    limits = {"num_cpus": node.num_cpus, "memory_bytes": node.memory_bytes, "num_gpus": node.num_gpus,
              "num_nodes": node.num_nodes}
    if node.time_limit_s is not None:
        limits["runtime_s"] = node.time_limit_s
    defaults_fit = all(getattr(default, name) <= limit for name, limit in limits.items())
    # The requirements that fit are picked first (a workflow has few), and jobs are matched on
    # their ids: filtering the joined rows instead made the planner expect almost none to fit,
    # so it sorted every ready job of the workflow on each claim (18 ms at 20,000 ready jobs)
    # rather than walk the ready index in claim order and stop at the limit (1 ms).
    sql = (
        f"WITH fit AS {'MATERIALIZED ' if connection.vendor == 'postgresql' else ''}"
        f"(SELECT id, {', '.join(names)} FROM {rr} WHERE workflow_id = %s AND "
        f"{' AND '.join(f'{name} <= %s' for name in limits)}) "
        f"SELECT j.id, {', '.join(f'COALESCE(f.{name}, %s) AS {name}' for name in names)} "
        f"FROM {jobs} j LEFT JOIN fit f ON f.id = j.resource_requirements_id "
        f"WHERE j.status = %s AND j.workflow_id = %s AND (j.resource_requirements_id IN (SELECT id FROM fit) "
        f"OR (j.resource_requirements_id IS NULL AND %s)) "
        f"ORDER BY j.priority DESC, {SORTS.get(sort_method, SORTS['none'])}, j.id LIMIT %s"
        + (" FOR UPDATE OF j SKIP LOCKED" if connection.vendor == "postgresql" else "")
    )
    params = [workflow_id, *limits.values(), *(getattr(default, name) for name in names), int(Status.READY),
              workflow_id, defaults_fit, limit * CANDIDATES_PER_SLOT + 16]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        candidates = cursor.fetchall()
    cpus, memory, gpus = (node.num_cpus * node.num_nodes, node.memory_bytes * node.num_nodes,
                          node.num_gpus * node.num_nodes)
    chosen = []
    for job_id, n_cpus, n_gpus, n_nodes, mem, _runtime in candidates:
        need = (n_cpus * n_nodes, mem * n_nodes, n_gpus * n_nodes)
        if need[0] <= cpus and need[1] <= memory and need[2] <= gpus:
            chosen.append(job_id)
            cpus, memory, gpus = cpus - need[0], memory - need[1], gpus - need[2]
            if len(chosen) == limit:
                break
    if not chosen:
        return []
    marks = ", ".join(["%s"] * len(chosen))
    # The candidates are locked by this transaction already: the status check is the guard.
    return _mark_claimed(f"SELECT id FROM {jobs} WHERE id IN ({marks}) AND status = %s", [*chosen, int(Status.READY)],
                         claimer=claimer, lease_seconds=lease_seconds, compute_node_id=compute_node_id,
                         columns=columns, log_workflow=workflow_id, event_extra={"by_resources": True},
                         outputs=outputs)
