"""The dependency graph: initialization, unblocking after completion, cancellation cascades and
resets. Every step is a set-based statement over the edges (no Python loop per dependent);
cascades loop once per DAG level."""

from collections import defaultdict, deque

from django.db import connection
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.exceptions import FieldValidationError

from ..models import Job, JobDependency
from ..states import ACTIVE, COMPLETE, UNSUCCESSFUL, Status

CHUNK = 5000  # ids per IN (...) list: SQLite allows 32766 parameters, PostgreSQL plans large lists slowly


def chunks(ids: list[int], size: int = CHUNK):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# SECTION after jobs finish


def release_dependents(*, succeeded: list[int], failed: list[int]) -> dict:
    """Jobs just reached a complete status: unblock, or cancel, the jobs that wait on them.

    A dependent with cancel_on_blocking_job_failure whose blocker failed is canceled, and so on
    down the graph; any other blocked dependent loses one unfinished dependency per finished
    blocker and becomes ready at zero. Returns counts for the event log.
    """
    now = timezone.now()
    canceled: list[int] = []
    frontier = list(failed)
    while frontier:  # one round per level of the cascade
        newly = []
        for part in chunks(frontier):
            edges = JobDependency.objects.filter(depends_on_id__in=part)
            newly += _update_returning_ids(
                Job.objects.filter(pk__in=edges.values("job_id"), status=Status.BLOCKED,
                                   cancel_on_blocking_job_failure=True),
                status=Status.CANCELED, finished_at=now,
            )
        canceled += newly
        frontier = newly
    finished = list(succeeded) + list(failed) + canceled
    unblocked = 0
    for part in chunks(finished):
        unblocked += _count_down(part, now)
    return {"unblocked": unblocked, "canceled": len(canceled)}


def _count_down(finished: list[int], now) -> int:
    """One statement: each blocked dependent of `finished` loses one unfinished dependency per
    finished blocker and turns ready at zero. Returns how many turned ready."""
    table, deps = Job._meta.db_table, JobDependency._meta.db_table
    marks = ", ".join(["%s"] * len(finished))
    ready_at = Job._meta.get_field("ready_at").get_db_prep_save(now, connection)
    sql = (
        f"UPDATE {table} SET unfinished_deps = {table}.unfinished_deps - c.n, "
        f"status = CASE WHEN {table}.unfinished_deps - c.n = 0 THEN %s ELSE {table}.status END, "
        f"ready_at = CASE WHEN {table}.unfinished_deps - c.n = 0 THEN %s ELSE {table}.ready_at END "
        f"FROM (SELECT job_id, COUNT(*) AS n FROM {deps} WHERE depends_on_id IN ({marks}) GROUP BY job_id) c "
        f"WHERE {table}.id = c.job_id AND {table}.status = %s RETURNING {table}.status"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(Status.READY), ready_at, *finished, int(Status.BLOCKED)])
        return sum(1 for (status,) in cursor.fetchall() if status == Status.READY)


def _update_returning_ids(queryset, **values) -> list[int]:
    """UPDATE ... RETURNING id in one statement (PostgreSQL and SQLite >= 3.35 both have it)."""
    query = queryset.values("pk").query
    inner_sql, params = query.sql_with_params()
    table = Job._meta.db_table
    sets, set_params = [], []
    for field_name, value in values.items():
        column = Job._meta.get_field(field_name).column
        sets.append(f'"{column}" = %s')
        set_params.append(Job._meta.get_field(field_name).get_db_prep_save(value, connection))
    sql = f'UPDATE "{table}" SET {", ".join(sets)} WHERE "id" IN ({inner_sql}) RETURNING "id"'
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_params, *params])
        return [row[0] for row in cursor.fetchall()]


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
        sql = (
            f"WITH RECURSIVE down(id) AS ({seed} "
            f"UNION SELECT d.job_id FROM {deps} d JOIN down ON d.depends_on_id = down.id) "
            f"UPDATE {table} SET status = %s, unfinished_deps = 0, ready_at = NULL, exit_code = NULL, "
            f"finished_at = NULL, claimed_by = '', lease_expires_at = NULL "
            f"WHERE id IN (SELECT id FROM down) AND status NOT IN (%s, %s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*part, int(Status.UNINITIALIZED), *active])
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
