"""Processes of the benchmarks: HTTP client processes released together, and worker
subprocesses (Drover's run_worker, a Celery or procrastinate worker) started and stopped by pid."""

import multiprocessing as mp
import os
import queue
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

from ._util import CpuMeter, Progress


class ClientFailure(RuntimeError):
    pass


def run_clients(target, args_for, n_clients: int, label: str, total: int, meter: CpuMeter | None = None,
                unit: str = "jobs", during=None, rss=None) -> tuple[float, list[dict], dict | None]:
    """Start n client processes (spawn) that call `target(*args_for(i), barrier, counter, results,
    i)`, release them together, wait for all; returns the wall time from release to the last
    report, the reports and the CPU used meanwhile. `during()`, if given, runs in a thread from
    the release on (a submitter racing the clients); its return value is reports[0]["during"].
    `rss`, an RssMeter, is started (peaks reset) at the release, the clients as its "worker"."""
    ctx = mp.get_context("spawn")
    barrier, counter, results = ctx.Barrier(n_clients + 1), ctx.Value("q", 0), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier, counter, results, i), daemon=True)
             for i in range(n_clients)]
    for p in procs:
        p.start()
    progress = Progress(label, total, unit)
    try:
        barrier.wait(timeout=180)
    except Exception:  # noqa: BLE001 - a client failed during warm-up; its report says why
        pass
    if rss:
        rss.groups.setdefault("worker", lambda: [p.pid for p in procs if p.is_alive()])
        rss.start(reset=True)
    if meter:
        meter.start()
    t0 = time.perf_counter()
    progress.t0 = t0
    side: dict = {}
    thread = None
    if during is not None:
        def run_during():
            try:
                side["value"] = during()
            except BaseException as exc:  # noqa: BLE001 - reported below
                side["error"] = repr(exc)
        thread = threading.Thread(target=run_during, daemon=True)
        thread.start()
    reports = []
    while len(reports) < n_clients:
        try:
            reports.append(results.get(timeout=0.2))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
            if side.get("error"):
                break
        progress.update(counter.value)
    if thread is not None:
        thread.join()
    elapsed = time.perf_counter() - t0
    cpu = meter.stop() if meter else None
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    errors = [r["error"] for r in reports if r["error"]] + ([side["error"]] if side.get("error") else [])
    if errors or len(reports) < n_clients:
        progress.finish("! failed")
        raise ClientFailure(f"{label}: {errors or 'a client died without reporting'}")
    progress.update(counter.value)
    progress.finish(f"{total / elapsed:,.0f}/s" if elapsed else "")
    reports = sorted(reports, key=lambda r: r["index"])
    if during is not None:
        reports[0]["during"] = side.get("value")
    return elapsed, reports, cpu


class Workers:
    """N worker subprocesses with their output in log files; stopped with SIGTERM (then SIGKILL)
    to the pids this object started, never by name."""

    def __init__(self, commands: list[list[str]], env: dict, cwd: Path, log_dir: Path, name: str):
        self.commands, self.env, self.cwd, self.log_dir, self.name = commands, env, cwd, log_dir, name
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.started_at = 0.0

    def start(self) -> None:
        self.started_at = time.perf_counter()
        for i, command in enumerate(self.commands):
            log = self.log_dir / f"bench-{self.name}-{os.getpid()}-{i}.log"
            with open(log, "wb") as out:
                self.procs.append(subprocess.Popen(command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                                   stdout=out, stderr=subprocess.STDOUT))
            self.logs.append(log)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def failed(self) -> list[str]:
        """Workers that exited with an error, with the tail of their log."""
        out = []
        for proc, log in zip(self.procs, self.logs):
            if proc.poll() not in (None, 0):
                tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
                out.append(f"{self.name}[{proc.pid}] exit {proc.returncode}: {tail}")
        return out

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True

    def stop(self, grace: float = 20.0) -> list[int | None]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return [p.returncode for p in self.procs]


def children_max_rss_mib() -> float:
    """The largest peak RSS of any child process waited for so far (getrusage)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
