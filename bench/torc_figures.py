"""Torc figures of Drover on PostgreSQL, measured against a real server (gunicorn, prod settings).

    python -m bench.torc_figures [--quick] [--dsn postgres://postgres@127.0.0.1:55499/drover_bench]

a. create N jobs with N dependency edges through POST /bulk_jobs (batches), then initialize_jobs
b. claim_next_jobs over HTTP from 4 client processes until a workflow is drained, against the raw
   PostgreSQL claim limit (/work/shared/bench/pg_claim_limit.py) measured in the same run
c. completing N jobs that each unblock one dependent: service layer in-process, and over HTTP
   (start_job + complete_job from 4 client processes)

bench/README.md says what each figure means. Results: a table on stdout and
bench/results/torc-<UTC date-time>.json.
"""

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import platform
import queue
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import _server
from ._clients import Api, claim_client, complete_client, request_client
from ._util import (ROOT, CpuMeter, Progress, busy_fraction, git, machine_info, percentiles, postgres_pids,
                    table, wait_quiet)

DEFAULT_DSN = "postgres://postgres@127.0.0.1:55499/drover_bench"
PG_CLAIM_LIMIT = Path(os.environ.get("PG_CLAIM_LIMIT", "/work/shared/bench/pg_claim_limit.py"))
RESULTS = ROOT / "bench" / "results"

FULL = {"a_jobs": 100_000, "a_batch": 10_000, "b_jobs": 20_000, "b_batch": 100, "b1_jobs": 3_000,
        "c_jobs": 10_000}
QUICK = {"a_jobs": 10_000, "a_batch": 1_000, "b_jobs": 2_000, "b_batch": 100, "b1_jobs": 300, "c_jobs": 1_000}
TARGETS = {"a_total_s": 20.0, "b_ratio": 0.35, "b1_ratio": 0.25}


QUIET = {"max_wait_s": 0.0, "seen": []}


def step(title: str) -> None:
    """A step's heading; with --wait-quiet, first wait for the shared machine to calm down."""
    seen = wait_quiet(QUIET["max_wait_s"]) if QUIET["max_wait_s"] else {"busy_before": round(busy_fraction(0.5), 3)}
    QUIET["seen"].append({"step": title.split(" ", 1)[0], **seen})
    waited = f", waited {seen['waited_s']:.0f} s" if seen.get("waited_s") else ""
    sys.stderr.write(f"\n{title}  (machine {seen['busy_before']:.0%} busy{waited})\n")
    sys.stderr.flush()


class Ctx:
    """What the steps share: the server, the API key, the optional py-spy sampler."""

    def __init__(self, server, key: str, user, dsn: str, clients: int, spy=None):
        self.server, self.key, self.user, self.dsn, self.clients, self.spy = server, key, user, dsn, clients, spy
        self.profiles: dict[str, list[str]] = {}

    def meter(self, **extra) -> CpuMeter:
        """gunicorn (master + workers) and PostgreSQL (the bench database's backends, autovacuum
        and the background processes), found again at every sample: Django reconnects every
        CONN_MAX_AGE seconds."""
        server, name = self.server, _server.db_name(self.dsn)
        return CpuMeter({"gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
                         "postgres": lambda: postgres_pids(name), **extra})

    def spy_start(self, name: str) -> None:
        if self.spy:
            self.spy.start(name, self.server.worker_pids())

    def spy_stop(self, name: str) -> None:
        if self.spy:
            self.profiles[name] = self.spy.stop()


def per_unit(cpu: dict, units: int, clients_cpu_s: float | None = None) -> dict:
    """CPU milliseconds per request (or job) of each group, for the report."""
    out = dict(cpu)
    if clients_cpu_s is not None:
        out["clients_cpu_s"] = round(clients_cpu_s, 3)
    known = sum(v for k, v in out.items() if k.endswith("_cpu_s"))
    out["other_cpu_s"] = round(max(0.0, out["machine_busy_s"] - known), 3)
    out["per_unit_ms"] = {k[:-6]: round(1000 * v / units, 3) for k, v in out.items() if k.endswith("_cpu_s")}
    out["per_unit_ms"]["machine_busy"] = round(1000 * out["machine_busy_s"] / units, 3)
    return out


