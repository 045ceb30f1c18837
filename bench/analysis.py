"""Numbers derived from measurements: the power-law fit of scenario 3 (time = a * n^k, least
squares on log-log), without numpy so CI's smoke test needs nothing more than the project."""

import math


def power_law_fit(sizes: list[float], seconds: list[float]) -> dict | None:
    """{"exponent": k, "coefficient": a, "r2": ...} of seconds = a * size^k; None with fewer than
    two usable points (sizes and times must be positive)."""
    points = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds) if n > 0 and t > 0]
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    k = sxy / sxx
    a = my - k * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - (a + k * x)) ** 2 for x, y in points)
    return {"exponent": round(k, 3), "coefficient": math.exp(a), "r2": round(1 - ss_res / ss_tot, 4) if ss_tot else 1.0,
            "points": len(points)}
