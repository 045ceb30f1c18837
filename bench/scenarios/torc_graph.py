"""Torc's dependency graph as a benchmark subject: bulk creation + initialize_jobs at growing
sizes (scenario 3) and completing jobs that release dependents (scenario 4), over HTTP through
/bulk_jobs, initialize_jobs, start_job and complete_job, and in-process through the services."""

import os
import time

from .. import _server
from .._clients import Api, complete_client
from .._ctx import per_unit
from .._django import pairs_workflow, status_counts
from .._procs import run_clients
from .._util import CpuMeter, Progress, percentiles, postgres_pids


def workflow(api: Api, name: str) -> int:
    workflow_id = api.call("POST", "/workflows", {"name": name, "description": "bench"})["id"]
    api.call("GET", f"/workflows/{workflow_id}")
    return workflow_id


def layout_batches(layout: str, n: int, batch: int):
    """The jobs of a layout in creation order, as batches of (name, [dependency refs]) where a
    ref is the index of an earlier job (a job's dependencies must exist when it is created).

    pairs:    n jobs as n/2 (parent, child) pairs, one edge a pair; parents in even batches,
              child p of batch b depends on job p of batch b-1. Ready n/2, blocked n/2.
    figure_a: n jobs, n edges (bench/README.md figure a). Ready `batch`, blocked n - batch.
    fan_in:   n roots, then one job depending on all of them. Ready n, blocked 1.
    fan_out:  one root, then n jobs depending on it. Ready 1, blocked n."""
    if layout == "fan_in":
        for start in range(0, n, batch):
            yield [(f"r{i}", []) for i in range(start, min(n, start + batch))]
        yield [("sink", list(range(n)))]
        return
    if layout == "fan_out":
        yield [("root", [])]
        for start in range(0, n, batch):
            yield [(f"c{i}", [0]) for i in range(start, min(n, start + batch))]
        return
    assert n % batch == 0, (n, batch)
    for b in range(n // batch):
        items = []
        for p in range(batch):
            deps = []
            if layout == "pairs" and b % 2 == 1:
                deps.append((b - 1) * batch + p)
            elif layout == "figure_a" and b >= 1:
                deps.append((b - 1) * batch + p)
                if b == 1:
                    deps.append((p + 1) % batch)
            items.append((f"j{b * batch + p}", deps))
        yield items


EXPECTED = {  # (ready, blocked, edges) after initialize_jobs
    "pairs": lambda n, batch: (n // 2, n // 2, n // 2),
    "figure_a": lambda n, batch: (batch, n - batch, n),
    "fan_in": lambda n, batch: (n, 1, n),
    "fan_out": lambda n, batch: (1, n, n),
}


def create_and_initialize(ctx, api: Api, layout: str, n: int, batch: int, label: str) -> dict:
    """POST /bulk_jobs batch by batch, then initialize_jobs; one client, requests in sequence."""
    from apps.jobs.models import JobDependency

    workflow_id = workflow(api, f"{layout}-{n}")
    total = n + (1 if layout in ("fan_in", "fan_out") else 0)
    ids: list[int] = []
    per_batch = []
    ctx.spy_start(f"{label}-create")
    meter = ctx.meter()
    progress = Progress(f"{label} POST /bulk_jobs", total)
    meter.start()
    t0 = time.perf_counter()
    for items in layout_batches(layout, n, batch):
        body = {"jobs": [{"workflow_id": workflow_id, "name": name, "command": "true",
                          "depends_on_job_ids": [ids[d] for d in deps]} for name, deps in items]}
        tb = time.perf_counter()
        answer = api.call("POST", "/bulk_jobs", body)
        per_batch.append(time.perf_counter() - tb)
        by_name = {job["name"]: job["id"] for job in answer["jobs"]}
        ids.extend(by_name[name] for name, _ in items)
        progress.update(len(ids))
    create_s = time.perf_counter() - t0
    create_cpu = meter.stop()
    ctx.spy_stop(f"{label}-create")
    progress.finish(f"{create_s:.2f} s")
    ctx.spy_start(f"{label}-initialize")
    meter = ctx.meter()
    progress = Progress(f"{label} POST initialize_jobs", None)
    meter.start()
    t1 = time.perf_counter()
    summary = api.call("POST", f"/workflows/{workflow_id}/initialize_jobs",
                       {"reinitialize": False, "ignore_missing_data": False})
    init_s = time.perf_counter() - t1
    init_cpu = meter.stop()
    ctx.spy_stop(f"{label}-initialize")
    progress.finish(f"{init_s:.2f} s")
    edges = JobDependency.objects.filter(job__workflow_id=workflow_id).count()
    ready, blocked, want_edges = EXPECTED[layout](n, batch)
    ok = (summary.get("ready"), summary.get("blocked"), edges, len(set(ids))) == (ready, blocked, want_edges, total)
    return {"layout": layout, "workflow_id": workflow_id, "jobs": total, "edges": edges, "batch": batch,
            "requests": len(per_batch), "create_s": create_s, "initialize_s": init_s, "total_s": create_s + init_s,
            "per_batch_s": percentiles(per_batch), "initialize_summary": summary, "create_cpu": create_cpu,
            "initialize_cpu": init_cpu, "ids": ids if layout == "fan_out" else None, "verified": ok}


def dag(ctx, n: int, batch: int) -> dict:
    """Scenario 3: n jobs as n/2 dependent pairs (at least one batch of parents and one of
    children: the batch shrinks to n/2 for small n)."""
    batch = min(batch, n // 2)
    api = Api(ctx.port, ctx.key)
    try:
        out = create_and_initialize(ctx, api, "pairs", n, batch, f"torc dag {n:,} jobs")
    finally:
        api.close()
    ctx.cache.setdefault("torc_dag_workflows", {})[n] = out["workflow_id"]
    out.pop("ids")
    return out


def fan_in(ctx, n: int, batch: int) -> dict:
    api = Api(ctx.port, ctx.key)
    try:
        out = create_and_initialize(ctx, api, "fan_in", n, batch, f"torc fan-in {n:,} -> 1")
    finally:
        api.close()
    out.pop("ids")
    return out


# SECTION 4. unblocking


def unblock_service(ctx, n: int) -> dict:
    """In-process: start_job then complete_job for each of n claimed parents, one after another."""
    from apps.jobs.services import complete_job, start_job
    from apps.jobs.states import Status
    from apps.workers.services import compute_node_save
    from apps.workflows.models import Workflow

    progress = Progress(f"torc unblock setup: {n:,} claimed parents + {n:,} children", None)
    workflow_id, parents, children = pairs_workflow(ctx.user, "unblock-service", n)
    node = compute_node_save(workflow_id=workflow_id, hostname="bench-node", num_cpus=4, memory_bytes=8 * 1024**3)
    run_id = Workflow.objects.get(pk=workflow_id).run_id
    progress.finish()
    profiler = ctx.cache.get("profiler")
    meter = CpuMeter({"bench": [os.getpid()], "postgres": lambda: postgres_pids(_server.db_name(ctx.dsn))})
    progress = Progress("torc service start_job + complete_job", n)
    start_s = complete_s = 0.0
    if profiler:
        profiler.enable()
    meter.start()
    t0 = time.perf_counter()
    for done, job_id in enumerate(parents, 1):
        t = time.perf_counter()
        start_job(job_id=job_id, run_id=run_id, compute_node_id=node.pk)
        t1 = time.perf_counter()
        complete_job(job_id=job_id, status=Status.COMPLETED, return_code=0, run_id=run_id, compute_node_id=node.pk,
                     exec_time_minutes=0.01)
        t2 = time.perf_counter()
        start_s += t1 - t
        complete_s += t2 - t1
        if done % 50 == 0:
            progress.update(done)
    elapsed = time.perf_counter() - t0
    cpu = meter.stop()
    if profiler:
        profiler.disable()
    progress.update(n)
    progress.finish(f"{n / elapsed:,.0f}/s")
    parents_after = status_counts(parents, workflow_id=workflow_id)
    children_after = status_counts(children, workflow_id=workflow_id)
    return {"workflow_id": workflow_id, "jobs": n, "seconds": elapsed, "jobs_per_s": n / elapsed,
            "start_s": start_s, "complete_s": complete_s, "complete_jobs_per_s": n / complete_s,
            "cpu": per_unit(cpu, n), "parents_after": parents_after, "children_after": children_after,
            "verified": parents_after == {"completed": n} and children_after == {"ready": n}}


def unblock_http(ctx, n: int) -> dict:
    """Over HTTP: a compute node, and ctx.clients processes each taking a share of the parents:
    PUT start_job then POST complete_job/completed with a ResultModel body, for each."""
    api = Api(ctx.port, ctx.key)
    progress = Progress(f"torc unblock setup: {n:,} claimed parents + {n:,} children", None)
    workflow_id, parents, children = pairs_workflow(ctx.user, "unblock-http", n)
    node_id = api.call("POST", "/compute_nodes", {"workflow_id": workflow_id, "hostname": "bench-node",
                                                  "num_cpus": 4, "memory": "8g", "num_gpus": 0, "num_nodes": 1})["id"]
    run_id = api.call("GET", f"/workflows/{workflow_id}", headers={"X-Torc-Timestamp-Format": "string"})["run_id"]
    api.close()
    progress.finish()
    share = [parents[i::ctx.clients] for i in range(ctx.clients)]
    ctx.spy_start("unblock-http")
    elapsed, reports, cpu = run_clients(
        complete_client, lambda i: (ctx.port, ctx.key, workflow_id, run_id, node_id, share[i]), ctx.clients,
        f"torc HTTP start_job + complete_job, {ctx.clients} clients", n, ctx.meter())
    ctx.spy_stop("unblock-http")
    parents_after = status_counts(parents, workflow_id=workflow_id)
    children_after = status_counts(children, workflow_id=workflow_id)
    starts = [x for r in reports for x in r["starts"]]
    completes = [x for r in reports for x in r["completes"]]
    return {"workflow_id": workflow_id, "jobs": n, "clients": ctx.clients, "seconds": elapsed,
            "jobs_per_s": n / elapsed, "requests_per_s": 2 * n / elapsed, "start_latency": percentiles(starts),
            "complete_latency": percentiles(completes),
            "cpu": per_unit(cpu, n, sum(r["cpu_s"] for r in reports)), "parents_after": parents_after,
            "children_after": children_after,
            "verified": parents_after == {"completed": n} and children_after == {"ready": n}}


def unblock(ctx, n: int) -> dict:
    """Scenario 4: completing n jobs that each release one dependent, in-process and over HTTP."""
    return {"service": unblock_service(ctx, n), "http": unblock_http(ctx, n)}


def fan_out(ctx, n: int, batch: int) -> dict:
    """Scenario 4: one job with n dependents; the seconds of its complete_job request (over HTTP,
    after claim_next_jobs and start_job), which makes all n ready."""
    api = Api(ctx.port, ctx.key)
    try:
        made = create_and_initialize(ctx, api, "fan_out", n, batch, f"torc fan-out 1 -> {n:,}")
        workflow_id, root = made["workflow_id"], made["ids"][0]
        node_id = api.call("POST", "/compute_nodes", {"workflow_id": workflow_id, "hostname": "bench-node",
                                                      "num_cpus": 1, "memory": "1g", "num_gpus": 0,
                                                      "num_nodes": 1})["id"]
        run_id = api.call("GET", f"/workflows/{workflow_id}", headers={"X-Torc-Timestamp-Format": "string"})["run_id"]
        claimed = api.call("POST", f"/workflows/{workflow_id}/claim_next_jobs?num_jobs=1")["jobs"]
        api.call("PUT", f"/jobs/{root}/start_job/{run_id}/{node_id}")
        progress = Progress(f"torc fan-out: complete_job of the root releases {n:,}", None)
        meter = ctx.meter()
        meter.start()
        t0 = time.perf_counter()
        api.call("POST", f"/jobs/{root}/complete_job/completed/{run_id}", {
            "job_id": root, "workflow_id": workflow_id, "run_id": run_id, "compute_node_id": node_id,
            "return_code": 0, "status": "completed", "exec_time_minutes": 0.01,
            "completion_time": "2026-01-01T00:00:00.000Z"})
        seconds = time.perf_counter() - t0
        cpu = meter.stop()
        progress.finish(f"{seconds:.2f} s")
    finally:
        api.close()
    made.pop("ids")
    after = status_counts(workflow_id=workflow_id)
    return {"create": made, "dependents": n, "complete_s": seconds, "released_per_s": n / seconds, "cpu": cpu,
            "statuses_after": after,
            "verified": [j["id"] for j in claimed] == [root] and after == {"completed": 1, "ready": n}}
