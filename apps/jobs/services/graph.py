"""The dependency graph: initialization, unblocking after completion, cancellation cascades and
resets. Every step is a set-based statement over the edges (no Python loop per dependent);
cascades loop once per DAG level."""

from collections import defaultdict, deque

from django.db import connection
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from apps.core.exceptions import FieldValidationError

from ..models import Job, JobDependency
from ..states import ACTIVE, COMPLETE, UNSUCCESSFUL, Status
from . import publish, watch

CHUNK = 5000  # ids per IN (...) list: SQLite allows 32766 parameters, PostgreSQL plans large lists slowly


def chunks(ids: list[int], size: int = CHUNK):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# SECTION after jobs finish


def release_dependents(*, succeeded: list[int], failed: list[int], watches: bool = True) -> dict:
    """Jobs just reached a complete status: unblock, or cancel, the jobs that wait on them.

    A dependent with cancel_on_blocking_job_failure whose blocker failed is canceled, and so on
    down the graph; so is a Mitosis watcher whose watched job ended without reaching the watched
    state (services.watch). Any other blocked dependent loses one unfinished dependency per
    finished blocker and becomes ready at zero. Returns counts for the event log.
    watches=False: the caller knows none of the jobs can be watched (only tasks outside
    workflows can), which saves the watch statement on Torc's completions.
    """
    now = timezone.now()
    canceled: list[int] = []
    frontier, ended = list(failed), list(succeeded) + list(failed)
    while ended:  # one round per level of the cascade
        newly = []
        for part in chunks(ended) if watches else ():
            newly += _cancel_unreached_watches(part, now)
        for part in chunks(frontier):
            edges = JobDependency.objects.filter(depends_on_id__in=part)
            newly += update_returning_ids(
                Job.objects.filter(pk__in=edges.values("job_id"), status=Status.BLOCKED,
                                   cancel_on_blocking_job_failure=True),
                status=Status.CANCELED, finished_at=now,
            )
        canceled += newly
        frontier = ended = newly
    finished = list(succeeded) + list(failed) + canceled
    ready: list[int] = []
    for part in chunks(finished):
        ready += _count_down(part, now)
    if watches:  # Mitosis tasks among them: their clients see the new states
        publish.tasks_changed(canceled + ready)
    return {"unblocked": len(ready), "canceled": len(canceled)}


def _count_down(finished: list[int], now) -> list[int]:
    """One statement: each blocked dependent of `finished` loses one unfinished dependency per
    finished blocker and turns ready at zero. Returns the ids that turned ready."""
    table, deps = Job._meta.db_table, JobDependency._meta.db_table
    marks = ", ".join(["%s"] * len(finished))
    ready_at = Job._meta.get_field("ready_at").get_db_prep_save(now, connection)
    sql = (
        f"UPDATE {table} SET unfinished_deps = {table}.unfinished_deps - c.n, "
        f"status = CASE WHEN {table}.unfinished_deps - c.n = 0 THEN %s ELSE {table}.status END, "
        f"ready_at = CASE WHEN {table}.unfinished_deps - c.n = 0 THEN %s ELSE {table}.ready_at END "
        f"FROM (SELECT job_id, COUNT(*) AS n FROM {deps} WHERE depends_on_id IN ({marks}) GROUP BY job_id) c "
        f"WHERE {table}.id = c.job_id AND {table}.status = %s RETURNING {table}.id, {table}.status"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(Status.READY), ready_at, *finished, int(Status.BLOCKED)])
        return [pk for pk, status in cursor.fetchall() if status == Status.READY]


