"""Scenario 4, unblocking: completing n jobs that each release one dependent (in-process through
the services, and over HTTP from 4 client processes), and one job releasing a fan-out of many."""

from .._ctx import step
from . import rate, run_each, secs, skipped, verdict


def run(ctx, sizes: dict, dialects: dict) -> dict:
    n = sizes["unblock"]
    step(f"4. complete {n:,} jobs that each release one dependent")
    out = {"pairs": run_each(dialects, "unblock", lambda fn: fn(ctx, n))}
    step(f"4. fan-out: one job releasing {sizes['fan_out']:,} dependents")
    out["fan_out"] = run_each(dialects, "fan_out", lambda fn: fn(ctx, sizes["fan_out"], sizes["dag_batch"]))
    return out


def rows(result: dict) -> list[tuple]:
    out = []
    for dialect, r in result["pairs"].items():
        if "skipped" in r:
            out.append(skipped("4", f"{dialect} unblock", r["skipped"]))
            continue
        s, h = r["service"], r["http"]
        out.append(("4", f"{dialect} services start_job + complete_job x{s['jobs']:,}, each releasing one "
                         f"(complete_job alone {secs(s['complete_s'])})", secs(s["seconds"]), rate(s["jobs_per_s"]),
                    "", "", verdict(s["verified"])))
        out.append(("4", f"{dialect} HTTP start_job + complete_job x{h['jobs']:,}, {h['clients']} clients",
                    secs(h["seconds"]), rate(h["jobs_per_s"]), "", "", verdict(h["verified"])))
    for dialect, r in result["fan_out"].items():
        if "skipped" in r:
            out.append(skipped("4", f"{dialect} fan-out", r["skipped"]))
            continue
        out.append(("4", f"{dialect} fan-out: complete_job of one job releasing {r['dependents']:,}",
                    secs(r["complete_s"]), rate(r["released_per_s"], " released/s"), "", "", verdict(r["verified"])))
    return out


def targets(result: dict) -> list[dict]:
    return []
