"""Small helpers for the benchmarks: progress lines, percentiles, machine facts, the table."""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Progress:
    """One line per step: `label [#####.....] done/total unit  elapsed`. On a terminal the line is
    redrawn in place; otherwise it is printed every few seconds and at the end."""

    def __init__(self, label: str, total: int | None = None, unit: str = "jobs"):
        self.label, self.total, self.unit = label, total, unit
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.done_count = 0
        if self.tty:
            self._draw(force=True)
        else:
            self.last = time.perf_counter()

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        if self.total:
            width = 28
            filled = int(width * min(self.done_count, self.total) / self.total)
            return (f"  {self.label:<44} [{'#' * filled}{'.' * (width - filled)}] "
                    f"{self.done_count:>7,}/{self.total:,} {self.unit} {elapsed:6.1f}s")
        return f"  {self.label:<44} {'…':<30} {elapsed:6.1f}s"

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.tty and (force or now - self.last > 0.1):
            sys.stderr.write("\r" + self._line())
            sys.stderr.flush()
            self.last = now
        elif not self.tty and (force or now - self.last > 5):
            sys.stderr.write(self._line() + "\n")
            sys.stderr.flush()
            self.last = now

    def update(self, done: int) -> None:
        self.done_count = done
        self._draw()

    def finish(self, note: str = "") -> float:
        elapsed = time.perf_counter() - self.t0
        line = self._line() + (f"  {note}" if note else "")
        sys.stderr.write(("\r" if self.tty else "") + line + "\n")
        sys.stderr.flush()
        return elapsed


def percentiles(values: list[float], points=(50, 95, 99)) -> dict[str, float]:
    """Latency percentiles in milliseconds (nearest rank)."""
    if not values:
        return {}
    ordered = sorted(values)
    out = {}
    for p in points:
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        out[f"p{p}_ms"] = round(ordered[index] * 1000, 2)
    out["mean_ms"] = round(sum(ordered) / len(ordered) * 1000, 2)
    return out


def meminfo_kb(key: str = "MemTotal") -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git(*args: str) -> str | None:
    """Read-only git queries (rev-parse, status) about the checkout being measured."""
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict:
    total_kb = meminfo_kb("MemTotal")
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model(),
        "memory_total_kb": total_kb,
        "memory_total_gib": round(total_kb / 1024**2, 2) if total_kb else None,
        "memory_available_kb": meminfo_kb("MemAvailable"),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def table(rows: list[tuple], headers: tuple) -> str:
    cells = [tuple("" if c is None else str(c) for c in row) for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(headers), sep, *(fmt(r) for r in cells)])


# SECTION CPU accounting: who used the machine's cores during a step

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """user + system CPU seconds of one process (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_cpu_s() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICK, idle / TICK


BACKGROUND = ("checkpointer", "background writer", "walwriter", "autovacuum launcher",
              "logical replication launcher", "archiver")


def postgres_pids(dbname: str) -> list[int]:
    """Local PostgreSQL processes working for `dbname`: its backends and autovacuum workers (by
    their process titles, "postgres: user db 127.0.0.1(port) idle") and the server's background
    processes. Backends of other databases are left out."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if not title.startswith("postgres: "):
            continue
        words = title[len("postgres: "):].split()
        if dbname in words or title[len("postgres: "):] in BACKGROUND:
            pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used by groups of processes (gunicorn, PostgreSQL) and by the whole machine
    between start() and stop(). A group is a list of pids or a function returning one. A thread
    samples the groups every `interval` seconds, so processes born meanwhile count in full and
    processes that exit (Django reconnects every CONN_MAX_AGE seconds) count up to their last
    sample."""

    def __init__(self, groups: dict, interval: float = 0.25):
        self.groups, self.interval = groups, interval
        self.first: dict[str, dict[int, float]] = {}
        self.last: dict[str, dict[int, float]] = {}

    @staticmethod
    def _pids(group) -> list[int]:
        return list(group()) if callable(group) else list(group)

    def _sample(self, initial: bool = False) -> None:
        for name, group in self.groups.items():
            first, last = self.first.setdefault(name, {}), self.last.setdefault(name, {})
            for pid in self._pids(group):
                cpu = proc_cpu_s(pid)
                if pid not in first:
                    first[pid] = cpu if initial else 0.0
                if cpu >= last.get(pid, 0.0):
                    last[pid] = cpu

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._sample()

    def start(self) -> None:
        import threading

        self.t0 = time.perf_counter()
        self._sample(initial=True)
        self.machine0 = machine_cpu_s()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        busy1, idle1 = machine_cpu_s()
        self.stopping.set()
        self.thread.join()
        self._sample()
        out = {"wall_s": round(wall, 3)}
        for name in self.groups:
            first, last = self.first[name], self.last[name]
            out[f"{name}_cpu_s"] = round(sum(max(0.0, last[pid] - first[pid]) for pid in last), 3)
        out["machine_busy_s"] = round(busy1 - self.machine0[0], 3)
        out["machine_idle_s"] = round(idle1 - self.machine0[1], 3)
        out["machine_capacity_s"] = round(wall * (os.cpu_count() or 1), 3)
        return out


def busy_fraction(seconds: float = 1.0) -> float:
    """Share of the machine's CPU capacity in use over `seconds` (0..1)."""
    busy0, idle0 = machine_cpu_s()
    time.sleep(seconds)
    busy1, idle1 = machine_cpu_s()
    total = (busy1 - busy0) + (idle1 - idle0)
    return (busy1 - busy0) / total if total > 0 else 0.0


