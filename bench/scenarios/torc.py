"""Torc (/torc-service/v1) as a benchmark subject: claims (1), end-to-end no-op jobs with the
real run_worker or the dispatch-only client (2), read paths (5). The graph scenarios (3, 4) are
in torc_graph and exported from here."""

import sys
import time

from .._clients import Api, claim_client, read_client, request_client, torc_noop_worker
from .._ctx import per_unit, step
from .._django import last_finished, ready_workflow, status_counts
from .._procs import Workers, run_clients
from .._util import ROOT, Progress, percentiles
from . import Skip
from .torc_graph import dag, fan_in, fan_out, unblock  # noqa: F401 - the dialect's scenarios 3 and 4

E2E_MODES = ("worker", "noop")  # run_worker running `true`; the dispatch-only HTTP client
E2E_SUBMIT_BATCH = 1_000
WORKER_SLOTS = 8  # run_worker --cpus: jobs a worker process runs at once (each job asks 1 cpu)
STATUSES = ("uninitialized", "blocked", "ready", "pending", "running", "completed", "failed", "canceled",
            "terminated", "disabled")


def available(ctx) -> str | None:
    return None  # Torc is complete in Drover; each scenario checks its own needs


# SECTION 1. claims


def claim(ctx, n: int, batch: int) -> dict:
    """A workflow of n ready jobs (services, untimed) drained by ctx.clients processes calling
    claim_next_jobs?num_jobs=batch until they get an empty list."""
    from apps.jobs.states import Status

    progress = Progress(f"torc setup: {n:,} ready jobs (services)", None)
    workflow_id = ready_workflow(ctx.user, f"claim-b{batch}", n)
    progress.finish()
    ctx.spy_start(f"torc-claim-{batch}")
    elapsed, reports, cpu = run_clients(claim_client, lambda i: (ctx.port, ctx.key, workflow_id, batch),
                                        ctx.clients, f"torc HTTP claim_next_jobs?num_jobs={batch}", n, ctx.meter())
    ctx.spy_stop(f"torc-claim-{batch}")
    every = [job_id for r in reports for job_id in r["ids"]]
    counts = status_counts(workflow_id=workflow_id)
    requests = sum(len(r["latencies"]) for r in reports)
    return {"what": f"Torc claim_next_jobs?num_jobs={batch}", "workflow_id": workflow_id, "jobs": n, "batch": batch,
            "clients": ctx.clients, "seconds": elapsed, "jobs_per_s": len(every) / elapsed, "requests": requests,
            "requests_per_s": requests / elapsed, "claimed": len(every), "duplicates": len(every) - len(set(every)),
            "per_client": [len(r["ids"]) for r in reports],
            "latency": percentiles([x for r in reports for x in r["latencies"]]),
            "cpu": per_unit(cpu, requests, sum(r["cpu_s"] for r in reports)),
            "statuses_after": counts, "verified": len(every) == len(set(every)) == n
            and counts == {Status.PENDING.label: n}}


def floor(ctx, requests: int) -> dict:
    """Context for claims: the same cheap request from the same clients. GET /ping (no auth, no
    database) is gunicorn + Django + DRF; GET /workflows/{id} adds the API key and one query."""
    from apps.workflows.services import workflow_create

    step(f"1. (context) HTTP floor: {requests:,} requests of each kind, {ctx.clients} client processes")
    workflow_id = workflow_create(owner=ctx.user, name="floor").pk
    out = {}
    per_client = requests // ctx.clients
    for name, path in (("ping", "/ping"), ("get_workflow", f"/workflows/{workflow_id}")):
        elapsed, reports, cpu = run_clients(
            request_client, lambda i, path=path: (ctx.port, ctx.key, workflow_id, "GET", path, per_client), ctx.clients,
            f"torc HTTP GET {path.replace(str(workflow_id), '{id}')}", per_client * ctx.clients, ctx.meter(),
            unit="requests")
        n = per_client * ctx.clients
        out[name] = {"path": path, "requests": n, "seconds": elapsed, "requests_per_s": n / elapsed,
                     "latency": percentiles([x for r in reports for x in r["latencies"]]),
                     "cpu": per_unit(cpu, n, sum(r["cpu_s"] for r in reports))}
    return out


