"""Mitosis (root paths, seed 003) as a benchmark subject: fetching tasks (1), end-to-end no-op
tasks with Drover's run_worker in Mitosis mode or the dispatch-only protocol client (2), and
/tasks/query paging and per-state counts (5). Tasks go to groups of their own: every worker of
the bench user also serves the user's personal group, which stays empty."""

import subprocess
import sys
import time

from .._clients import Api, HttpError, read_client
from .._ctx import per_unit
from .._django import last_finished, mitosis_group, status_counts
from .._mitosis_clients import bearer, fetch_client, login, noop_worker
from .._procs import Workers, run_clients
from .._util import ROOT, Progress, percentiles
from . import Skip
from .torc import WORKER_SLOTS, worker_env

E2E_MODES = ("worker", "noop")
SUBMIT_BATCH = 1_000
STATES = ("Pending", "Ready", "Running", "Finished", "Cancelled", "Unknown")


def available(ctx) -> str | None:
    return None


def token(ctx) -> str:
    """The bench user's bearer token, from POST /login (cached for the run)."""
    if "mitosis_token" not in ctx.cache:
        ctx.cache["mitosis_token"] = login(ctx.port, ctx.user.username, ctx.password)
    return ctx.cache["mitosis_token"]


def submit(ctx, group: str, n: int, on_first=None) -> dict:
    """POST /tasks/submit in batches of 1,000 `true` tasks; every item must be Ok."""
    api = Api(ctx.port, prefix="", headers=bearer(token(ctx)))
    task = {"group_name": group, "tags": [], "labels": [], "timeout": "10m", "priority": 0,
            "task_spec": {"args": ["true"], "envs": {}, "resources": [], "terminal_output": False, "watch": None}}
    t0 = time.time()
    try:
        for start in range(0, n, SUBMIT_BATCH):
            answer = api.call("POST", "/tasks/submit", {"tasks": [task] * min(SUBMIT_BATCH, n - start)})
            errors = [r["Err"] for r in answer["results"] if "Ok" not in r]
            if errors:
                raise HttpError(f"/tasks/submit: {len(errors)} items refused, e.g. {errors[0]}")
            if start == 0 and on_first is not None:
                on_first()
    finally:
        api.close()
    return {"t0": t0, "submit_s": time.time() - t0}


# SECTION 1. claims


def claim(ctx, n: int, batch: int) -> dict:
    """n ready tasks drained by ctx.clients registered workers calling GET /workers/tasks (one
    task a request: the server claims and starts it) until nothing is left."""
    from apps.jobs.states import Status

    if batch != 1:
        raise Skip("Mitosis workers fetch one task a request (no batch)")
    group = mitosis_group(ctx.user, f"claim-{n}")
    progress = Progress(f"mitosis setup: {n:,} tasks (POST /tasks/submit)", None)
    submitted = submit(ctx, group, n)
    progress.finish(f"{n / submitted['submit_s']:,.0f} tasks/s")
    user_token = token(ctx)
    ctx.spy_start("mitosis-claim")
    elapsed, reports, cpu = run_clients(fetch_client, lambda i: (ctx.port, user_token, group), ctx.clients,
                                        "mitosis HTTP GET /workers/tasks", n, ctx.meter())
    ctx.spy_stop("mitosis-claim")
    every = [uuid for r in reports for uuid in r["ids"]]
    counts = status_counts(group__name=group)
    requests = sum(len(r["latencies"]) for r in reports)
    return {"what": "Mitosis GET /workers/tasks", "group": group, "jobs": n, "batch": 1, "clients": ctx.clients,
            "seconds": elapsed, "jobs_per_s": len(every) / elapsed, "requests": requests,
            "requests_per_s": requests / elapsed, "claimed": len(every), "duplicates": len(every) - len(set(every)),
            "per_client": [len(r["ids"]) for r in reports], "setup_submit_s": submitted["submit_s"],
            "latency": percentiles([x for r in reports for x in r["latencies"]]),
            "cpu": per_unit(cpu, requests, sum(r["cpu_s"] for r in reports)), "statuses_after": counts,
            "verified": len(every) == len(set(every)) == n and counts == {Status.RUNNING.label: n}}


