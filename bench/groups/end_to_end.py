"""Scenario 2, end-to-end no-op jobs, and 6, memory: N jobs submitted in batches, run by 2 and 4
Drover worker processes (run_worker running `true`, or the dispatch-only client), from the first
submit to the last completion; Celery and procrastinate (concurrency 2) run the same N no-op
tasks in the same run. The figure is Drover / the faster reference. Peak RSS of the server and
of the workers is read during each run."""

import sys
import time

from .._ctx import step
from ..references import celery_ref, procrastinate_ref
from . import rate, secs, skipped, verdict

TARGET = 2.0  # Drover at least 2x the faster of Celery and procrastinate, issue 6
REF_CONCURRENCY = 2


def references(ctx, n: int) -> dict:
    out = {}
    why = celery_ref.available() or (celery_ref.ping(ctx.redis_url) if ctx.redis_url else "no Redis URL")
    out["celery"] = {"skipped": why} if why else celery_ref.run(ctx.redis_url, n, REF_CONCURRENCY, ctx.log_dir,
                                                                "celery")
    why = procrastinate_ref.available()
    out["procrastinate"] = {"skipped": why} if why else procrastinate_ref.run(ctx.dsn, n, REF_CONCURRENCY,
                                                                              ctx.log_dir, "procrastinate")
    for name, r in out.items():
        if "skipped" in r:
            sys.stderr.write(f"  {name}: skipped: {r['skipped']}\n")
    return out


def plan(dialects: dict, procs_list) -> list[tuple]:
    """(dialect, module, mode, procs), dispatch-only first and most processes first: the order
    in which a time budget keeps the runs that carry the target."""
    runs = [(name, module, mode, procs) for name, module in dialects.items() if hasattr(module, "end_to_end")
            for mode in module.E2E_MODES for procs in procs_list]
    return sorted(runs, key=lambda r: (r[2] != "noop", -r[3]))


def run(ctx, sizes: dict, dialects: dict) -> dict:
    """Every N; at the largest N (when there are several) only the runs whose time, estimated
    from the same run at the smaller N, fits in what is left of sizes["e2e_budget_s"]."""
    from ..scenarios import Skip

    budget = sizes.get("e2e_budget_s")
    out = {"sizes": [], "budget_s": budget}
    rates: dict[tuple, tuple[int, float]] = {}
    skip_mode: dict[tuple, str] = {}
    largest = max(sizes["e2e_n"])
    for n in sizes["e2e_n"]:
        step(f"2. {n:,} no-op jobs end to end: references (concurrency {REF_CONCURRENCY}), then Drover")
        refs = references(ctx, n)
        measured = [r["jobs_per_s"] for r in refs.values() if "skipped" not in r and r["verified"]]
        best = max(measured) if measured else None
        budgeted = bool(budget) and n == largest and len(sizes["e2e_n"]) > 1
        left = budget or 0.0
        drover = []
        for name, module, mode, procs in plan(dialects, sizes["e2e_procs"]):
            key = (name, mode, procs)
            base = {"dialect": name, "mode": mode, "n": n, "procs": procs}
            if (name, mode) in skip_mode:
                drover.append({**base, "skipped": skip_mode[(name, mode)]})
                continue
            if budgeted:
                small_n, small_rate = rates.get(key, (0, 0.0))
                estimate = n / small_rate * 1.15 + 15 if small_rate else None
                if estimate is None or estimate > left:
                    why = (f"estimated {estimate:,.0f} s from its {small_n:,}-job rate ({small_rate:,.0f}/s), more than "
                           f"the {left:,.0f} s left of the {budget:,.0f} s budget (--e2e-budget)" if estimate else
                           "no smaller run to estimate its time from")
                    sys.stderr.write(f"  {name} {mode} x{procs}: skipped: {why}\n")
                    drover.append({**base, "skipped": why})
                    continue
            t = time.perf_counter()
            try:
                r = module.end_to_end(ctx, n, procs, mode)
            except Skip as reason:
                sys.stderr.write(f"  {name} {mode}: skipped: {reason}\n")
                skip_mode[(name, mode)] = str(reason)
                drover.append({**base, "skipped": str(reason)})
                continue
            left -= time.perf_counter() - t
            rates[key] = (n, r["jobs_per_s"])
            if best:
                r["ratio"] = r["jobs_per_s"] / best
                r["met"] = r["ratio"] >= TARGET
            drover.append(r)
        out["sizes"].append({"n": n, "references": refs, "best_reference_jobs_per_s": best, "drover": drover})
    ctx.cache["mitosis_groups"] = {r["group"]: r["n"] for s in out["sizes"] for r in s["drover"] if "group" in r}
    return out