# SECTION the in-process side: Django on the bench database (setup, verification, figure c.i)


def django_setup(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def bench_user() -> tuple[object, str]:
    import secrets

    from apps.groups.models import User
    from apps.groups.services import api_key_create, user_create

    name = "bench_" + secrets.token_hex(4)
    user = User.objects.filter(username=name).first() or user_create(username=name,
                                                                     password=secrets.token_urlsafe(16))
    _, key = api_key_create(user=user, name="bench")
    return user, key


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


def pairs_workflow(user, name: str, n: int) -> tuple[int, list[int], list[int]]:
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
    claimed = claim(scope=Scope(workflow_id=workflow.pk), claimer="bench-runner", limit=n)
    assert sorted(claimed) == sorted(parents)
    analyze()
    return workflow.pk, parents, children


def status_counts(workflow_id: int, ids: list[int] | None = None) -> dict[str, int]:
    from django.db.models import Count

    from apps.jobs.models import Job
    from apps.jobs.states import Status

    qs = Job.objects.filter(workflow_id=workflow_id)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return {Status(s).label: n for s, n in qs.values_list("status").annotate(n=Count("id")).order_by()}


def versions() -> dict:
    import django
    import psycopg
    import rest_framework
    from django.db import connection

    try:
        from importlib.metadata import version

        gunicorn_version = version("gunicorn")
    except Exception:  # noqa: BLE001
        gunicorn_version = None
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
            "gunicorn": gunicorn_version, "postgres": pg, "postgres_full": pg_full, "postgres_settings": settings}


# SECTION client processes


def run_clients(target, args_for, n_clients: int, label: str, total: int, meter: CpuMeter | None = None,
                unit: str = "jobs") -> tuple[float, list[dict], dict | None]:
    """Start n client processes (spawn), release them together, wait for all; returns the wall
    time from release to the last report, the reports and the CPU used meanwhile."""
    ctx = mp.get_context("spawn")
    barrier, counter, results = ctx.Barrier(n_clients + 1), ctx.Value("q", 0), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier, counter, results, i), daemon=True)
             for i in range(n_clients)]
    for p in procs:
        p.start()
    progress = Progress(label, total, unit)
    try:
        barrier.wait(timeout=180)
    except Exception:  # noqa: BLE001 - a client failed during warm-up; its report says why
        pass
    if meter:
        meter.start()
    t0 = time.perf_counter()
    progress.t0 = t0
    reports = []
    while len(reports) < n_clients:
        try:
            reports.append(results.get(timeout=0.2))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
        progress.update(counter.value)
    elapsed = time.perf_counter() - t0
    cpu = meter.stop() if meter else None
    for p in procs:
        p.join(timeout=30)
    errors = [r["error"] for r in reports if r["error"]]
    if errors or len(reports) < n_clients:
        progress.finish("! failed")
        raise SystemExit(f"{label}: client failure: {errors or 'a client died without reporting'}")
    progress.update(counter.value)
    progress.finish(f"{total / elapsed:,.0f}/s")
    return elapsed, sorted(reports, key=lambda r: r["index"]), cpu


def raw_claim_limit(dsn: str, n: int, batch: int, procs: int, label: str) -> dict:
    progress = Progress(label, None)
    meter = CpuMeter({})
    meter.start()
    done = subprocess.run([sys.executable, str(PG_CLAIM_LIMIT), dsn, str(n), str(batch), str(procs)],
                          capture_output=True, text=True, timeout=900)
    match = re.search(r"jobs=(\d+) .*seconds=([\d.]+) jobs_per_s=(\d+) double_or_missed=(\d+)", done.stdout)
    if done.returncode or not match:
        progress.finish("! failed")
        raise SystemExit(f"{PG_CLAIM_LIMIT} failed: {done.stdout}\n{done.stderr}")
    out = {"jobs": int(match[1]), "seconds": float(match[2]), "jobs_per_s": int(match[3]),
           "double_or_missed": int(match[4]), "output": done.stdout.strip(), "cpu": meter.stop()}
    progress.finish(f"{out['jobs_per_s']:,}/s")
    return out