# SECTION 2. end-to-end no-op tasks


def worker_command(ctx, group: str) -> list[str]:
    """run_worker in Mitosis mode, built from the options its --help shows; Skip if it has none."""
    if "mitosis_help" not in ctx.cache:
        done = subprocess.run([sys.executable, "manage.py", "run_worker", "--help"], cwd=ROOT, env=worker_env(ctx),
                              capture_output=True, text=True, timeout=60)
        ctx.cache["mitosis_help"] = done.stdout
    text = ctx.cache["mitosis_help"]
    if "--group" not in text:
        raise Skip("manage.py run_worker has no Mitosis mode (--group) on this server yet")
    command = [sys.executable, "manage.py", "run_worker", "--url", ctx.server.base, "--group", group]
    if "--token" in text:
        command += ["--token", token(ctx)]
    else:
        command += ["--username", ctx.user.username, "--password", ctx.password]
    if "--dialect" in text:
        command += ["--dialect", "mitosis"]
    for flag in ("--poll", "--poll-interval"):
        if flag + " " in text or flag + "\n" in text or flag + "=" in text:
            command += [flag, "0.05"]  # idle fetches: run_worker's default 10 s (Mitosis' own worker: 180 s)
            break
    if "--concurrency" in text:
        command += ["--concurrency", str(WORKER_SLOTS)]
    return command


def end_to_end(ctx, n: int, procs: int, mode: str) -> dict:
    """n `true` tasks submitted in batches of 1,000 to a fresh group whose procs workers are
    registered and polling; from the first submit to the last commit."""
    from apps.workers.models import GroupWorker

    group = mitosis_group(ctx.user, f"e2e-{mode}-{n}-{procs}")
    label = f"mitosis {n:,} tasks, {procs} {'run_worker' if mode == 'worker' else 'no-op client'}s"
    rss, meter = ctx.rss(), ctx.meter()
    ctx.spy_start(f"e2e-mitosis-{mode}-{n}-{procs}")
    out: dict = {}
    if mode == "noop":
        user_token = token(ctx)
        _, reports, cpu = run_clients(noop_worker, lambda i: (ctx.port, user_token, group, n), procs, label, n,
                                      meter, during=lambda: submit(ctx, group, n), rss=rss)
        submitted = reports[0]["during"]
        out.update(claims=sum(r["claims"] for r in reports), empty_claims=sum(r["empty_claims"] for r in reports),
                   clients_cpu_s=round(sum(r["cpu_s"] for r in reports), 3))
        memory = rss.stop()
        workers_exit = [0] * procs
    else:
        command = worker_command(ctx, group)
        workers = Workers([command] * procs, worker_env(ctx), ROOT, ctx.log_dir, f"mitosis-worker-{n}")
        rss.groups["worker"] = workers.pids
        progress = Progress(f"{label}: start and register", None)
        workers.start()
        try:
            deadline = time.monotonic() + 120
            while GroupWorker.objects.filter(group__name=group).count() < procs:
                if workers.failed() or time.monotonic() > deadline:
                    raise SystemExit(f"{label}: workers did not register: {workers.failed()}")
                time.sleep(0.05)
            out["worker_boot_s"] = round(progress.finish(), 3)
            progress = Progress(label, n)
            rss.start(reset=True)
            meter.start()
            submitted = submit(ctx, group, n)
            while True:
                done, _ = last_finished(group__name=group)
                progress.update(done)
                if done >= n or workers.failed():
                    break
                time.sleep(0.2)
            rss.sample_now()
        finally:
            workers_exit = workers.stop()  # SIGTERM: a Mitosis worker serves until told to stop
        cpu = meter.stop()
        memory = rss.stop()
        progress.finish()
        failed = [f for f in workers.failed() if " exit -15" not in f]
        if failed:
            raise SystemExit(f"{label}: {failed}")
        out.update(worker_logs=[str(p) for p in workers.logs], worker_command=" ".join(command[1:]).replace(
            token(ctx), "<token>").replace(ctx.password, "<password>"))
    ctx.spy_stop(f"e2e-mitosis-{mode}-{n}-{procs}")
    done, last = last_finished(group__name=group)
    seconds = last - submitted["t0"]
    counts = status_counts(group__name=group)
    return {"dialect": "mitosis", "mode": mode, "n": n, "procs": procs, "group": group, "seconds": seconds,
            "jobs_per_s": n / seconds, "submit_s": submitted["submit_s"], "memory": memory, "cpu": per_unit(cpu, n),
            **out, "workers_exit": workers_exit, "statuses_after": counts, "verified": counts == {"completed": n}}


