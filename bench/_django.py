"""The in-process side of the benchmarks: Django on the bench database, for untimed setup made
with the services, for checking what the server did, and for the in-process figures."""

import os
import platform


def django_setup(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def bench_user() -> tuple[object, str, str]:
    """A fresh user (its personal group included), an API key for Torc and a password for
    Mitosis' /login; allowed enough groups for every Mitosis scenario."""
    import secrets

    from apps.groups.services import api_key_create, user_change_group_quota, user_create

    name = "bench_" + secrets.token_hex(4)
    password = secrets.token_urlsafe(16)
    user = user_create(username=name, password=password)
    user_change_group_quota(username=name, change=("set", 1000))
    user.refresh_from_db()
    _, key = api_key_create(user=user, name="bench")
    return user, key, password


def mitosis_group(user, name: str) -> str:
    """A group of the bench user for one scenario's tasks: workers of the scenario join it alone
    (the personal group, which every worker of the user also serves, stays empty)."""
    from apps.groups.services import group_create

    return group_create(creator=user, name=name).name


def analyze() -> None:
    """Fresh planner statistics for the Drover tables, as autovacuum would give a running server."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table_name in ("drover_job", "drover_job_dependency", "drover_event", "drover_result"):
            cursor.execute(f"ANALYZE {table_name}")


def ready_workflow(user, name: str, n: int) -> int:
    """A workflow of n independent jobs, initialized (all ready); priorities 0..9 as the raw bench."""
    from apps.jobs.services import initialize_workflow, jobs_create
    from apps.workflows.services import workflow_create

    workflow = workflow_create(owner=user, name=name)
    for start in range(0, n, 10_000):
        jobs_create(workflow=workflow, owner=user, items=[{"name": f"{name}-{i}", "command": "true",
                                                           "priority": i % 10}
                                                          for i in range(start, min(n, start + 10_000))])
    workflow.refresh_from_db()
    summary = initialize_workflow(workflow=workflow)
    assert summary["ready"] == n, summary
    analyze()
    return workflow.pk


def pairs_workflow(user, name: str, n: int, *, claim_parents: bool = True) -> tuple[int, list[int], list[int]]:
    """n parents (claimed, as a runner holds them) and n children, child k depending on parent k."""
    from apps.jobs.services import Scope, claim, initialize_workflow, jobs_create
    from apps.workflows.services import workflow_create

    workflow = workflow_create(owner=user, name=name)
    parents, children = [], []
    for start in range(0, n, 10_000):
        stop = min(n, start + 10_000)
        parents += jobs_create(workflow=workflow, owner=user,
                               items=[{"name": f"p{i}", "command": "true"} for i in range(start, stop)])
    for start in range(0, n, 10_000):
        stop = min(n, start + 10_000)
        children += jobs_create(workflow=workflow, owner=user,
                                items=[{"name": f"c{i}", "command": "true", "depends_on_job_ids": [parents[i]]}
                                       for i in range(start, stop)])
    workflow.refresh_from_db()
    summary = initialize_workflow(workflow=workflow)
    assert (summary["ready"], summary["blocked"]) == (n, n), summary
    if claim_parents:
        claimed = claim(scope=Scope(workflow_id=workflow.pk), claimer="bench-runner", limit=n)
        assert sorted(claimed) == sorted(parents)
    analyze()
    return workflow.pk, parents, children


def status_counts(ids: list[int] | None = None, **filters) -> dict[str, int]:
    """Jobs per status label, of a workflow (workflow_id=...), a group (group__name=...) or ids."""
    from django.db.models import Count

    from apps.jobs.models import Job
    from apps.jobs.states import Status

    qs = Job.objects.filter(**filters)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return {Status(s).label: n for s, n in qs.values_list("status").annotate(n=Count("id")).order_by()}


def last_finished(**filters) -> tuple[int, float | None]:
    """How many jobs are finished and the epoch seconds of the last one (the server's clock is
    this machine's)."""
    from django.db.models import Count, Max

    from apps.jobs.models import Job

    row = Job.objects.filter(finished_at__isnull=False, **filters).aggregate(n=Count("id"), last=Max("finished_at"))
    return row["n"], (row["last"].timestamp() if row["last"] else None)


def versions() -> dict:
    import django
    import psycopg
    import rest_framework
    from django.db import connection

    def version(name: str) -> str | None:
        try:
            from importlib.metadata import version as v

            return v(name)
        except Exception:  # noqa: BLE001 - not installed
            return None

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_full = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections", "work_mem"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    return {"python": platform.python_version(), "django": django.get_version(),
            "djangorestframework": rest_framework.VERSION, "psycopg": psycopg.__version__,
            "gunicorn": version("gunicorn"), "celery": version("celery"), "redis-py": version("redis"),
            "procrastinate": version("procrastinate"), "matplotlib": version("matplotlib"),
            "postgres": pg, "postgres_full": pg_full, "postgres_settings": settings}
