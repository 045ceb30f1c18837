"""The load test of issue 7: 50 concurrent clients mixing submits, claims, reports and reads over
both dialects against gunicorn with production settings on PostgreSQL, for 2 minutes; then a
drain and the exactly-once check in SQL.

    python -m bench.load [--clients 50] [--seconds 120] [--dsn postgres://...]

Torc clients (X-API-Key): submitters create a workflow, bulk_jobs parents and children,
initialize_jobs; workers register a compute node, claim_next_jobs and report with start_job +
complete_job or batch_complete_jobs; readers list workflows, read a status, list_jobs, count.
Mitosis clients (bearer token from /login): submitters POST /tasks and /tasks/submit; registered
workers fetch GET /workers/tasks and report Finish + Commit; readers POST /tasks/query and GET
/tasks/{uuid}. Passes when there is no 5xx, no connection error, no unexpected answer, the drain
ends in time and every submitted job ended exactly once (bench/_load_check.py). Writes
bench/results/load-<stamp>.json and prints a table; docs/RELIABILITY.md has a run's figures."""

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from . import _django, _server, _services
from ._ctx import per_unit
from ._load_check import check
from ._load_run import run
from ._mitosis_clients import login
from ._util import ROOT, Progress, machine_info, postgres_pids, table, wait_quiet

RESULTS = ROOT / "bench" / "results"
LOAD_DB = "drover_load_bench"  # its own database: "bench" in the name lets reset_database drop it
GROUPS = 3  # Mitosis groups the tasks go to; every worker serves all of them


def load_dsn(explicit: str | None) -> str:
    """--dsn, else DATABASE_URL's server with the database drover_load_bench, else the dev
    server's."""
    if explicit:
        return explicit
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        return urlsplit(base)._replace(path=f"/{LOAD_DB}").geturl()
    return f"{_services.DEV_PG}/{LOAD_DB}"


def credentials(groups: int = GROUPS) -> tuple[object, str, str, list[str]]:
    """With Django set up on the server's database: a fresh user with an API key (Torc) and a
    password (Mitosis /login), and its groups for the tasks."""
    from ._django import bench_user, mitosis_group

    user, key, password = bench_user()
    return user, key, password, [mitosis_group(user, f"load-{user.username}-{i}") for i in range(groups)]


