"""One load run (python -m bench.load, tests/test_load.py): the clients of bench._load_clients
started in a few 'spawn' processes, released together, run for the given seconds, then the
drain (submitters and readers stop, workers finish what was submitted, bounded), then their
measurements merged: per-operation counts, statuses and latency percentiles, failures."""

import multiprocessing as mp
import queue
import sys
import time
from collections import Counter

from ._load_clients import ROLES, client_process
from ._load_http import Shared
from ._util import CpuMeter, percentiles

SHARES = {"submitter": 0.2, "worker": 0.6, "reader": 0.2}  # of each dialect's half of the clients
START_TIMEOUT_S = 120.0
REPORT_TIMEOUT_S = 90.0  # after the drain: a client in a request waits at most its 60 s timeout


def assign_roles(clients: int) -> list[str]:
    """Half the clients per dialect (Torc gets the odd one); in each, 20% submitters, 60%
    workers, 20% readers, at least one of each."""
    if clients < len(ROLES):
        raise SystemExit(f"--clients: at least {len(ROLES)} (a submitter, a worker and a reader per dialect)")
    roles = []
    for dialect, n in (("torc", clients - clients // 2), ("mitosis", clients // 2)):
        submitters = max(1, round(n * SHARES["submitter"]))
        readers = max(1, round(n * SHARES["reader"]))
        workers = n - submitters - readers
        roles += ([f"{dialect}_submitter"] * submitters + [f"{dialect}_worker"] * workers
                  + [f"{dialect}_reader"] * readers)
    return roles


class Line:
    """The run's progress on stderr: redrawn in place on a terminal, a line every 5 s otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty and (force or now - self.last > 0.2):
            sys.stderr.write("\r  " + text.ljust(118)[:118])
        elif not self.tty and (force or now - self.last > 5):
            sys.stderr.write("  " + text + "\n")
        else:
            return
        sys.stderr.flush()
        self.last = now

    def end(self, text: str) -> None:
        self.show(text, force=True)
        if self.tty:
            sys.stderr.write("\n")


class Rate:
    """Requests per second over the last 5 seconds."""

    def __init__(self, t0: float):
        self.marks = [(t0, 0)]

    def __call__(self, now: float, requests: int) -> float:
        self.marks = [m for m in self.marks if now - m[0] <= 5] + [(now, requests)]
        first = self.marks[0]
        return (requests - first[1]) / max(1e-6, now - first[0])


def status_text(phase: str, elapsed: float, limit: float, counts: dict, rate: float) -> str:
    return (f"{phase} {elapsed:5.0f}/{limit:.0f}s  {counts['requests']:>8,} req ({rate:,.0f}/s)  "
            f"torc {counts['torc_finished']:,}/{counts['torc_submitted']:,}  "
            f"mitosis {counts['mitosis_finished']:,}/{counts['mitosis_submitted']:,}  failures {counts['failures']}")


def drained(counts: dict) -> bool:
    return counts["submitters"] == 0 and all(counts[f"{d}_finished"] >= counts[f"{d}_submitted"]
                                             for d in ("torc", "mitosis"))


def run(port: int, creds: dict, *, clients: int, seconds: float, drain_s: float, backlog: int,
        processes: int, meter_groups: dict | None = None) -> dict:
    """The run; creds: {"key": Torc API key, "token": Mitosis bearer token, "groups": [names]}.
    meter_groups: processes whose CPU time is measured from the start to the end of the drain
    (bench._util.CpuMeter groups; the client processes are added as "clients")."""
    roles = assign_roles(clients)
    ctx = mp.get_context("spawn")
    shared = Shared(ctx, backlog)
    results = ctx.Queue()
    processes = max(1, min(processes, clients))
    shares = [[(role, i) for i, role in enumerate(roles) if i % processes == p] for p in range(processes)]
    procs = [ctx.Process(target=client_process, args=(port, creds, share, shared, results), daemon=True)
             for share in shares]
    for proc in procs:
        proc.start()
    line = Line()
    meter = CpuMeter({**(meter_groups or {}), "clients": lambda: [p.pid for p in procs if p.is_alive()]})
    cpu = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while shared.get("ready") < clients:
            if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
                raise SystemExit(f"load: only {shared.get('ready')} of {clients} clients started")
            line.show(f"starting {shared.get('ready')}/{clients} clients")
            time.sleep(0.05)
        meter.start()
        shared.go.set()
        t0 = time.monotonic()
        rate = Rate(t0)
        phase_counts = {}
        while (now := time.monotonic()) - t0 < seconds:
            counts = shared.snapshot()
            line.show(status_text("run", now - t0, seconds, counts, rate(now, counts["requests"])))
            if not all(p.is_alive() for p in procs):
                break
            time.sleep(0.2)
        run_s = time.monotonic() - t0
        phase_counts["run"] = shared.snapshot()
        line.end(status_text("run", run_s, seconds, phase_counts["run"], phase_counts["run"]["requests"] / run_s))
        shared.stop_submit.set()
        t1 = time.monotonic()
        while not drained(counts := shared.snapshot()) and time.monotonic() - t1 < drain_s:
            now = time.monotonic()
            line.show(status_text("drain", now - t1, drain_s, counts, rate(now, counts["requests"])))
            if not any(p.is_alive() for p in procs):
                break
            time.sleep(0.2)
        drain_s_used = time.monotonic() - t1
        phase_counts["drain"] = counts = shared.snapshot()
        cpu = meter.stop()
        line.end(status_text("drain", drain_s_used, drain_s, counts,
                             (counts["requests"] - phase_counts["run"]["requests"]) / max(1e-6, drain_s_used))
                 + ("" if drained(counts) else "  TIMED OUT"))
    finally:
        shared.stop_submit.set()
        shared.stop_all.set()
        shared.go.set()  # clients still waiting to start leave at once
        reports = collect(results, procs)
    out = merge(reports, roles)
    out.update(clients=clients, processes=processes, seconds=seconds, run_s=round(run_s, 2),
               drain_limit_s=drain_s, drain_s=round(drain_s_used, 2), drained=drained(counts), backlog=backlog,
               counters=phase_counts, cpu=cpu,
               requests_per_s_run=round(phase_counts["run"]["requests"] / run_s, 1))
    return out


def collect(results, procs) -> list[dict]:
    reports = []
    deadline = time.monotonic() + REPORT_TIMEOUT_S
    while len(reports) < len(procs) and time.monotonic() < deadline:
        try:
            reports.append(results.get(timeout=0.5))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if len(reports) < len(procs):
        reports.append({"roles": [], "records": [{"error": f"{len(procs) - len(reports)} client process(es) did "
                                                            f"not report", "latencies": {}, "statuses": {},
                                                  "failures": {}, "samples": [], "ids": {}, "resends": 0}]})
    return reports


def merge(reports: list[dict], roles: list[str]) -> dict:
    """Per operation: requests, statuses, latency percentiles; failures by operation and kind;
    the ids each role recorded (for the exactly-once check)."""
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, Counter] = {}
    failures: Counter = Counter()
    samples, errors, ids = [], [], {}
    resends = 0
    for report in reports:
        for record in report["records"]:
            for op, values in record["latencies"].items():
                latencies.setdefault(op, []).extend(values)
            for op, counts in record["statuses"].items():
                statuses.setdefault(op, Counter()).update(counts)
            failures.update(record["failures"])
            samples += record["samples"]
            resends += record["resends"]
            if record["error"]:
                errors.append(record["error"])
            for what, values in record["ids"].items():
                ids.setdefault(what, []).extend(values)
    ops = {}
    for op in sorted(latencies):
        values = latencies[op]
        ops[op] = {"requests": len(values), "statuses": dict(statuses[op]), **percentiles(values),
                   "max_ms": round(max(values) * 1000, 2)}
    every = [x for values in latencies.values() for x in values]
    kinds = Counter()
    for key, n in failures.items():
        kinds[key.split("|")[1]] += n
    return {"roles": dict(Counter(roles)), "operations": ops,
            "totals": {"requests": len(every), **percentiles(every),
                       "5xx": kinds["5xx"], "connection_errors": kinds["connection"],
                       "unexpected": kinds["unexpected"], "keepalive_resends": resends},
            "failures": dict(failures), "failure_samples": samples[:50], "client_errors": errors, "ids": ids}