# SECTION 5. read paths


def query_body(group: str, **extra) -> dict:
    """A TasksQueryReq with every key, as the real client sends it."""
    body = {"creator_usernames": None, "group_name": group, "tags": None, "labels": None, "states": None,
            "exit_status": None, "priority": None, "reporter_uuid": None, "limit": None, "offset": None,
            "count": False}
    body.update(extra)
    return body


def reads(ctx, sizes: dict) -> dict:
    """POST /tasks/query page by page through the largest group of scenario 2 (its tasks are
    Finished), or through a group of sizes["list_tasks"] tasks submitted here when scenario 2
    did not run; and the count of each state (count: true). Submitting 100,000 tasks one
    transaction an item would take most of the run's time, hence scenario 2's group."""
    page = sizes["page"]
    headers = bearer(token(ctx))
    probe = Api(ctx.port, prefix="", headers=headers)
    try:
        status, _ = probe.request("POST", "/tasks/query", query_body(ctx.user.username, count=True),
                                  ok=(200, 400, 404, 405, 501))
    finally:
        probe.close()
    if status != 200:
        raise Skip(f"POST /tasks/query answers {status}: not served by this server yet")
    made = ctx.cache.get("mitosis_groups") or {}
    submitted = {"submit_s": None}
    if made:
        group, n = max(made.items(), key=lambda kv: kv[1])
    else:
        n = sizes["list_tasks"]
        group = mitosis_group(ctx.user, f"reads-{n}")
        progress = Progress(f"mitosis setup: {n:,} tasks (POST /tasks/submit)", None)
        submitted = submit(ctx, group, n)
        progress.finish(f"{n / submitted['submit_s']:,.0f} tasks/s")
    warm = ("POST", "/tasks/query", query_body(group, limit=1))

    def run(label, requests, items_key, id_key):
        share = [requests[i::ctx.clients] for i in range(ctx.clients)]
        return run_clients(read_client, lambda i: (ctx.port, "", headers, warm, share[i], items_key, id_key),
                           ctx.clients, label, len(requests), ctx.meter(), unit="requests")

    requests = [("POST", "/tasks/query", query_body(group, limit=page, offset=off)) for off in range(0, n, page)]
    elapsed, reports, cpu = run(f"mitosis /tasks/query {n:,} tasks, pages of {page:,}", requests, "tasks", "uuid")
    uuids = [x for r in reports for x in r["ids"]]
    out = {"group": group, "setup_submit_s": submitted["submit_s"], "list": {
        "what": f"/tasks/query of {n:,} tasks, pages of {page:,}", "jobs": n, "page": page, "requests": len(requests),
        "seconds": elapsed, "requests_per_s": len(requests) / elapsed, "jobs_per_s": len(uuids) / elapsed,
        "latency": percentiles([x for r in reports for x in r["latencies"]]), "cpu": per_unit(cpu, len(requests)),
        "returned": len(uuids), "distinct": len(set(uuids)), "verified": len(uuids) == len(set(uuids)) == n}}
    rounds = sizes["count_rounds"]
    requests = [("POST", "/tasks/query", query_body(group, states=[s], count=True)) for _ in range(rounds)
                for s in STATES]
    elapsed, reports, cpu = run(f"mitosis count per state of {n:,} tasks x{rounds}", requests, None, None)
    totals = [a["count"] for r in reports for a in r["answers"]]
    out["count"] = {"what": f"tasks per state of a {n:,}-task group ({len(STATES)} /tasks/query count a round)",
                    "jobs": n, "rounds": rounds, "requests": len(requests), "seconds": elapsed,
                    "requests_per_s": len(requests) / elapsed,
                    "latency": percentiles([x for r in reports for x in r["latencies"]]),
                    "cpu": per_unit(cpu, len(requests)), "verified": sum(totals) == n * rounds}
    return out
