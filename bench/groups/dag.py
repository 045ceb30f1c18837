"""Scenario 3, DAG scale: n jobs as n/2 dependent pairs (one edge a pair) at growing n through
bulk creation + initialize_jobs, and a fan-in of many jobs into one; how the time grows is the
exponent of a power-law fit (target: near-linear)."""

from .._ctx import step
from ..analysis import power_law_fit
from . import rate, run_each, secs, skipped, verdict

TARGET_EXPONENT = 1.15  # "near-linear": 10x the jobs costs at most ~14x the time


def run(ctx, sizes: dict, dialects: dict) -> dict:
    out = {"sizes": {}, "fits": {}, "fan_in": {}}
    batch = sizes["dag_batch"]
    for n in sizes["dag_sizes"]:
        step(f"3. DAG scale: {n:,} jobs as {n // 2:,} pairs, bulk create in batches of {batch:,} + initialize_jobs")
        for dialect, r in run_each(dialects, "dag", lambda fn, n=n: fn(ctx, n, batch)).items():
            out["sizes"].setdefault(dialect, []).append(r)
    for dialect, results in out["sizes"].items():
        done = [r for r in results if "skipped" not in r]
        fits = {key: power_law_fit([r["jobs"] for r in done], [r[key] for r in done])
                for key in ("create_s", "initialize_s", "total_s")}
        total = fits["total_s"]
        if total:
            total["target"] = TARGET_EXPONENT
            total["met"] = total["exponent"] <= TARGET_EXPONENT
        out["fits"][dialect] = fits
    step(f"3. fan-in: {sizes['fan_in']:,} jobs into one")
    out["fan_in"] = run_each(dialects, "fan_in", lambda fn: fn(ctx, sizes["fan_in"], batch))
    return out


def rows(result: dict) -> list[tuple]:
    out = []
    for dialect, results in result["sizes"].items():
        for r in results:
            if "skipped" in r:
                out.append(skipped("3", f"{dialect} dag", r["skipped"]))
                continue
            out.append(("3", f"{dialect} {r['jobs']:,} jobs, {r['edges']:,} edges: create {secs(r['create_s'])} "
                             f"({r['requests']} bulk_jobs) + initialize {secs(r['initialize_s'])}",
                        secs(r["total_s"]), rate(r["jobs"] / r["total_s"], " jobs/s"), "", "", verdict(r["verified"])))
        fits = result["fits"].get(dialect) or {}
        if fits.get("total_s"):
            f = fits["total_s"]
            parts = ", ".join(f"{k[:-2]} n^{fits[k]['exponent']:.2f}" for k in ("create_s", "initialize_s") if fits[k])
            out.append(("3", f"{dialect} growth of create + initialize (power-law fit; {parts})",
                        f"n^{f['exponent']:.2f}", f"r2 {f['r2']:.3f}", "", f"<= n^{f['target']:g}", verdict(True, f["met"])))
    for dialect, r in result["fan_in"].items():
        if "skipped" in r:
            out.append(skipped("3", f"{dialect} fan-in", r["skipped"]))
            continue
        out.append(("3", f"{dialect} fan-in {r['jobs'] - 1:,} -> 1: create {secs(r['create_s'])} + initialize "
                         f"{secs(r['initialize_s'])}", secs(r["total_s"]), "", "", "", verdict(r["verified"])))
    return out


def targets(result: dict) -> list[dict]:
    return [{"scenario": "3", "what": f"{d} create + initialize growth", "target": f"exponent <= {f['total_s']['target']:g}",
             "value": f"{f['total_s']['exponent']:.2f}", "met": f["total_s"]["met"],
             "by": f"{f['total_s']['exponent'] - f['total_s']['target']:+.2f}"}
            for d, f in result["fits"].items() if f.get("total_s")]
