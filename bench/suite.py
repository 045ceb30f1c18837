"""Drover's benchmark suite (issue 6): Drover against raw SQL, Celery and procrastinate on the
same machine in one run.

    python -m bench [--quick] [--only claim,e2e,dag,unblock,reads] [--dialects torc,mitosis]
    python -m bench --show bench/results/<stamp>.json [--docs]

Starts (or reuses) PostgreSQL and Redis, serves Drover with gunicorn and production settings,
runs every scenario group (bench/groups) for every dialect (bench/scenarios) with the references
(bench/references), prints a table and writes bench/results/<stamp>.json and, for a full run,
docs/PERFORMANCE.md with its plots. bench/README.md says what each figure means."""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from . import _ctx, _django, _server, _services, groups, report, scenarios
from ._clients import Api
from ._util import ROOT, Progress, git, machine_info

RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"

FULL = {
    "floor_requests": 3_000, "claim_jobs": 20_000, "claim1_jobs": 3_000,
    "e2e_n": (2_000, 20_000), "e2e_procs": (2, 4), "e2e_budget_s": 480,
    "dag_sizes": (10_000, 100_000, 1_000_000), "dag_batch": 10_000, "fan_in": 10_000,
    "unblock": 10_000, "fan_out": 100_000,
    "list_jobs": 100_000, "list_tasks": 20_000, "page": 1_000, "count_rounds": 3,
}
QUICK = {
    "floor_requests": 400, "claim_jobs": 2_000, "claim1_jobs": 300,
    "e2e_n": (200,), "e2e_procs": (2, 4), "e2e_budget_s": None,
    "dag_sizes": (2_000, 8_000, 32_000), "dag_batch": 2_000, "fan_in": 2_000,
    "unblock": 300, "fan_out": 8_000,
    "list_jobs": 8_000, "list_tasks": 2_000, "page": 100, "count_rounds": 2,
}


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes: under 3 minutes (CI smoke)")
    p.add_argument("--only", default=",".join(groups.GROUPS),
                   help=f"scenario groups, comma-separated (default all: {','.join(groups.GROUPS)}; also 1-6, e2e)")
    p.add_argument("--dialects", default=",".join(scenarios.DIALECTS), help="dialects to measure (torc,mitosis)")
    p.add_argument("--dsn", help=f"PostgreSQL URL of the bench database (default: BENCH_DSN, else DATABASE_URL's "
                                 f"server with database {_services.BENCH_DB}, else {_services.DEV_PG}); a database "
                                 f"whose name contains 'bench' is dropped and created again unless --keep-db")
    p.add_argument("--redis-url", help=f"Redis for the Celery reference (default: BENCH_REDIS_URL, REDIS_URL, "
                                       f"{_services.DEV_REDIS})")
    p.add_argument("--no-start-services", dest="start_services", action="store_false",
                   help="fail instead of starting private PostgreSQL/Redis when those given do not answer")
    p.add_argument("--e2e-budget", type=float, metavar="SECONDS",
                   help="scenario 2 at its largest N runs only what fits in SECONDS, estimated from the smaller N "
                        "(full run: 480; 0: no limit)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change one size, e.g. --set dag_sizes=10000,100000 --set unblock=2000 (see FULL in "
                        "bench/suite.py)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the bench database first")
    p.add_argument("--clients", type=int, default=4, help="client processes for claims, unblocking, reads (4)")
    p.add_argument("--workers", type=int, default=_server.GUNICORN["workers"], help="gunicorn workers (4)")
    p.add_argument("--threads", type=int, default=_server.GUNICORN["threads"], help="threads a gunicorn worker (4)")
    p.add_argument("--worker-class", default=_server.GUNICORN["worker_class"], help="gunicorn -k (gthread)")
    p.add_argument("--settings", default="config.settings.prod", help="the server's DJANGO_SETTINGS_MODULE")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before each step wait up to SECONDS for the shared machine to be < 25%% busy")
    p.add_argument("--py-spy", dest="py_spy", choices=("flamegraph", "raw", "speedscope"),
                   help="sample the gunicorn workers with py-spy during the HTTP steps (files in bench/results/)")
    p.add_argument("--docs", dest="docs", action="store_true", default=None,
                   help="write docs/PERFORMANCE.md and its plots (default: full runs only)")
    p.add_argument("--no-docs", dest="docs", action="store_false")
    p.add_argument("--show", metavar="JSON", help="print the table of an earlier results file (with --docs: and "
                                                  "write the docs from it) and exit")
    return p.parse_args(argv)


def selected(only: str) -> list[str]:
    wanted = {groups.ALIASES.get(x.strip(), x.strip()) for x in only.split(",") if x.strip()}
    unknown = wanted - set(groups.GROUPS)
    if unknown:
        raise SystemExit(f"--only: unknown group(s) {', '.join(sorted(unknown))}; known: {', '.join(groups.GROUPS)}")
    if "reads" in wanted and "dag" not in wanted:
        wanted.add("dag")  # Torc's read paths page through scenario 3's workflows
    return [g for g in groups.GROUPS if g in wanted]


