"""What one Torc request costs on the server: every SQL statement Drover runs for it (with its
time) and the request's wall time in-process (Django test client, no network, prod settings),
on the bench database. For reading next to a py-spy profile.

    python -m bench.diag_queries [--dsn postgres://postgres@127.0.0.1:55499/drover_bench] [--repeat 200]
"""

import argparse
import statistics
import sys
import time

from . import _server
from ._django import bench_user, django_setup, pairs_workflow, ready_workflow
from .torc_figures import DEFAULT_DSN


class QueryTimer:
    """connection.execute_wrapper: each statement and its round-trip time (execute + fetch of a
    server-side result is not included; Drover's statements return small results)."""

    def __init__(self):
        self.queries: list[tuple[str, float]] = []

    def __call__(self, execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((sql if params is None else f"{sql}  -- {len(params or ())} params",
                                 time.perf_counter() - t))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--repeat", type=int, default=200, help="requests timed for each kind")
    parser.add_argument("--sql", action="store_true", help="print every statement of one request of each kind")
    parser.add_argument("--profile", metavar="KIND", help="cProfile --repeat more requests of one kind (claim100, "
                        "claim1, start, complete, get, loop) and print where their Python time goes")
    args = parser.parse_args(argv)
    _server.reset_database(args.dsn, keep=True)
    env = _server.server_env(args.dsn)
    _server.migrate(env)
    django_setup(env)

    from django.db import connection
    from django.test import Client

    user, key, _ = bench_user()
    client = Client(HTTP_X_API_KEY=key, HTTP_HOST="127.0.0.1")
    n = args.repeat
    ready = ready_workflow(user, "diag-claim", 100 * n + 2 * n + 1)
    pairs_id, parents, _children = pairs_workflow(user, "diag-complete", n + 1)
    node = client.post("/torc-service/v1/compute_nodes", {"workflow_id": pairs_id, "hostname": "diag", "num_cpus": 1,
                                                         "memory": "1g"}, content_type="application/json").json()["id"]
    base = "/torc-service/v1"

    def claim(batch):
        return lambda i: client.post(f"{base}/workflows/{ready}/claim_next_jobs?num_jobs={batch}")

    def start(i):
        return client.put(f"{base}/jobs/{parents[i]}/start_job/0/{node}")

    def complete(i):
        body = {"job_id": parents[i], "workflow_id": pairs_id, "run_id": 0, "return_code": 0, "status": "completed",
                "exec_time_minutes": 0.01, "compute_node_id": node, "completion_time": "2026-01-01T00:00:00.000Z"}
        return client.post(f"{base}/jobs/{parents[i]}/complete_job/completed/0", body,
                           content_type="application/json")

    def get_workflow(i):
        return client.get(f"{base}/workflows/{ready}")

    # the dispatch-only worker's loop (scenario 2): claim 8 by resources, one batch_complete_jobs of them
    loop_id = ready_workflow(user, "diag-loop", 8 * n + 8)
    loop_node = client.post(f"{base}/compute_nodes", {"workflow_id": loop_id, "hostname": "diag-loop", "num_cpus": 8,
                                                      "memory_gb": 8.0}, content_type="application/json").json()["id"]
    resources = {"id": loop_node, "num_cpus": 8, "memory_gb": 8.0, "num_gpus": 0, "num_nodes": 1}
    claimed: list[list[int]] = []

    def claim_resources(i):
        response = client.post(f"{base}/workflows/{loop_id}/claim_jobs_based_on_resources/8", resources,
                               content_type="application/json")
        claimed.append([job["id"] for job in response.json()["jobs"]])
        return response

    def batch_complete(i):
        completions = [{"job_id": job, "run_id": 0, "status": "completed", "result": {
            "job_id": job, "workflow_id": loop_id, "run_id": 0, "compute_node_id": loop_node, "return_code": 0,
            "status": "completed", "exec_time_minutes": 0.0, "completion_time": "2026-01-01T00:00:00.000Z"}}
            for job in claimed[i]]
        return client.post(f"{base}/workflows/{loop_id}/batch_complete_jobs", {"completions": completions},
                           content_type="application/json")

    # the same claim with 20,000 ready jobs: its cost must not grow with the queue (it once sorted them all)
    deep_id = ready_workflow(user, "diag-deep", 20_000)
    deep_node = client.post(f"{base}/compute_nodes", {"workflow_id": deep_id, "hostname": "diag-deep", "num_cpus": 8,
                                                      "memory_gb": 8.0}, content_type="application/json").json()["id"]

    def claim_deep(i):
        return client.post(f"{base}/workflows/{deep_id}/claim_jobs_based_on_resources/8",
                           {**resources, "id": deep_node}, content_type="application/json")

    kinds = [("GET workflows/{id}", get_workflow), ("claim_next_jobs num_jobs=100", claim(100)),
             ("claim_next_jobs num_jobs=1", claim(1)), ("start_job", start), ("complete_job", complete),
             ("claim_jobs_based_on_resources 8", claim_resources), ("batch_complete_jobs 8", batch_complete),
             ("claim_..._resources 8 of 20,000", claim_deep)]
    print(f"{'request':<32} {'queries':>7} {'sql ms':>7} {'wall ms':>8} {'python ms':>9}   (median of {n})")
    details = {}
    for name, call in kinds:
        counts, sql_ms, wall_ms = [], [], []
        for i in range(n):
            timer = QueryTimer()
            with connection.execute_wrapper(timer):
                t = time.perf_counter()
                response = call(i)
                wall = time.perf_counter() - t
            assert response.status_code == 200, (name, response.status_code, response.content[:300])
            counts.append(len(timer.queries))
            sql_ms.append(sum(d for _, d in timer.queries) * 1000)
            wall_ms.append(wall * 1000)
            if i == n // 2:
                details[name] = timer.queries
        med = statistics.median
        print(f"{name:<32} {med(counts):>7.0f} {med(sql_ms):>7.2f} {med(wall_ms):>8.2f} {med(wall_ms) - med(sql_ms):>9.2f}")
    if args.profile:
        import cProfile
        import pstats

        by_key = {"get": get_workflow, "claim100": claim(100), "claim1": claim(1)}
        if args.profile == "loop":  # the dispatch-only worker's claim + batch_complete_jobs, n more times
            loop_id = ready_workflow(user, "diag-loop-profile", 8 * n + 8)
            resources["id"] = loop_node = client.post(f"{base}/compute_nodes", {
                "workflow_id": loop_id, "hostname": "diag-loop-profile", "num_cpus": 8, "memory_gb": 8.0},
                content_type="application/json").json()["id"]
            claimed.clear()
            by_key["loop"] = lambda i: (claim_resources(i), batch_complete(i))
        if args.profile in ("start", "complete"):
            pairs_id, parents, _ = pairs_workflow(user, "diag-profile", n)
            node = client.post(f"{base}/compute_nodes", {"workflow_id": pairs_id, "hostname": "diag"},
                               content_type="application/json").json()["id"]
            if args.profile == "complete":
                for i in range(n):
                    start(i)
        by_key.update({"start": start, "complete": complete})
        call = by_key[args.profile]
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(n):
            call(i)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"\n== cProfile of {n} x {args.profile}: by own time")
        stats.sort_stats("tottime").print_stats(25)
        print(f"== cProfile of {n} x {args.profile}: cumulative")
        stats.sort_stats("cumulative").print_stats(60)
    if args.sql:
        for name, queries in details.items():
            print(f"\n== {name}: {len(queries)} statements")
            for sql, seconds in queries:
                print(f"  {seconds * 1000:6.2f} ms  {sql[:260]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
