"""Scenario 1, the claim limit: the raw SQL claim (pg_claim_limit.py, batch 100 and 1, 4
processes) right before and after each dialect's claim over HTTP with 4 client processes; the
figure is HTTP / mean raw. Context rows: the stack's floor (GET /ping, GET /workflows/{id})."""

from .._ctx import step
from ..references import raw_sql
from . import ms, rate, run_each, skipped, verdict

TARGETS = {100: 0.35, 1: 0.25}  # HTTP / raw, issue 6


def run(ctx, sizes: dict, dialects: dict) -> dict:
    out = {"batches": {}}
    if "torc" in dialects:
        out["floor"] = dialects["torc"].floor(ctx, sizes["floor_requests"])
    for batch, n in ((100, sizes["claim_jobs"]), (1, sizes["claim1_jobs"])):
        step(f"1. claim {n:,} jobs, {batch} a request, {ctx.clients} client processes; raw PostgreSQL limit before "
             f"and after")
        before = raw_sql.claim_limit(ctx.dsn, n, batch, ctx.clients, f"raw pg_claim_limit.py batch {batch} (before)")
        http = run_each(dialects, "claim", lambda fn, n=n, batch=batch: fn(ctx, n, batch))
        after = raw_sql.claim_limit(ctx.dsn, n, batch, ctx.clients, f"raw pg_claim_limit.py batch {batch} (after)")
        raw = (before["jobs_per_s"] + after["jobs_per_s"]) / 2
        for result in http.values():
            if "skipped" not in result:
                result["ratio"] = result["jobs_per_s"] / raw
                result["target"] = TARGETS[batch]
                result["met"] = result["ratio"] >= TARGETS[batch]
        out["batches"][str(batch)] = {"jobs": n, "raw_before": before, "raw_after": after, "raw_jobs_per_s": raw,
                                      "http": http}
    return out


def rows(result: dict) -> list[tuple]:
    out = []
    for batch, x in result["batches"].items():
        raw = f"raw SQL {x['raw_jobs_per_s']:,.0f}/s"
        for dialect, r in x["http"].items():
            if "skipped" in r:
                out.append(skipped("1", f"{dialect} claim batch {batch}", r["skipped"]))
                continue
            out.append(("1", f"{r['what']}, {r['clients']} clients, {r['jobs']:,} jobs ({ms(r['latency'])})",
                        rate(r["jobs_per_s"]), raw, f"{r['ratio']:.0%}", f">= {r['target']:.0%}",
                        verdict(r["verified"], r["met"])))
    for x in (result.get("floor") or {}).values():
        out.append(("1", f"(context) HTTP GET {x['path'].split('/')[1]}, {x['requests']:,} requests",
                    rate(x["requests_per_s"], " req/s"), "", "", "", ""))
    return out


def targets(result: dict) -> list[dict]:
    return [{"scenario": "1", "what": f"{d} claim batch {b}", "target": f">= {r['target']:.0%} of raw SQL",
             "value": f"{r['ratio']:.0%}", "met": r["met"] and r["verified"],
             "by": f"{r['ratio'] / r['target']:.2f}x of target"}
            for b, x in result["batches"].items() for d, r in x["http"].items() if "skipped" not in r]