def wait_quiet(max_wait_s: float, threshold: float = 0.25) -> dict:
    """On a shared machine: wait (at most max_wait_s) until others use less than `threshold` of
    the CPU. Returns what was seen, for the results."""
    t0 = time.perf_counter()
    busy = busy_fraction(1.0)
    while busy > threshold and time.perf_counter() - t0 < max_wait_s:
        busy = busy_fraction(2.0)
    return {"busy_before": round(busy, 3), "waited_s": round(time.perf_counter() - t0, 1)}


# SECTION memory: peak resident set size of processes, from /proc


def proc_status_kb(pid: int, key: str) -> int | None:
    """A `kB` field of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: current RSS); None if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def reset_peak_rss(pid: int) -> bool:
    """Reset a process's VmHWM to its current RSS (Linux >= 4.0, writing 5 to clear_refs), so a
    long-lived server's peak can be measured for one scenario. False where not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child_pids(parent: int) -> list[int]:
    """Direct children of a process, from /proc (gunicorn's workers, celery's pool)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
    return sorted(pids)


class RssMeter:
    """Peak RSS (VmHWM) of groups of processes, sampled by a thread every `interval` seconds so a
    process that exits still counts with its last reading. A group is a list of pids or a
    function returning one. stop() gives, per group, the largest single-process peak and the sum
    of the processes' peaks (what the group held at most, if all peaked at once)."""

    def __init__(self, groups: dict, interval: float = 0.2):
        self.groups, self.interval = groups, interval
        self.peaks: dict[str, dict[int, int]] = {name: {} for name in groups}

    def _sample(self) -> None:
        for name, group in self.groups.items():
            for pid in (group() if callable(group) else group):
                kb = proc_status_kb(pid, "VmHWM")
                if kb is not None and kb > self.peaks[name].get(pid, 0):
                    self.peaks[name][pid] = kb

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._sample()

    def start(self, reset: bool = False) -> None:
        import threading

        self.reset = {}
        for name in self.groups:
            self.peaks.setdefault(name, {})
        if reset:
            for name, group in self.groups.items():
                self.reset[name] = all(reset_peak_rss(pid) for pid in (group() if callable(group) else group))
        self._sample()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sample_now(self) -> None:
        """Read once more (say, right before stopping processes)."""
        self._sample()

    def stop(self) -> dict:
        self.stopping.set()
        self.thread.join()
        self._sample()
        out = {}
        for name, peaks in self.peaks.items():
            out[name] = {"processes": len(peaks), "max_process_peak_mib": round(max(peaks.values(), default=0) / 1024, 1),
                         "sum_of_peaks_mib": round(sum(peaks.values()) / 1024, 1),
                         "peak_reset_at_start": self.reset.get(name, False)}
        return out