def _cancel_unreached_watches(ended: list[int], now) -> list[int]:
    """Blocked watchers of the ended jobs whose watched state was not reached (watch.reached,
    decided on the rows the edge query returns): canceled with Mitosis' WatchTimeout result.
    The edge query is served by the partial index on watch edges, which holds no Torc edge: for
    Torc jobs it is one indexed lookup that finds nothing (none at all with watches=False)."""
    table, deps = Job._meta.db_table, JobDependency._meta.db_table
    msg = "b.spec #>> '{result,msg}'" if connection.vendor == "postgresql" else "json_extract(b.spec, '$.result.msg')"
    marks = ", ".join(["%s"] * len(ended))
    sql = (f"SELECT d.job_id, d.watch, b.status, {msg} FROM {deps} d JOIN {table} b ON b.id = d.depends_on_id "
           f"WHERE d.watch IS NOT NULL AND d.depends_on_id IN ({marks})")
    with connection.cursor() as cursor:
        cursor.execute(sql, ended)
        unreached = [job_id for job_id, target, status, result_msg in cursor.fetchall()
                     if not watch.reached(target, status, result_msg)]
    canceled = []
    for part in chunks(unreached):
        canceled += update_returning_ids(
            Job.objects.filter(pk__in=part, status=Status.BLOCKED),
            status=Status.CANCELED, finished_at=now, exit_code=0, spec=watch.with_result(watch.WATCH_TIMEOUT),
        )
    return canceled


def update_returning_ids(queryset, **values) -> list[int]:
    """UPDATE ... RETURNING id in one statement (PostgreSQL and SQLite >= 3.35 both have it)."""
    return [row[0] for row in update_returning(queryset, ("id",), **values)]


def update_returning(queryset, columns: tuple[str, ...], **values) -> list[tuple]:
    """UPDATE the rows of `queryset` in one statement, RETURNING `columns`. A value may be an
    expression over the row itself (e.g. watch.JSONSetKey)."""
    inner_sql, params = queryset.values("pk").query.sql_with_params()
    table = Job._meta.db_table
    compiler = UpdateQuery(Job).get_compiler(connection=connection)
    sets, set_params = [], []
    for field_name, value in values.items():
        field = Job._meta.get_field(field_name)
        if hasattr(value, "resolve_expression"):
            sql, expr_params = compiler.compile(
                value.resolve_expression(compiler.query, allow_joins=False, for_save=True))
            sets.append(f'"{field.column}" = {sql}')
            set_params += expr_params
        else:
            sets.append(f'"{field.column}" = %s')
            set_params.append(field.get_db_prep_save(value, connection))
    returning = ", ".join(f'"{column}"' for column in columns)
    sql = f'UPDATE "{table}" SET {", ".join(sets)} WHERE "id" IN ({inner_sql}) RETURNING {returning}'
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_params, *params])
        return cursor.fetchall()


# SECTION reset


