"""Scenario 5, read paths: listing jobs page by page and counting jobs per status, from 4 client
processes: requests/s and p50/p99 latency."""

from .._ctx import step
from . import ms, rate, run_each, skipped, verdict


def run(ctx, sizes: dict, dialects: dict) -> dict:
    step(f"5. read paths: list {sizes['list_jobs']:,} jobs page by page, count per status")
    return {"dialects": run_each(dialects, "reads", lambda fn: fn(ctx, sizes))}


def rows(result: dict) -> list[tuple]:
    out = []
    for dialect, r in result["dialects"].items():
        if "skipped" in r:
            out.append(skipped("5", f"{dialect} read paths", r["skipped"]))
            continue
        for key in ("list", "count"):
            x = r[key]
            out.append(("5", f"{dialect} {x['what']} ({ms(x['latency'])})", rate(x["requests_per_s"], " req/s"),
                        rate(x.get("jobs_per_s"), " jobs/s") if key == "list" else "", "", "", verdict(x["verified"])))
    return out


def targets(result: dict) -> list[dict]:
    return []
