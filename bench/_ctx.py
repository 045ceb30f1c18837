"""What every scenario shares: the server under test, the bench user's credentials, the CPU and
memory meters, step headings (with the optional wait for a quiet machine), optional py-spy."""

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import _server
from ._util import CpuMeter, RssMeter, busy_fraction, postgres_pids, wait_quiet

QUIET = {"max_wait_s": 0.0, "seen": []}


def step(title: str) -> None:
    """A step's heading; with --wait-quiet, first wait for the shared machine to calm down."""
    seen = wait_quiet(QUIET["max_wait_s"]) if QUIET["max_wait_s"] else {"busy_before": round(busy_fraction(0.5), 3)}
    QUIET["seen"].append({"step": title.split(" ", 1)[0], **seen})
    waited = f", waited {seen['waited_s']:.0f} s" if seen.get("waited_s") else ""
    sys.stderr.write(f"\n{title}  (machine {seen['busy_before']:.0%} busy{waited})\n")
    sys.stderr.flush()


@dataclass
class Ctx:
    server: object  # _server.Gunicorn
    key: str  # Torc: X-API-Key
    user: object
    dsn: str
    clients: int = 4
    password: str = ""  # Mitosis: /login
    spy: object = None
    quick: bool = False
    log_dir: Path = Path("/tmp")
    redis_url: str | None = None
    profiles: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)  # objects one scenario leaves for a later one

    @property
    def port(self) -> int:
        return self.server.port

    def meter(self, **extra) -> CpuMeter:
        """gunicorn (master + workers) and PostgreSQL (the bench database's backends, autovacuum
        and the background processes), found again at every sample: Django reconnects every
        CONN_MAX_AGE seconds."""
        server, name = self.server, _server.db_name(self.dsn)
        return CpuMeter({"gunicorn": lambda: [server.proc.pid, *server.worker_pids()],
                         "postgres": lambda: postgres_pids(name), **extra})

    def rss(self, **extra) -> RssMeter:
        server = self.server
        return RssMeter({"server": lambda: [server.proc.pid, *server.worker_pids()], **extra})

    def spy_start(self, name: str) -> None:
        if self.spy:
            self.spy.start(name, self.server.worker_pids())

    def spy_stop(self, name: str) -> None:
        if self.spy:
            self.profiles[name] = self.spy.stop()


def per_unit(cpu: dict, units: int, clients_cpu_s: float | None = None) -> dict:
    """CPU milliseconds per request (or job) of each group, for the report."""
    out = dict(cpu)
    if clients_cpu_s is not None:
        out["clients_cpu_s"] = round(clients_cpu_s, 3)
    known = sum(v for k, v in out.items() if k.endswith("_cpu_s"))
    out["other_cpu_s"] = round(max(0.0, out["machine_busy_s"] - known), 3)
    out["per_unit_ms"] = {k[:-6]: round(1000 * v / units, 3) for k, v in out.items() if k.endswith("_cpu_s")}
    out["per_unit_ms"]["machine_busy"] = round(1000 * out["machine_busy_s"] / units, 3)
    return out


class PySpy:
    """py-spy sampling the gunicorn workers during HTTP steps (optional; `pip install py-spy`)."""

    def __init__(self, out_dir: Path, stamp: str, fmt: str):
        import shutil

        local = Path(sys.executable).parent / "py-spy"
        self.exe = shutil.which("py-spy") or (str(local) if local.exists() else None)
        self.out_dir, self.stamp, self.fmt = out_dir, stamp, fmt
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        if not self.exe:
            raise SystemExit("--py-spy: py-spy not found (pip install -r requirements/bench.txt)")

    def start(self, name: str, pids: list[int]) -> None:
        ext = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[self.fmt]
        for pid in pids:
            path = self.out_dir / f"pyspy-{self.stamp}-{name}-{pid}.{ext}"
            proc = subprocess.Popen([self.exe, "record", "--pid", str(pid), "--rate", "250", "--format", self.fmt,
                                     "--output", str(path), "--nonblocking"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append((proc, path))

    def stop(self) -> list[str]:
        import signal

        paths = []
        for proc, _ in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc, path in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            paths.append(str(path))
        self.procs = []
        return paths
