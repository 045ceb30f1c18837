"""Where initialize_jobs spends its time: figure a's workflow (N jobs, N edges, made with the
services) initialized in-process with every SQL statement timed; the slowest are printed. The
initialization is rolled back afterwards.

    python -m bench.diag_initialize [--jobs 100000] [--batch 10000] [--top 12]
"""

import argparse
import time

from . import _server
from ._django import bench_user, django_setup
from .diag_queries import QueryTimer
from .torc_figures import DEFAULT_DSN


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    _server.reset_database(args.dsn, keep=True)
    env = _server.server_env(args.dsn)
    _server.migrate(env)
    django_setup(env)

    from django.db import connection, transaction

    from apps.jobs.services import initialize_workflow, jobs_create
    from apps.workflows.services import workflow_create

    user, _, _ = bench_user()
    workflow = workflow_create(owner=user, name="diag-initialize")
    n, batch = args.jobs, args.batch
    ids: list[int] = []
    create_timer = QueryTimer()
    t0 = time.perf_counter()
    with connection.execute_wrapper(create_timer):
        for b in range(n // batch):
            items = []
            for p in range(batch):
                deps = ([ids[(b - 1) * batch + p]] if b >= 1 else []) + ([ids[(p + 1) % batch]] if b == 1 else [])
                items.append({"name": f"a{b * batch + p}", "command": "true", "depends_on_job_ids": deps})
            ids += jobs_create(workflow=workflow, owner=user, items=items)
    create_s = time.perf_counter() - t0
    workflow.refresh_from_db()
    timer = QueryTimer()
    t1 = time.perf_counter()
    with transaction.atomic():
        with connection.execute_wrapper(timer):
            summary = initialize_workflow(workflow=workflow)
        init_s = time.perf_counter() - t1
        sql_s = sum(d for _, d in timer.queries)
        print(f"services: create {create_s:.2f} s ({sum(d for _, d in create_timer.queries):.2f} s in "
              f"{len(create_timer.queries)} statements); initialize_workflow {init_s:.2f} s, {sql_s:.2f} s in "
              f"{len(timer.queries)} statements, {init_s - sql_s:.2f} s Python; {summary}")
        print("\nslowest statements of initialize_workflow:")
        for sql, seconds in sorted(timer.queries, key=lambda q: -q[1])[:args.top]:
            print(f"  {seconds * 1000:9.1f} ms  {' '.join(sql.split())[:400]}")
        print(f"\nslowest statements of the {n // batch} jobs_create calls:")
        for sql, seconds in sorted(create_timer.queries, key=lambda q: -q[1])[:args.top]:
            print(f"  {seconds * 1000:9.1f} ms  {' '.join(sql.split())[:200]}")
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