def git_info() -> dict:
    return {"commit": git("rev-parse", "HEAD"),
            "dirty_files": (git("status", "--porcelain", "--untracked-files=no") or "").splitlines(),
            "untracked": (git("status", "--porcelain") or "").count("?? "),
            "diff_sha256": hashlib.sha256((git("diff", "HEAD") or "").encode()).hexdigest()}


def write_outputs(result: dict, out: Path, docs: bool) -> None:
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    report.print_report(result)
    if docs:
        written = report.write_docs(result, DOCS, str(out.relative_to(ROOT)))
        print("\nwrote " + ", ".join(str(p.relative_to(ROOT)) for p in written))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.show:
        result = json.loads(Path(args.show).read_text())
        write_outputs_show(result, Path(args.show), bool(args.docs))
        return 0
    only = selected(args.only)
    wanted_dialects = {d.strip() for d in args.dialects.split(",") if d.strip()}
    dialects = scenarios.dialects(wanted_dialects)
    sizes = dict(QUICK if args.quick else FULL)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in sizes or not value:
            raise SystemExit(f"--set {item}: KEY=VALUE with KEY one of {', '.join(sizes)}")
        numbers = tuple(int(v.replace("_", "")) for v in value.split(","))
        sizes[key] = numbers if isinstance(sizes[key], tuple) else numbers[0]
    if args.e2e_budget is not None:
        sizes["e2e_budget_s"] = args.e2e_budget or None
    _ctx.QUIET["max_wait_s"] = args.wait_quiet
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.gettempdir())
    started = time.perf_counter()

    _ctx.step(f"setup: PostgreSQL, Redis, database, migrate, gunicorn -w {args.workers} -k {args.worker_class} "
              f"--threads {args.threads}")
    dsn, redis_url, private = _services.ensure(_services.bench_dsn(args.dsn), _services.bench_redis(args.redis_url),
                                               start=args.start_services)
    server = spy = None
    try:
        env, db_state = _server.prepare(dsn, args.settings, keep=args.keep_db)
        user, key, password = _django.bench_user()
        server = _server.Gunicorn(env, log_dir, workers=args.workers, threads=args.threads,
                                  worker_class=args.worker_class)
        progress = Progress("setup: start gunicorn", None)
        server.start()
        progress.finish(f"{server.base}, workers {server.worker_pids()}")
        spy = _ctx.PySpy(RESULTS, stamp, args.py_spy) if args.py_spy else None
        ctx = _ctx.Ctx(server=server, key=key, user=user, password=password, dsn=dsn, clients=args.clients, spy=spy,
                       quick=args.quick, log_dir=log_dir, redis_url=redis_url)
        Api(server.port, key).call("GET", "/ping")
        result = {
            "benchmark": "bench (issue 6)", "started_utc": stamp, "quick": args.quick, "sizes": sizes,
            "groups_run": only, "dialects": list(dialects), "machine": machine_info(), "versions": _django.versions(),
            "git": git_info(),
            "settings": {"dsn": _server.redacted(dsn), "redis": redis_url, "database": db_state,
                         "services_started": private.started if private else [], "clients": args.clients,
                         "gunicorn": {**server.conf, "command": " ".join(server.command()[2:]),
                                      "log": str(server.log), "output": str(server.log.with_suffix(".out"))},
                         "env": _server.settings_used(env), "auth": "Torc X-API-Key; Mitosis bearer token from /login",
                         "client": "http.client keep-alive, one connection a client process (spawn)"},
            "groups": {},
        }
        for name in only:
            try:
                result["groups"][name] = groups.load(name).run(ctx, sizes, dialects)
            except (Exception, SystemExit) as exc:  # one failing group does not lose the others' figures
                traceback.print_exc()
                result["groups"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        result["profiles"] = ctx.profiles
    finally:
        if spy is not None:
            spy.stop()
        if server is not None:
            server.stop()
        if private is not None:
            private.stop()
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["machine"]["busy_before_steps"] = _ctx.QUIET["seen"]
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    out = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
    write_outputs(result, out, args.docs if args.docs is not None else not args.quick)
    failed = unverified(result)
    print(f"\n{'quick' if args.quick else 'full-size'} run of {', '.join(only)} in {result['duration_s']:.0f} s; "
          f"{os.cpu_count()} cores; "
          f"results: {out.relative_to(ROOT)}")
    if failed:
        print("FAILED or UNVERIFIED: " + "; ".join(failed))
        return 1
    return 0


def write_outputs_show(result: dict, path: Path, docs: bool) -> None:
    report.print_report(result)
    if docs:
        written = report.write_docs(result, DOCS, str(path.resolve().relative_to(ROOT)))
        print("\nwrote " + ", ".join(str(p.relative_to(ROOT)) for p in written))


def unverified(result: dict) -> list[str]:
    """Groups that failed and scenarios whose database check failed: the run's exit status. A
    missed target is reported, and is not a failure of the run."""
    return [f"{row[0]}. {row[1]}" for row in report.rows(result) if row[-1] in ("FAILED", "UNVERIFIED")]


if __name__ == "__main__":
    sys.exit(main())