MODE = {"worker": "run_worker (`true`)", "noop": "dispatch-only client"}


def rows(result: dict) -> list[tuple]:
    out = []
    for size in result["sizes"]:
        n, best = size["n"], size["best_reference_jobs_per_s"]
        for name, r in size["references"].items():
            if "skipped" in r:
                out.append(skipped("2", f"{name} {n:,} no-op tasks", r["skipped"]))
            else:
                out.append(("2", f"{name} {n:,} no-op tasks, concurrency {r['concurrency']} ({secs(r['seconds'])},"
                                 f" submit {secs(r['submit_s'])})", rate(r["jobs_per_s"]), "(reference)", "", "",
                            verdict(r["verified"])))
        for r in sorted(size["drover"], key=lambda r: (r["dialect"], r["mode"] != "noop", r["procs"])):
            what = f"{r['dialect']} {MODE[r['mode']]} x{r['procs']}, {n:,} jobs"
            if "skipped" in r:
                out.append(skipped("2", what, r["skipped"]))
                continue
            ratio = f"{r['ratio']:.2f}x" if "ratio" in r else ""
            out.append(("2", f"{what} ({secs(r['seconds'])}, submit {secs(r['submit_s'])})", rate(r["jobs_per_s"]),
                        f"faster reference {rate(best)}" if best else "", ratio, f">= {TARGET:g}x" if best else "",
                        verdict(r["verified"], r.get("met"))))
    return out + memory_rows(result)


def memory_rows(result: dict) -> list[tuple]:
    """Scenario 6: peak RSS of each kind of run, at the largest N it ran with."""
    out, seen = [], set()
    for size in reversed(result["sizes"]):
        for r in sorted(size["drover"], key=lambda r: (r["dialect"], r["mode"] != "noop", r["procs"])):
            key = (r["dialect"], r["mode"], r["procs"])
            if "skipped" in r or key in seen:
                continue
            seen.add(key)
            server, worker = r["memory"].get("server", {}), r["memory"].get("worker", {})
            out.append(("6", f"peak RSS during {r['dialect']} {MODE[r['mode']]} x{r['procs']}, {size['n']:,} jobs",
                        f"server {server.get('max_process_peak_mib', 0):,.0f} MiB a process "
                        f"({server.get('sum_of_peaks_mib', 0):,.0f} MiB all {server.get('processes', 0)})",
                        f"worker {worker.get('max_process_peak_mib', 0):,.0f} MiB a process", "", "", ""))
    if result["sizes"]:
        size = result["sizes"][-1]
        for name, r in size["references"].items():
            if "skipped" not in r:
                worker = r["memory"]["worker"]
                count = worker["processes"]
                out.append(("6", f"peak RSS of the {name} worker, {size['n']:,} tasks ({count} "
                                 f"process{'es' if count != 1 else ''})", f"{worker['sum_of_peaks_mib']:,.0f} MiB",
                            "", "", "", ""))
    return out


def targets(result: dict) -> list[dict]:
    out = []
    for size in result["sizes"]:
        for r in size["drover"]:
            if "ratio" in r:
                out.append({"scenario": "2", "what": f"{r['dialect']} {MODE[r['mode']]} x{r['procs']}, {size['n']:,}",
                            "target": f">= {TARGET:g}x the faster reference", "value": f"{r['ratio']:.2f}x",
                            "met": r["met"] and r["verified"], "by": f"{r['ratio'] / TARGET:.2f}x of target"})
    return out