# SECTION 2. end-to-end no-op jobs


def _submit(api: Api, workflow_id: int, n: int, on_first=None) -> dict:
    """POST /bulk_jobs in batches, then initialize_jobs (the jobs become ready): Torc's submit."""
    t0 = time.time()
    for start in range(0, n, E2E_SUBMIT_BATCH):
        items = [{"workflow_id": workflow_id, "name": f"e{i}", "command": "true"}
                 for i in range(start, min(n, start + E2E_SUBMIT_BATCH))]
        api.call("POST", "/bulk_jobs", {"jobs": items})
        if start == 0 and on_first is not None:
            on_first()
    summary = api.call("POST", f"/workflows/{workflow_id}/initialize_jobs",
                       {"reinitialize": False, "ignore_missing_data": False})
    return {"t0": t0, "submit_s": time.time() - t0, "ready": summary.get("ready")}


def _worker_command(ctx, workflow_id: int) -> list[str]:
    return [sys.executable, "manage.py", "run_worker", "--url", ctx.server.base, "--workflow", str(workflow_id),
            "--cpus", str(WORKER_SLOTS), "--memory", "8g", "--poll", "0.05", "--heartbeat", "30"]


def worker_env(ctx) -> dict:
    """A worker host's environment: no database, no broker; the API key as credentials."""
    import os

    keep = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE",
                                                              "SECRET_KEY")}
    return {**keep, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "false", "LOG_LEVEL": "WARNING",
            "DROVER_API_KEY": ctx.key, "PYTHONPATH": str(ROOT)}


def end_to_end(ctx, n: int, procs: int, mode: str) -> dict:
    """n jobs of `true` submitted in batches of 1,000 (bulk_jobs, then initialize_jobs); procs
    workers claim, run and report them; from the first submit to the last completion."""
    from apps.workers.models import ComputeNode

    api = Api(ctx.port, ctx.key)
    workflow_id = api.call("POST", "/workflows", {"name": f"e2e-{mode}-{n}-{procs}", "description": "bench 2"})["id"]
    run_id = api.call("GET", f"/workflows/{workflow_id}", headers={"X-Torc-Timestamp-Format": "string"})["run_id"]
    label = f"torc {n:,} jobs, {procs} {'run_worker' if mode == 'worker' else 'no-op client'}s"
    rss = ctx.rss()
    meter = ctx.meter()
    ctx.spy_start(f"e2e-torc-{mode}-{n}-{procs}")
    if mode == "noop":
        out: dict = {}
        _, reports, cpu = run_clients(
            torc_noop_worker, lambda i: (ctx.port, ctx.key, workflow_id, run_id, WORKER_SLOTS, n), procs, label, n,
            meter, during=lambda: _submit(api, workflow_id, n), rss=rss)
        submitted = reports[0]["during"]
        out["claims"] = sum(r["claims"] for r in reports)
        out["empty_claims"] = sum(r["empty_claims"] for r in reports)
        out["clients_cpu_s"] = round(sum(r["cpu_s"] for r in reports), 3)
        memory = rss.stop()
        workers_exit = [0] * procs
    else:
        workers = Workers([_worker_command(ctx, workflow_id)] * procs, worker_env(ctx), ROOT, ctx.log_dir,
                          f"torc-worker-{n}")
        rss.groups["worker"] = workers.pids
        progress = Progress(label, n)
        rss.start(reset=True)
        meter.start()
        boot = {}

        def start_workers():
            workers.start()
            boot["t"] = time.perf_counter()

        try:
            submitted = _submit(api, workflow_id, n, on_first=start_workers)
            while ComputeNode.objects.filter(workflow_id=workflow_id).count() < procs and not workers.failed():
                time.sleep(0.05)
            boot["s"] = time.perf_counter() - boot["t"]
            while True:
                done, _ = last_finished(workflow_id=workflow_id)
                progress.update(done)
                if done >= n or workers.failed():
                    break
                time.sleep(0.2)
            rss.sample_now()
            finished_in_time = workers.wait(60)  # they leave by themselves once the workflow is complete
        finally:
            workers_exit = workers.stop()
        cpu = meter.stop()
        memory = rss.stop()
        if workers.failed() and not finished_in_time:
            raise SystemExit(f"{label}: {workers.failed()}")
        out = {"worker_boot_s": round(boot.get("s", 0.0), 3), "worker_logs": [str(p) for p in workers.logs],
               "worker_command": " ".join(_worker_command(ctx, workflow_id)[1:])}
        progress.finish()
    api.close()
    ctx.spy_stop(f"e2e-torc-{mode}-{n}-{procs}")
    done, last = last_finished(workflow_id=workflow_id)
    seconds = last - submitted["t0"]
    counts = status_counts(workflow_id=workflow_id)
    return {"dialect": "torc", "mode": mode, "n": n, "procs": procs, "slots_per_worker": WORKER_SLOTS,
            "workflow_id": workflow_id, "seconds": seconds, "jobs_per_s": n / seconds,
            "submit_s": submitted["submit_s"], "memory": memory, "cpu": per_unit(cpu, n), **out,
            "workers_exit": workers_exit, "statuses_after": counts,
            "verified": counts == {"completed": n} and submitted["ready"] == n}


