"""The scenario groups of issue 6, one module each, in run order. A group runs its scenario for
every dialect in bench/scenarios that supports it, and the references measured in the same run;
`run(ctx, sizes) -> dict` measures, `rows(result) -> list[Row]` gives the report's lines.

A Row is (scenario, what, result, reference, ratio, target, verdict); "" where it has none."""

from importlib import import_module

GROUPS = ("claim", "end_to_end", "dag", "unblock", "reads")
ALIASES = {"1": "claim", "2": "end_to_end", "e2e": "end_to_end", "3": "dag", "4": "unblock", "5": "reads",
           "6": "end_to_end", "memory": "end_to_end"}


def load(name: str):
    return import_module(f"{__name__}.{name}")


def verdict(verified: bool, met: bool | None = None) -> str:
    """UNVERIFIED when the database check after the scenario failed (the run fails); otherwise
    the target's met/MISSED, or ok where there is no target."""
    if not verified:
        return "UNVERIFIED"
    return "ok" if met is None else ("met" if met else "MISSED")


def rate(x: float | None, unit: str = "/s") -> str:
    return "" if x is None else f"{x:,.0f}{unit}"


def secs(x: float | None) -> str:
    return "" if x is None else f"{x:.2f} s"


def ms(latency: dict) -> str:
    return f"p50 {latency.get('p50_ms', 0):.1f} / p99 {latency.get('p99_ms', 0):.1f} ms" if latency else ""


def skipped(scenario: str, what: str, reason: str) -> tuple:
    return (scenario, f"{what}: skipped ({reason})", "", "", "", "", "skipped")


def run_each(dialects: dict, function: str, call) -> dict:
    """{dialect: call(function) result, or {"skipped": reason}} for the dialects that have it."""
    from ..scenarios import Skip

    out = {}
    for name, module in dialects.items():
        fn = getattr(module, function, None)
        if fn is None:
            continue
        try:
            out[name] = call(fn)
        except Skip as reason:
            out[name] = {"skipped": str(reason)}
            import sys

            sys.stderr.write(f"  {name}: skipped: {reason}\n")
    return out
