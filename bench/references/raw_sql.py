"""The physical limit of a claim endpoint on this PostgreSQL: /work/shared/bench/pg_claim_limit.py
(4 processes, one UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING transaction per batch on a
5-column table), run as a subprocess on the bench database."""

import os
import re
import subprocess
import sys
from pathlib import Path

from .._util import CpuMeter, Progress

PG_CLAIM_LIMIT = Path(os.environ.get("PG_CLAIM_LIMIT", "/work/shared/bench/pg_claim_limit.py"))


def available() -> bool:
    return PG_CLAIM_LIMIT.exists()


def claim_limit(dsn: str, n: int, batch: int, procs: int, label: str) -> dict:
    """jobs/s of the raw claim; fails the run if the script fails or claims a row twice."""
    if not available():
        raise SystemExit(f"{PG_CLAIM_LIMIT} not found (set PG_CLAIM_LIMIT to its path)")
    progress = Progress(label, None)
    meter = CpuMeter({})
    meter.start()
    done = subprocess.run([sys.executable, str(PG_CLAIM_LIMIT), dsn, str(n), str(batch), str(procs)],
                          capture_output=True, text=True, timeout=900)
    match = re.search(r"jobs=(\d+) .*seconds=([\d.]+) jobs_per_s=(\d+) double_or_missed=(\d+)", done.stdout)
    if done.returncode or not match:
        progress.finish("! failed")
        raise SystemExit(f"{PG_CLAIM_LIMIT} failed: {done.stdout}\n{done.stderr}")
    out = {"jobs": int(match[1]), "batch": batch, "procs": procs, "seconds": float(match[2]),
           "jobs_per_s": int(match[3]), "double_or_missed": int(match[4]), "output": done.stdout.strip(),
           "cpu": meter.stop()}
    progress.finish(f"{out['jobs_per_s']:,}/s")
    return out
