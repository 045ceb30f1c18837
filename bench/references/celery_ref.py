"""Celery 5 on Redis, the reference of scenario 2: a real `celery worker` subprocess (prefork,
concurrency 2, acks_late) executes a group of N no-op tasks; measured from the first submit
to the last result received (the results are stored in Redis: the task is recorded)."""

import os
import sys
import time
from pathlib import Path

from .._procs import Workers
from .._util import ROOT, CpuMeter, Progress, RssMeter, child_pids


def available() -> str | None:
    """None, or why the reference cannot run."""
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed"
    return None


def ping(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - reported as the reason to skip
        return f"Redis at {url} does not answer: {exc}"
    return None


def run(url: str, n: int, concurrency: int, log_dir: Path, label: str) -> dict:
    from celery import group

    from . import celery_app

    queue = f"bench-ref-{os.getpid()}-{n}"
    celery_app.configure(url, queue)
    env = {**os.environ, "BENCH_CELERY_URL": url, "BENCH_CELERY_QUEUE": queue, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "celery", "-A", "bench.references.celery_app", "worker", "-P", "prefork",
               "-c", str(concurrency), "-Q", queue, "-n", f"{queue}@bench", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "-l", "WARNING"]
    workers = Workers([command], env, ROOT, log_dir, "celery")
    progress = Progress(f"{label} start celery worker -c {concurrency}", None)
    workers.start()
    try:
        celery_app.noop.delay(-1).get(timeout=120)  # the worker consumes: the clock may start
        boot_s = progress.finish()
        master = workers.procs[0].pid
        rss = RssMeter({"worker": lambda: [master, *child_pids(master)]})
        meter = CpuMeter({"celery": lambda: [master, *child_pids(master)]})
        progress = Progress(f"{label} celery group of {n:,} no-op tasks", n, "tasks")
        done = [0, 0.0]

        def on_result(task_id, value):
            done[0] += 1
            done[1] = time.time()
            if done[0] % 100 == 0:
                progress.update(done[0])

        rss.start(reset=True)
        meter.start()
        t0 = time.time()
        result = group(celery_app.noop.s(i) for i in range(n)).apply_async()
        submit_s = time.time() - t0
        result.join_native(timeout=1800, callback=on_result, interval=0.05)
        seconds = done[1] - t0
        cpu = meter.stop()
        memory = rss.stop()
        progress.update(done[0])
        progress.finish(f"{n / seconds:,.0f}/s")
        return {"system": "celery", "n": n, "concurrency": concurrency, "seconds": seconds, "jobs_per_s": n / seconds,
                "submit_s": submit_s, "boot_s": boot_s, "completed": done[0], "verified": done[0] == n,
                "memory": memory, "cpu": cpu,
                "settings": {"pool": "prefork", "acks_late": True, "prefetch_multiplier": 4, "broker": "redis",
                             "result_backend": "redis", "queue": queue, "submit": "one group, apply_async"}}
    finally:
        workers.stop()
        failed = workers.failed()
        if failed:
            sys.stderr.write("\n".join(failed) + "\n")