def execute(server, dsn: str, user, key: str, password: str, groups: list[str], *, clients: int = 50,
            seconds: float = 120, drain_s: float = 120, backlog: int = 500, processes: int = 4) -> dict:
    """The run against a server already up (a bench._server.Gunicorn), then the SQL check;
    result["ok"] is the verdict, result["ids"] what the clients recorded."""
    token = login(server.port, user.username, password)
    name = _server.db_name(dsn)
    result = run(server.port, {"key": key, "token": token, "groups": groups}, clients=clients, seconds=seconds,
                 drain_s=drain_s, backlog=backlog, processes=processes,
                 meter_groups={"gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
                               "postgres": lambda: postgres_pids(name)})
    result["cpu"] = per_unit(result["cpu"], result["totals"]["requests"])
    progress = Progress("exactly-once check (SQL)", None)
    result["exactly_once"] = check(dsn, user.pk, result["ids"])
    progress.finish("verified" if result["exactly_once"]["verified"] else "NOT VERIFIED")
    totals = result["totals"]
    result["problems"] = [what for what, bad in (
        (f"{totals['5xx']} 5xx", totals["5xx"]), (f"{totals['connection_errors']} connection errors",
                                                   totals["connection_errors"]),
        (f"{totals['unexpected']} unexpected answers", totals["unexpected"]),
        (f"client errors: {result['client_errors']}", result["client_errors"]),
        ("the drain timed out", not result["drained"]),
        ("exactly-once not verified", not result["exactly_once"]["verified"])) if bad]
    result["ok"] = not result["problems"]
    return result


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=50, help="concurrent clients, half per dialect (50)")
    p.add_argument("--seconds", type=float, default=120, help="how long the clients run (120)")
    p.add_argument("--drain", type=float, default=120, help="at most this long for the workers to finish what "
                                                           "was submitted after the run (120)")
    p.add_argument("--backlog", type=int, default=500, help="submitters of a dialect wait while this many of its "
                                                            "jobs are unfinished (500)")
    p.add_argument("--processes", type=int, default=4, help="client processes; the clients are threads in them (4)")
    p.add_argument("--dsn", help=f"PostgreSQL URL (default: DATABASE_URL's server with database {LOAD_DB}, else "
                                 f"{_services.DEV_PG}); a database whose name contains 'bench' is dropped and created "
                                 f"again unless --keep-db")
    p.add_argument("--keep-db", action="store_true", help="do not drop the database first")
    p.add_argument("--no-start-services", dest="start_services", action="store_false",
                   help="fail instead of starting a private PostgreSQL when the one given does not answer")
    p.add_argument("--workers", type=int, default=_server.GUNICORN["workers"], help="gunicorn workers (4)")
    p.add_argument("--threads", type=int, default=_server.GUNICORN["threads"], help="threads a gunicorn worker (4)")
    p.add_argument("--worker-class", default=_server.GUNICORN["worker_class"], help="gunicorn -k (gthread)")
    p.add_argument("--settings", default="config.settings.prod", help="the server's DJANGO_SETTINGS_MODULE")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before the run wait up to SECONDS for the shared machine to be < 25%% busy")
    p.add_argument("--show", metavar="JSON", help="print the table of an earlier results file and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.show:
        result = json.loads(Path(args.show).read_text())
        print_report(result)
        return 0 if result.get("ok") else 1
    from .suite import git_info

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()
    dsn, private = load_dsn(args.dsn), None
    if not _services.pg_answers(dsn):
        if not args.start_services:
            raise SystemExit(f"PostgreSQL at {urlsplit(dsn).netloc} does not answer")
        private = _services.PrivateServices()
        dsn = urlsplit(private.postgres())._replace(path=f"/{LOAD_DB}").geturl()
    server = None
    try:
        env, db_state = _server.prepare(dsn, args.settings, keep=args.keep_db)
        user, key, password, groups = credentials()
        server = _server.Gunicorn(env, Path(tempfile.gettempdir()), workers=args.workers, threads=args.threads,
                                  worker_class=args.worker_class)
        progress = Progress("setup: start gunicorn", None)
        server.start()
        progress.finish(f"{server.base}, workers {server.worker_pids()}")
        quiet = wait_quiet(args.wait_quiet) if args.wait_quiet else None
        sys.stderr.write(f"\nload: {args.clients} clients for {args.seconds:.0f} s, then a drain of at most "
                         f"{args.drain:.0f} s\n")
        result = {
            "benchmark": "load (issue 7)", "started_utc": stamp, "machine": machine_info(),
            "versions": _django.versions(), "git": git_info(),
            "settings": {"dsn": _server.redacted(dsn), "database": db_state,
                         "services_started": private.started if private else [],
                         "gunicorn": {**server.conf, "command": " ".join(server.command()[2:]), "log": str(server.log),
                                      "output": str(server.log.with_suffix(".out"))},
                         "env": _server.settings_used(env), "groups": groups, "wait_quiet": quiet,
                         "auth": "Torc X-API-Key; Mitosis bearer token from /login",
                         "client": "http.client keep-alive, one connection a client thread, threads in "
                                   f"{args.processes} spawn processes",
                         "command": "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:])},
        }
        result.update(execute(server, dsn, user, key, password, groups, clients=args.clients,
                              seconds=args.seconds, drain_s=args.drain, backlog=args.backlog,
                              processes=args.processes))
    finally:
        if server is not None:
            server.stop()
        if private is not None:
            private.stop()
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    result.pop("ids")  # thousands of ids: checked, not kept
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    print_report(result)
    print(f"\nresults: {out.relative_to(ROOT)}")
    return 0 if result["ok"] else 1


def print_report(result: dict) -> None:
    rows = []
    for op, o in result["operations"].items():
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(o["statuses"].items()))
        rows.append((op, f"{o['requests']:,}", statuses, o.get("p50_ms"), o.get("p99_ms"), o.get("max_ms")))
    t = result["totals"]
    failures = f"5xx: {t['5xx']}, connection errors: {t['connection_errors']}, unexpected: {t['unexpected']}"
    rows.append(("all", f"{t['requests']:,}", failures, t.get("p50_ms"), t.get("p99_ms"),
                 max((o["max_ms"] for o in result["operations"].values()), default=None)))
    print(table(rows, ("operation", "requests", "statuses", "p50 ms", "p99 ms", "max ms")))
    print(f"\n{result['clients']} clients ({', '.join(f'{n} {r}' for r, n in result['roles'].items())}), "
          f"{result['run_s']:.0f} s run at {result['requests_per_s_run']:,.0f} requests/s, drain "
          f"{result['drain_s']:.1f} s{'' if result['drained'] else ' (TIMED OUT)'}")
    cpu = result.get("cpu")
    if cpu:
        print(f"CPU seconds from the start to the end of the drain: gunicorn {cpu['gunicorn_cpu_s']:.0f}, PostgreSQL "
              f"{cpu['postgres_cpu_s']:.0f}, clients {cpu['clients_cpu_s']:.0f}, others {cpu['other_cpu_s']:.0f}; "
              f"machine busy {cpu['machine_busy_s']:.0f} of {cpu['machine_capacity_s']:.0f}")
    rows = []
    for dialect in ("torc", "mitosis"):
        d = result["exactly_once"][dialect]
        rows.append((dialect, f"{d['submitted']:,}", f"{d['in_database']:,}", d["lost"], d["not_completed"],
                     d["results_not_1"], d["server_claims_not_1"], d["server_completions_not_1"],
                     d["client_claims_duplicated"], "yes" if d["verified"] else "NO"))
    print()
    print(table(rows, ("dialect", "submitted", "in database", "lost", "not completed", "results != 1",
                       "claims != 1", "completions != 1", "claimed twice (clients)", "exactly once")))
    if result["failure_samples"]:
        print("\nfailures (samples):")
        for sample in result["failure_samples"][:10]:
            print(f"  {sample['op']} {sample['kind']} {sample['status']}: {sample['detail'][:200]}")
    print("\nPASS" if result["ok"] else "\nFAIL: " + "; ".join(result["problems"]))


if __name__ == "__main__":
    sys.exit(main())