def reset_downstream(*, job_ids: list[int], include_roots: bool = False) -> int:
    """Set everything downstream of the jobs (and the jobs too, with include_roots) back to
    uninitialized, as Torc does when a complete job is reverted; initialize_jobs then places
    them again. Jobs held by a worker are left alone. One recursive statement per chunk; UNION
    stops at cycles."""
    table, deps = Job._meta.db_table, JobDependency._meta.db_table
    active = [int(s) for s in ACTIVE]
    total = 0
    for part in chunks(job_ids):
        marks = ", ".join(["%s"] * len(part))
        seed = (f"SELECT id FROM {table} WHERE id IN ({marks})" if include_roots
                else f"SELECT job_id FROM {deps} WHERE depends_on_id IN ({marks})")
        # UPDATE first, the recursive CTE inside: Python's sqlite3 reports no row count (-1) for
        # a statement that starts with WITH
        sql = (
            f"UPDATE {table} SET status = %s, unfinished_deps = 0, ready_at = NULL, exit_code = NULL, "
            f"finished_at = NULL, claimed_by = '', lease_expires_at = NULL "
            f"WHERE id IN (WITH RECURSIVE down(id) AS ({seed} "
            f"UNION SELECT d.job_id FROM {deps} d JOIN down ON d.depends_on_id = down.id) SELECT id FROM down) "
            f"AND status NOT IN (%s, %s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [int(Status.UNINITIALIZED), *part, *active])
            total += cursor.rowcount
    return total


# SECTION initialization


def initialize_jobs(*, workflow_id: int) -> dict:
    """Give every uninitialized job of the workflow its place: canceled (a blocker failed and the
    job cancels on that), blocked (counting its unfinished dependencies) or ready."""
    now = timezone.now()
    todo = Job.objects.filter(workflow_id=workflow_id, status=Status.UNINITIALIZED)
    # Uncorrelated (a semi-join the planner can hash), not EXISTS per row: with statistics still
    # missing after a bulk insert, a per-row plan over a large workflow took minutes.
    failed_children = JobDependency.objects.filter(depends_on__workflow_id=workflow_id,
                                                   depends_on__status__in=UNSUCCESSFUL).values("job_id")
    canceled = 0
    while True:  # cascades through uninitialized jobs that themselves get canceled
        n = todo.filter(pk__in=failed_children, cancel_on_blocking_job_failure=True).update(
            status=Status.CANCELED, finished_at=now)
        canceled += n
        if not n:
            break
    unfinished = (JobDependency.objects.filter(job_id=OuterRef("pk")).exclude(depends_on__status__in=COMPLETE)
                  .values("job_id").annotate(n=Count("*")).values("n"))
    todo.update(unfinished_deps=Coalesce(Subquery(unfinished), Value(0)))
    ready = todo.filter(unfinished_deps=0).update(status=Status.READY, ready_at=now)
    blocked = todo.update(status=Status.BLOCKED)
    return {"ready": ready, "blocked": blocked, "canceled": canceled}


def add_implicit_dependencies(*, workflow_id: int) -> int:
    """A job consuming a file or user data that another job produces depends on that job."""
    from apps.files.models import JobFile, JobUserData

    deps, jobs = JobDependency._meta.db_table, Job._meta.db_table
    total = 0
    for link in (JobFile, JobUserData):
        table = link._meta.db_table
        target = "file_id" if link is JobFile else "user_data_id"
        sql = (
            f"INSERT INTO {deps} (job_id, depends_on_id, implicit) "
            f"SELECT DISTINCT i.job_id, o.job_id, %s FROM {table} i "
            f"JOIN {table} o ON i.{target} = o.{target} AND o.is_output = %s "
            f"JOIN {jobs} j ON j.id = i.job_id "
            f"WHERE i.is_output = %s AND j.workflow_id = %s AND i.job_id <> o.job_id "
            f"ON CONFLICT (job_id, depends_on_id) DO NOTHING"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [True, True, False, workflow_id])
            total += max(cursor.rowcount, 0)
    return total


def find_cycle(edges: list[tuple[int, int]]) -> list[int] | None:
    """Kahn's algorithm over (job, depends_on) pairs; returns the ids of one cycle, or None."""
    indegree: dict[int, int] = defaultdict(int)
    after: dict[int, list[int]] = defaultdict(list)
    nodes = set()
    for job, dep in edges:
        after[dep].append(job)
        indegree[job] += 1
        nodes.update((job, dep))
    queue = deque(n for n in nodes if indegree[n] == 0)
    seen = 0
    while queue:
        node = queue.popleft()
        seen += 1
        for nxt in after[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    if seen == len(nodes):
        return None
    remaining = {n for n in nodes if indegree[n] > 0}
    needs: dict[int, int] = {}
    for job, dep in edges:  # in the remainder every node still waits on another remaining node
        if job in remaining and dep in remaining:
            needs.setdefault(job, dep)
    node, path = next(iter(remaining)), []
    index: dict[int, int] = {}
    while node not in index:
        index[node] = len(path)
        path.append(node)
        node = needs[node]
    return path[index[node]:]


def check_acyclic(*, workflow_id: int) -> None:
    edges = list(JobDependency.objects.filter(job__workflow_id=workflow_id).values_list("job_id", "depends_on_id"))
    cycle = find_cycle(edges)
    if cycle:
        names = dict(Job.objects.filter(pk__in=cycle).values_list("pk", "name"))
        listed = " -> ".join(f"{names.get(i) or i} (#{i})" for i in cycle + cycle[:1])
        raise FieldValidationError(f"the dependency graph has a cycle: {listed}", field="depends_on_job_ids")