# SECTION 5. read paths


def _read(ctx, label: str, requests: list, items_key, id_key, warm) -> tuple[float, list[dict], dict]:
    share = [requests[i::ctx.clients] for i in range(ctx.clients)]
    return run_clients(read_client, lambda i: (ctx.port, "/torc-service/v1", {"X-API-Key": ctx.key}, warm, share[i],
                                               items_key, id_key),
                       ctx.clients, label, len(requests), ctx.meter(), unit="requests")


def reads(ctx, sizes: dict) -> dict:
    """list_jobs page by page through the scenario-3 workflow of sizes["list_jobs"] jobs, and
    per-status counts (list_jobs?status=S&limit=0: total_count) of the largest one."""
    workflows = ctx.cache.get("torc_dag_workflows") or {}
    list_n, page = sizes["list_jobs"], sizes["page"]
    if list_n not in workflows:
        raise Skip(f"no {list_n:,}-job workflow from scenario 3 to read (run the dag group first)")
    count_n = max(workflows)
    out = {}
    wf = workflows[list_n]
    warm = ("GET", f"/workflows/{wf}", None)
    requests = [("GET", f"/jobs?workflow_id={wf}&offset={off}&limit={page}", None) for off in range(0, list_n, page)]
    elapsed, reports, cpu = _read(ctx, f"torc list_jobs {list_n:,} jobs, pages of {page:,}", requests, "items", "id",
                                  warm)
    ids = [x for r in reports for x in r["ids"]]
    latencies = [x for r in reports for x in r["latencies"]]
    out["list"] = {"what": f"list_jobs of {list_n:,} jobs, pages of {page:,}", "jobs": list_n, "page": page,
                   "requests": len(requests), "seconds": elapsed, "requests_per_s": len(requests) / elapsed,
                   "jobs_per_s": len(ids) / elapsed, "latency": percentiles(latencies),
                   "cpu": per_unit(cpu, len(requests)), "verified": len(ids) == len(set(ids)) == list_n}
    wf = workflows[count_n]
    rounds = sizes["count_rounds"]
    requests = [("GET", f"/jobs?workflow_id={wf}&status={s}&limit=0", None) for _ in range(rounds) for s in STATUSES]
    elapsed, reports, cpu = _read(ctx, f"torc count per status of {count_n:,} jobs x{rounds}", requests, None, None,
                                  ("GET", f"/workflows/{wf}", None))
    totals = [a["total_count"] for r in reports for a in r["answers"]]
    out["count"] = {"what": f"jobs per status of a {count_n:,}-job workflow ({len(STATUSES)} list_jobs?status=S"
                            f"&limit=0 a round)", "jobs": count_n, "rounds": rounds, "requests": len(requests),
                    "seconds": elapsed, "requests_per_s": len(requests) / elapsed,
                    "latency": percentiles([x for r in reports for x in r["latencies"]]),
                    "cpu": per_unit(cpu, len(requests)), "verified": sum(totals) == count_n * rounds}
    return out
