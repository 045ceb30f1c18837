"""procrastinate on the same PostgreSQL, the other reference of scenario 2: its own database
(<bench db>_procrastinate, so Drover's tables are untouched), a real `procrastinate worker`
subprocess with concurrency 2 runs N no-op tasks deferred in batches of 1,000; measured from the
first defer to the last job recorded as succeeded (procrastinate_events)."""

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from .._procs import Workers
from .._util import ROOT, CpuMeter, Progress, RssMeter

BATCH = 1_000


def available() -> str | None:
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        return "procrastinate is not installed (pip install -r requirements/bench.txt)"
    return None


def database(dsn: str) -> str:
    """A fresh database of its own next to the bench database (dropped and created again)."""
    from .. import _server

    parts = urlsplit(dsn)
    own = parts._replace(path=f"/{_server.db_name(dsn)}_procrastinate").geturl()
    _server.reset_database(own, keep=False)
    return own


def run(dsn: str, n: int, concurrency: int, log_dir: Path, label: str) -> dict:
    import logging

    import psycopg

    logging.getLogger("procrastinate").setLevel(logging.WARNING)  # no line per defer amid the progress bars

    own = database(dsn)
    os.environ["BENCH_PROCRASTINATE_DSN"] = own
    from . import procrastinate_app

    app = procrastinate_app.app
    with app.open():
        app.schema_manager.apply_schema()
    env = {**os.environ, "BENCH_PROCRASTINATE_DSN": own, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "procrastinate", "--app=bench.references.procrastinate_app.app", "worker",
               f"--concurrency={concurrency}", "--queues=bench"]
    workers = Workers([command], env, ROOT, log_dir, "procrastinate")
    progress = Progress(f"{label} start procrastinate worker --concurrency {concurrency}", None)
    workers.start()
    try:
        with psycopg.connect(own, autocommit=True) as conn:
            count = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            with app.open():
                procrastinate_app.noop.defer(i=-1)
            deadline = time.monotonic() + 120
            while conn.execute(count).fetchone()[0] < 1:  # the worker runs jobs: the clock may start
                if time.monotonic() > deadline or workers.failed():
                    raise SystemExit(f"procrastinate worker did not start: {workers.failed()}")
                time.sleep(0.05)
            boot_s = progress.finish()
            rss = RssMeter({"worker": workers.pids})
            meter = CpuMeter({"procrastinate": workers.pids})
            progress = Progress(f"{label} procrastinate {n:,} no-op jobs", n, "jobs")
            rss.start(reset=True)
            meter.start()
            t0 = time.time()
            with app.open():
                for start in range(0, n, BATCH):
                    procrastinate_app.noop.batch_defer(*({"i": i} for i in range(start, min(n, start + BATCH))))
            submit_s = time.time() - t0
            while True:
                done = conn.execute(count).fetchone()[0] - 1
                progress.update(done)
                if done >= n or workers.failed():
                    break
                time.sleep(0.1)
            last = conn.execute("SELECT extract(epoch FROM max(at)) FROM procrastinate_events "
                                "WHERE type = 'succeeded'").fetchone()[0]
            cpu = meter.stop()
            memory = rss.stop()
        seconds = float(last) - t0
        progress.finish(f"{n / seconds:,.0f}/s")
        return {"system": "procrastinate", "n": n, "concurrency": concurrency, "seconds": seconds,
                "jobs_per_s": n / seconds, "submit_s": submit_s, "boot_s": boot_s, "completed": done,
                "verified": done == n, "memory": memory, "cpu": cpu,
                "settings": {"database": urlsplit(own).path.lstrip("/"), "queue": "bench",
                             "submit": f"batch_defer, {BATCH:,} a call", "worker": "listen/notify (default)"}}
    finally:
        workers.stop()
        failed = [f for f in workers.failed() if "exit -15" not in f]
        if failed:
            sys.stderr.write("\n".join(failed) + "\n")