# SECTION figures


def figure_a(ctx: Ctx, api: Api, n: int, batch: int) -> dict:
    """n jobs, n edges, through POST /bulk_jobs in batches, then initialize_jobs.

    Layout (ids are only known after a batch is created, so edges point to earlier batches):
    batch 0 holds the roots; job (b, p) of batch b >= 1 depends on job (b-1, p); the jobs of
    batch 1 also depend on root (p+1) mod batch. Edges: (n/batch - 1) * batch + batch = n;
    depth n/batch; after initialization batch 0 is ready and the rest blocked."""
    from apps.jobs.models import JobDependency

    step(f"a. {n:,} jobs with {n:,} edges: bulk_jobs in batches of {batch:,}, then initialize_jobs")
    assert n % batch == 0
    workflow_id = api.call("POST", "/workflows", {"name": "fig-a", "description": "bench figure a"})["id"]
    api.call("GET", f"/workflows/{workflow_id}")
    ids: list[int] = []
    per_batch = []
    ctx.spy_start("a-create")
    meter = ctx.meter()
    progress = Progress(f"a. POST /bulk_jobs x{n // batch}", n)
    meter.start()
    t0 = time.perf_counter()
    for b in range(n // batch):
        items = []
        for p in range(batch):
            deps = []
            if b >= 1:
                deps.append(ids[(b - 1) * batch + p])
            if b == 1:
                deps.append(ids[(p + 1) % batch])
            items.append({"workflow_id": workflow_id, "name": f"a{b * batch + p}", "command": "true",
                          "depends_on_job_ids": deps})
        tb = time.perf_counter()
        body = api.call("POST", "/bulk_jobs", {"jobs": items})
        per_batch.append(time.perf_counter() - tb)
        by_name = {job["name"]: job["id"] for job in body["jobs"]}
        ids.extend(by_name[f"a{b * batch + p}"] for p in range(batch))
        progress.update(len(ids))
    create_s = time.perf_counter() - t0
    create_cpu = meter.stop()
    ctx.spy_stop("a-create")
    progress.finish(f"{create_s:.2f} s")
    ctx.spy_start("a-initialize")
    meter = ctx.meter()
    progress = Progress("a. POST initialize_jobs", None)
    meter.start()
    t1 = time.perf_counter()
    summary = api.call("POST", f"/workflows/{workflow_id}/initialize_jobs",
                       {"reinitialize": False, "ignore_missing_data": False})
    init_s = time.perf_counter() - t1
    init_cpu = meter.stop()
    ctx.spy_stop("a-initialize")
    progress.finish(f"{init_s:.2f} s")
    edges = JobDependency.objects.filter(job__workflow_id=workflow_id).count()
    ok = (summary.get("ready"), summary.get("blocked"), edges, len(set(ids))) == (batch, n - batch, n, n)
    return {"workflow_id": workflow_id, "jobs": n, "edges": edges, "batch": batch, "create_s": create_s,
            "initialize_s": init_s, "total_s": create_s + init_s, "per_batch_s": per_batch,
            "initialize_summary": summary, "create_cpu": create_cpu, "initialize_cpu": init_cpu, "verified": ok}


def claim_http(ctx: Ctx, n: int, batch: int, label: str) -> dict:
    from apps.jobs.states import Status

    progress = Progress(f"{label} setup: {n:,} ready jobs (services)", None)
    workflow_id = ready_workflow(ctx.user, f"fig-{label.rstrip('.')}-b{batch}", n)
    progress.finish()
    ctx.spy_start(label.rstrip("."))
    elapsed, reports, cpu = run_clients(claim_client, lambda i: (ctx.server.port, ctx.key, workflow_id, batch),
                                        ctx.clients, f"{label} HTTP claim_next_jobs?num_jobs={batch}", n, ctx.meter())
    ctx.spy_stop(label.rstrip("."))
    every = [job_id for r in reports for job_id in r["ids"]]
    counts = status_counts(workflow_id)
    requests = sum(len(r["latencies"]) for r in reports)
    return {"workflow_id": workflow_id, "jobs": n, "batch": batch, "clients": ctx.clients, "seconds": elapsed,
            "jobs_per_s": len(every) / elapsed, "requests": requests, "requests_per_s": requests / elapsed,
            "claimed": len(every), "duplicates": len(every) - len(set(every)),
            "per_client": [len(r["ids"]) for r in reports],
            "latency": percentiles([x for r in reports for x in r["latencies"]]),
            "cpu": per_unit(cpu, requests, sum(r["cpu_s"] for r in reports)),
            "statuses_after": counts, "verified": len(every) == len(set(every)) == n
            and counts == {Status.PENDING.label: n}}


def http_floor(ctx: Ctx, requests: int) -> dict:
    """Context for b: the same cheap request from the same clients. GET /ping (no auth, no
    database) is gunicorn + Django + DRF; GET /workflows/{id} adds the API key and one query."""
    from apps.workflows.services import workflow_create

    step(f"b0. HTTP floor: {requests:,} requests of each kind, {ctx.clients} client processes")
    workflow_id = workflow_create(owner=ctx.user, name="fig-b0").pk
    out = {}
    per_client = requests // ctx.clients
    for name, path in (("ping", "/ping"), ("get_workflow", f"/workflows/{workflow_id}")):
        elapsed, reports, cpu = run_clients(
            request_client, lambda i: (ctx.server.port, ctx.key, workflow_id, "GET", path, per_client), ctx.clients,
            f"b0. HTTP GET {path.replace(str(workflow_id), '{id}')}", per_client * ctx.clients, ctx.meter(),
            unit="requests")
        n = per_client * ctx.clients
        out[name] = {"path": path, "requests": n, "seconds": elapsed, "requests_per_s": n / elapsed,
                     "latency": percentiles([x for r in reports for x in r["latencies"]]),
                     "cpu": per_unit(cpu, n, sum(r["cpu_s"] for r in reports))}
    return out


def figure_b(ctx: Ctx, sizes: dict) -> dict:
    out = {"floor": http_floor(ctx, sizes["b1_jobs"])}
    for name, n, batch in (("b", sizes["b_jobs"], sizes["b_batch"]), ("b1", sizes["b1_jobs"], 1)):
        step(f"{name}. claim {n:,} jobs, {batch} a request, {ctx.clients} client processes; raw PostgreSQL limit "
             f"before and after")
        raw_before = raw_claim_limit(ctx.dsn, n, batch, ctx.clients, f"{name}. raw pg_claim_limit.py (before)")
        http = claim_http(ctx, n, batch, f"{name}.")
        raw_after = raw_claim_limit(ctx.dsn, n, batch, ctx.clients, f"{name}. raw pg_claim_limit.py (after)")
        raw_mean = (raw_before["jobs_per_s"] + raw_after["jobs_per_s"]) / 2
        out[name] = {"http": http, "raw_before": raw_before, "raw_after": raw_after, "raw_jobs_per_s": raw_mean,
                     "ratio": http["jobs_per_s"] / raw_mean,
                     "ratio_vs_best_raw": http["jobs_per_s"] / max(raw_before["jobs_per_s"],
                                                                   raw_after["jobs_per_s"])}
    return out


def complete_in_process(ctx: Ctx, n: int, profile_to: Path | None) -> dict:
    from apps.jobs.services import complete_job, start_job
    from apps.jobs.states import Status
    from apps.workers.services import compute_node_save
    from apps.workflows.models import Workflow

    progress = Progress(f"c.i setup: {n:,} claimed parents + {n:,} children", None)
    workflow_id, parents, children = pairs_workflow(ctx.user, "fig-c-service", n)
    node = compute_node_save(workflow_id=workflow_id, hostname="bench-node", num_cpus=4, memory_bytes=8 * 1024**3)
    run_id = Workflow.objects.get(pk=workflow_id).run_id
    progress.finish()
    profiler = None
    if profile_to is not None:
        import cProfile

        profiler = cProfile.Profile()
    meter = CpuMeter({"bench": [os.getpid()], "postgres": lambda: postgres_pids(_server.db_name(ctx.dsn))})
    progress = Progress("c.i service start_job + complete_job", n)
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
        profiler.dump_stats(profile_to)
    progress.update(n)
    progress.finish(f"{n / elapsed:,.0f}/s")
    parents_after, children_after = status_counts(workflow_id, parents), status_counts(workflow_id, children)
    return {"workflow_id": workflow_id, "jobs": n, "seconds": elapsed, "jobs_per_s": n / elapsed,
            "start_s": start_s, "complete_s": complete_s, "complete_jobs_per_s": n / complete_s,
            "cpu": per_unit(cpu, n), "parents_after": parents_after, "children_after": children_after,
            "profile": str(profile_to) if profile_to else None,
            "verified": parents_after == {"completed": n} and children_after == {"ready": n}}


def complete_http(ctx: Ctx, api: Api, n: int) -> dict:
    progress = Progress(f"c.ii setup: {n:,} claimed parents + {n:,} children", None)
    workflow_id, parents, children = pairs_workflow(ctx.user, "fig-c-http", n)
    node_id = api.call("POST", "/compute_nodes", {"workflow_id": workflow_id, "hostname": "bench-node",
                                                  "num_cpus": 4, "memory": "8g", "num_gpus": 0, "num_nodes": 1})["id"]
    run_id = api.call("GET", f"/workflows/{workflow_id}", headers={"X-Torc-Timestamp-Format": "string"})["run_id"]
    progress.finish()
    share = [parents[i::ctx.clients] for i in range(ctx.clients)]
    ctx.spy_start("c.ii")
    elapsed, reports, cpu = run_clients(
        complete_client, lambda i: (ctx.server.port, ctx.key, workflow_id, run_id, node_id, share[i]), ctx.clients,
        f"c.ii HTTP start_job + complete_job, {ctx.clients} clients", n, ctx.meter())
    ctx.spy_stop("c.ii")
    parents_after, children_after = status_counts(workflow_id, parents), status_counts(workflow_id, children)
    starts = [x for r in reports for x in r["starts"]]
    completes = [x for r in reports for x in r["completes"]]
    return {"workflow_id": workflow_id, "jobs": n, "clients": ctx.clients, "seconds": elapsed,
            "jobs_per_s": n / elapsed, "requests_per_s": 2 * n / elapsed, "start_latency": percentiles(starts),
            "complete_latency": percentiles(completes),
            "cpu": per_unit(cpu, n, sum(r["cpu_s"] for r in reports)), "parents_after": parents_after,
            "children_after": children_after,
            "verified": parents_after == {"completed": n} and children_after == {"ready": n}}


# SECTION py-spy (optional): sample the gunicorn workers during the HTTP steps


class PySpy:
    def __init__(self, out_dir: Path, stamp: str, fmt: str):
        import shutil

        self.exe = shutil.which("py-spy") or (str(Path(sys.executable).parent / "py-spy")
                                              if (Path(sys.executable).parent / "py-spy").exists() else None)
        self.out_dir, self.stamp, self.fmt = out_dir, stamp, fmt
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        if not self.exe:
            raise SystemExit("--py-spy: py-spy not found (pip install py-spy)")

    def start(self, name: str, pids: list[int]) -> None:
        ext = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[self.fmt]
        for pid in pids:
            path = self.out_dir / f"pyspy-{self.stamp}-{name}-{pid}.{ext}"
            proc = subprocess.Popen([self.exe, "record", "--pid", str(pid), "--rate", "250", "--format", self.fmt,
                                     "--output", str(path), "--nonblocking"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append((proc, path))

    def stop(self) -> list[str]:
        import signal

        paths = []
        for proc, path in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc, path in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            paths.append(str(path))
        self.procs = []
        return paths


# SECTION report


def fmt_s(x: float) -> str:
    return f"{x:.2f} s"


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}/s"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report_rows(r: dict) -> list[tuple]:
    figs, rows = r["figures"], []
    if "a" in figs:
        a = figs["a"]
        target_a = TARGETS["a_total_s"] * (0.1 if r["quick"] else 1)
        rows += [
            ("a", f"create {a['jobs']:,} jobs + {a['edges']:,} edges (bulk_jobs x{a['jobs'] // a['batch']})",
             fmt_s(a["create_s"]), fmt_rate(a["jobs"] / a["create_s"]), "", ""),
            ("a", "initialize_jobs", fmt_s(a["initialize_s"]), fmt_rate(a["jobs"] / a["initialize_s"]), "", ""),
            ("a", "total create + initialize", fmt_s(a["total_s"]), "", f"< {target_a:g} s",
             verdict(a["total_s"] < target_a)),
        ]
    if "b" in figs:
        for name, target in (("b", TARGETS["b_ratio"]), ("b1", TARGETS["b1_ratio"])):
            x = figs["b"][name]
            h = x["http"]
            rows += [
                (name, f"HTTP claim_next_jobs num_jobs={h['batch']}, {h['clients']} clients, {h['jobs']:,} jobs",
                 fmt_s(h["seconds"]), fmt_rate(h["jobs_per_s"]), "", ""),
                (name, f"raw pg_claim_limit.py batch {h['batch']} (mean of before {x['raw_before']['jobs_per_s']:,}"
                       f" / after {x['raw_after']['jobs_per_s']:,})", "", fmt_rate(x["raw_jobs_per_s"]), "", ""),
                (name, "ratio HTTP / raw", "", f"{x['ratio']:.0%}", f">= {target:.0%}",
                 verdict(x["ratio"] >= target)),
            ]
        for x in figs["b"]["floor"].values():
            what = "ping" if x["path"] == "/ping" else "workflows/{id}"
            rows.append(("b0", f"(context) HTTP GET {what}, {r['settings']['clients']} clients, "
                               f"{x['requests']:,} requests", fmt_s(x["seconds"]),
                         fmt_rate(x["requests_per_s"]) + " req", "", ""))
    if "c" in figs:
        ci, cii = figs["c"]["service"], figs["c"]["http"]
        rows += [
            ("c.i", f"service start_job + complete_job x{ci['jobs']:,} (complete_job alone {ci['complete_s']:.2f} s)",
             fmt_s(ci["seconds"]), fmt_rate(ci["jobs_per_s"]), "", ""),
            ("c.ii", f"HTTP start_job + complete_job x{cii['jobs']:,}, {cii['clients']} clients",
             fmt_s(cii["seconds"]), fmt_rate(cii["jobs_per_s"]), "", ""),
            ("c", "dependents ready afterwards (service / HTTP)", "",
             f"{ci['children_after'].get('ready', 0):,} / {cii['children_after'].get('ready', 0):,}",
             f"{ci['jobs']:,} each", verdict(ci["verified"] and cii["verified"])),
        ]
    return rows


def print_report(result: dict) -> None:
    g, env = result["git"], result["settings"]["env"]
    extra = {k: v for k, v in env.items() if k.startswith("BENCH_")}
    print(f"commit {(g['commit'] or '?')[:10]}{' + uncommitted changes' if g['dirty_files'] else ''}, "
          f"{result['settings']['gunicorn']['command'].split(' -b ')[0]}, {env['DJANGO_SETTINGS_MODULE']}"
          f"{' ' + str(extra) if extra else ''}, {'quick' if result['quick'] else 'full'} run {result['started_utc']}\n")
    print(table(report_rows(result), ("fig", "what", "seconds", "rate", "target", "")))
    rows = cpu_rows(result)
    if rows:
        print("\nCPU ms per unit, by process group (the machine has "
              f"{result['machine']['cores']} cores; 'other' = busy time of processes outside the bench):")
        print(table(rows, ("fig", "unit", "gunicorn", "in-process", "postgres", "clients", "other", "machine busy")))


def cpu_rows(r: dict) -> list[tuple]:
    """CPU milliseconds per request (c.i: per job) by process group, machine-wide busy time included."""
    rows = []
    figs = r["figures"]
    items = []
    if "b" in figs:
        items += [("b0", f"GET {x['path'].split('/')[1]}, per request", x) for x in figs["b"]["floor"].values()]
        items += [("b", f"claim num_jobs={figs['b']['b']['http']['batch']}, per request", figs["b"]["b"]["http"]),
                  ("b1", "claim num_jobs=1, per request", figs["b"]["b1"]["http"])]
    if "c" in figs:
        items += [("c.i", "service start+complete, per job", figs["c"]["service"]),
                  ("c.ii", "HTTP start+complete, per job (2 requests)", figs["c"]["http"])]
    for name, what, fig in items:
        per = fig["cpu"]["per_unit_ms"]
        rows.append((name, what, *(f"{per[k]:.2f}" if k in per else "" for k in
                                   ("gunicorn", "bench", "postgres", "clients", "other", "machine_busy"))))
    if "b" in figs:
        for name in ("b", "b1"):
            x = figs["b"][name]
            txns = x["raw_before"]["jobs"] / x["http"]["batch"]
            seconds = (x["raw_before"]["seconds"] + x["raw_after"]["seconds"]) / 2
            cores = r["machine"]["cores"] or 1
            rows.append((name, f"raw pg_claim_limit, per transaction of {x['http']['batch']} (at most: cores x its "
                               f"seconds)", "", "", "", "", "", f"<= {1000 * cores * seconds / txns:.2f}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.torc_figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size / 10: under two minutes")
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DSN", DEFAULT_DSN),
                        help=f"PostgreSQL URL of the bench database (default {DEFAULT_DSN}); a database whose name "
                             f"contains 'bench' is dropped and created again unless --keep-db")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database first")
    parser.add_argument("--clients", type=int, default=4, help="client processes for b and c.ii (4)")
    parser.add_argument("--workers", type=int, default=_server.GUNICORN["workers"], help="gunicorn workers (4)")
    parser.add_argument("--threads", type=int, default=_server.GUNICORN["threads"], help="threads a worker (4)")
    parser.add_argument("--only", default="a,b,c", help="figures to run, e.g. b or a,c (default a,b,c)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="before each step wait up to SECONDS for the shared machine to be < 25%% busy")
    parser.add_argument("--worker-class", default=_server.GUNICORN["worker_class"], help="gunicorn -k (gthread)")
    parser.add_argument("--profile", action="store_true", help="cProfile figure c.i into bench/results/")
    parser.add_argument("--py-spy", dest="py_spy", choices=("flamegraph", "raw", "speedscope"),
                        help="sample the gunicorn workers with py-spy during b and c.ii (files in bench/results/)")
    parser.add_argument("--settings", default="config.settings.prod",
                        help="DJANGO_SETTINGS_MODULE of the server and of the in-process side (config.settings.prod)")
    parser.add_argument("--show", metavar="JSON", help="print the tables of an earlier results file and exit")
    args = parser.parse_args(argv)
    if args.show:
        print_report(json.loads(Path(args.show).read_text()))
        return 0
    QUIET["max_wait_s"] = args.wait_quiet
    only = set(args.only.split(","))
    sizes = QUICK if args.quick else FULL
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    step(f"setup: database {_server.redacted(args.dsn)}, migrate, gunicorn -w {args.workers} -k {args.worker_class} "
         f"--threads {args.threads}")
    progress = Progress("setup: create database + migrate", None)
    db_state = _server.reset_database(args.dsn, keep=args.keep_db)
    env = _server.server_env(args.dsn, args.settings)
    _server.migrate(env)
    progress.finish(db_state)
    django_setup(env)
    user, key = bench_user()
    import tempfile

    server = _server.Gunicorn(env, Path(tempfile.gettempdir()), workers=args.workers, threads=args.threads,
                              worker_class=args.worker_class)
    progress = Progress("setup: start gunicorn", None)
    server.start()
    progress.finish(f"{server.base}, workers {server.worker_pids()}")
    api = Api(server.port, key)
    spy = PySpy(RESULTS, stamp, args.py_spy) if args.py_spy else None
    ctx = Ctx(server, key, user, args.dsn, args.clients, spy)
    result = {
        "benchmark": "bench.torc_figures", "started_utc": stamp, "quick": args.quick, "sizes": sizes,
        "targets": TARGETS, "machine": machine_info(), "versions": versions(),
        "git": {"commit": git("rev-parse", "HEAD"),
                "dirty_files": (git("status", "--porcelain", "--untracked-files=no") or "").splitlines(),
                "untracked": (git("status", "--porcelain") or "").count("?? "),
                "diff_sha256": hashlib.sha256((git("diff", "HEAD") or "").encode()).hexdigest()},
        "settings": {"dsn": _server.redacted(args.dsn), "database": db_state, "clients": args.clients,
                     "gunicorn": {**server.conf, "command": " ".join(server.command()[2:]), "log": str(server.log),
                                     "output": str(server.log.with_suffix(".out"))},
                     "env": _server.settings_used(env), "auth": "X-API-Key",
                     "client": "http.client keep-alive, one connection a client process (spawn)"},
        "figures": {}, "profiles": {},
    }
    try:
        if "a" in only:
            result["figures"]["a"] = figure_a(ctx, api, sizes["a_jobs"], sizes["a_batch"])
        if "b" in only:
            result["figures"]["b"] = figure_b(ctx, sizes)
        if "c" in only:
            step(f"c. complete {sizes['c_jobs']:,} jobs that each unblock one dependent")
            prof = RESULTS / f"cprofile-{stamp}-c-service.prof" if args.profile else None
            service = complete_in_process(ctx, sizes["c_jobs"], prof)
            http = complete_http(ctx, api, sizes["c_jobs"])
            result["figures"]["c"] = {"service": service, "http": http}
    finally:
        if spy:
            spy.stop()
        result["profiles"] = ctx.profiles
        api.close()
        server.stop()
    result["duration_s"] = time.perf_counter() - started
    result["machine"]["busy_before_steps"] = QUIET["seen"]
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    out = RESULTS / f"torc-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")

    print()
    print_report(result)
    failed = [name for name, fig in (("a", result["figures"].get("a")),
                                     ("b", (result["figures"].get("b") or {}).get("b", {}).get("http")),
                                     ("b1", (result["figures"].get("b") or {}).get("b1", {}).get("http")),
                                     ("c.i", (result["figures"].get("c") or {}).get("service")),
                                     ("c.ii", (result["figures"].get("c") or {}).get("http")))
              if fig is not None and not fig.get("verified")]
    print(f"\n{'quick run' if args.quick else 'full run'} in {result['duration_s']:.0f} s; "
          f"{os.cpu_count()} cores; results: {out.relative_to(ROOT)}")
    if failed:
        print(f"VERIFICATION FAILED: {', '.join(failed)} (see the JSON)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
