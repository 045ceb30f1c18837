"""Torc figures of Drover on PostgreSQL, measured against a real server (gunicorn, prod settings).

    python -m bench.torc_figures [--quick] [--only a,b,c] [--dsn postgres://postgres@127.0.0.1:55499/drover_bench]

a. create N jobs with N dependency edges through POST /bulk_jobs (batches), then initialize_jobs
b. claim_next_jobs over HTTP from 4 client processes until a workflow is drained, against the raw
   PostgreSQL claim limit (/work/shared/bench/pg_claim_limit.py) measured in the same run
c. completing N jobs that each unblock one dependent: service layer in-process, and over HTTP
   (start_job + complete_job from 4 client processes)

The first benchmark of the suite, kept for the figures cited in closing notes: a thin wrapper
over the suite's Torc scenarios (bench/scenarios/torc*.py) and raw SQL reference with the
original output. bench/README.md says what each figure means. Results: a table on stdout and
bench/results/torc-<UTC date-time>.json. `python -m bench` runs the whole suite.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import _server
from ._clients import Api
from ._ctx import QUIET, Ctx, PySpy, step
from ._django import bench_user, django_setup, pairs_workflow, ready_workflow, versions  # noqa: F401 - diag tools
from ._util import ROOT, Progress, git, machine_info, table
from .references import raw_sql
from .scenarios import torc, torc_graph

DEFAULT_DSN = "postgres://postgres@127.0.0.1:55499/drover_bench"
RESULTS = ROOT / "bench" / "results"

FULL = {"a_jobs": 100_000, "a_batch": 10_000, "b_jobs": 20_000, "b_batch": 100, "b1_jobs": 3_000,
        "c_jobs": 10_000}
QUICK = {"a_jobs": 10_000, "a_batch": 1_000, "b_jobs": 2_000, "b_batch": 100, "b1_jobs": 300, "c_jobs": 1_000}
TARGETS = {"a_total_s": 20.0, "b_ratio": 0.35, "b1_ratio": 0.25}


# SECTION figures


def figure_a(ctx: Ctx, api: Api, n: int, batch: int) -> dict:
    """n jobs, n edges, through POST /bulk_jobs in batches, then initialize_jobs (layout
    figure_a of bench/scenarios/torc_graph.py)."""
    step(f"a. {n:,} jobs with {n:,} edges: bulk_jobs in batches of {batch:,}, then initialize_jobs")
    out = torc_graph.create_and_initialize(ctx, api, "figure_a", n, batch, "a.")
    out.pop("ids")
    return out


def figure_b(ctx: Ctx, sizes: dict) -> dict:
    out = {"floor": torc.floor(ctx, sizes["b1_jobs"])}
    for name, n, batch in (("b", sizes["b_jobs"], sizes["b_batch"]), ("b1", sizes["b1_jobs"], 1)):
        step(f"{name}. claim {n:,} jobs, {batch} a request, {ctx.clients} client processes; raw PostgreSQL limit "
             f"before and after")
        raw_before = raw_sql.claim_limit(ctx.dsn, n, batch, ctx.clients, f"{name}. raw pg_claim_limit.py (before)")
        http = torc.claim(ctx, n, batch)
        raw_after = raw_sql.claim_limit(ctx.dsn, n, batch, ctx.clients, f"{name}. raw pg_claim_limit.py (after)")
        raw_mean = (raw_before["jobs_per_s"] + raw_after["jobs_per_s"]) / 2
        out[name] = {"http": http, "raw_before": raw_before, "raw_after": raw_after, "raw_jobs_per_s": raw_mean,
                     "ratio": http["jobs_per_s"] / raw_mean,
                     "ratio_vs_best_raw": http["jobs_per_s"] / max(raw_before["jobs_per_s"],
                                                                   raw_after["jobs_per_s"])}
    return out


def figure_c(ctx: Ctx, n: int, profile_to: Path | None) -> dict:
    step(f"c. complete {n:,} jobs that each unblock one dependent")
    if profile_to is not None:
        import cProfile

        ctx.cache["profiler"] = cProfile.Profile()
    service = torc_graph.unblock_service(ctx, n)
    if profile_to is not None:
        ctx.cache.pop("profiler").dump_stats(profile_to)
        service["profile"] = str(profile_to)
    return {"service": service, "http": torc_graph.unblock_http(ctx, n)}


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
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
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
    user, key, password = bench_user()
    import tempfile

    server = _server.Gunicorn(env, Path(tempfile.gettempdir()), workers=args.workers, threads=args.threads,
                              worker_class=args.worker_class)
    progress = Progress("setup: start gunicorn", None)
    server.start()
    progress.finish(f"{server.base}, workers {server.worker_pids()}")
    api = Api(server.port, key)
    spy = PySpy(RESULTS, stamp, args.py_spy) if args.py_spy else None
    ctx = Ctx(server=server, key=key, user=user, dsn=args.dsn, clients=args.clients, password=password, spy=spy,
              quick=args.quick, log_dir=Path(tempfile.gettempdir()))
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
            prof = RESULTS / f"cprofile-{stamp}-c-service.prof" if args.profile else None
            result["figures"]["c"] = figure_c(ctx, sizes["c_jobs"], prof)
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
