"""Running one job's command: the one code path shared by `manage.py run_worker` (HTTP workers)
and the Celery pool (apps.jobs.tasks). Commands run as Torc's runner runs them, through
`bash -c "<invocation_script> <command>"`; output goes to files, so a chatty job can't block
on a full pipe, and the result keeps the tail of each stream."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

OUTPUT_TAIL = 64 * 1024  # bytes of stdout/stderr kept in a result


@dataclass
class Outcome:
    return_code: int
    stdout: str
    stderr: str
    exec_time_minutes: float


@dataclass
class Running:
    job_id: int
    process: subprocess.Popen
    started: float
    workdir: str
    cpus: int = 1
    memory_bytes: int = 0
    gpus: int = 0
    timeout_s: float | None = None
    extra: dict = field(default_factory=dict)

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is None and self.timeout_s and time.monotonic() - self.started > self.timeout_s:
            self.terminate()
            return self.process.wait()
        return code

    def terminate(self, grace: float = 5.0) -> None:
        """SIGTERM the job's process group, SIGKILL it after `grace` seconds."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def outcome(self) -> Outcome:
        code = self.process.wait()
        minutes = (time.monotonic() - self.started) / 60
        outcome = Outcome(return_code=code, stdout=_tail(os.path.join(self.workdir, "stdout")),
                          stderr=_tail(os.path.join(self.workdir, "stderr")), exec_time_minutes=minutes)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return outcome


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - OUTPUT_TAIL))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def shell_line(command: str, invocation_script: str | None) -> str:
    return f"{invocation_script} {command}" if invocation_script else command


def spawn(*, job_id: int, command: str, invocation_script: str | None = None, env: dict | None = None,
          cwd: str | None = None, timeout_s: float | None = None, **resources) -> Running:
    """Start the job in its own process group (so it can be stopped with everything it started)."""
    workdir = tempfile.mkdtemp(prefix=f"drover-job-{job_id}-")
    shell = shutil.which("bash") or "/bin/sh"
    with open(os.path.join(workdir, "stdout"), "wb") as out, open(os.path.join(workdir, "stderr"), "wb") as err:
        process = subprocess.Popen(  # noqa: S603 - the operator's worker runs the job's own command
            [shell, "-c", shell_line(command, invocation_script)], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            cwd=cwd, env={**os.environ, **(env or {})}, start_new_session=True,
        )
    return Running(job_id=job_id, process=process, started=time.monotonic(), workdir=workdir, timeout_s=timeout_s,
                   **resources)


def run(**kwargs) -> Outcome:
    """Spawn and wait: the Celery pool runs one job per task this way."""
    running = spawn(**kwargs)
    try:
        running.process.wait(timeout=running.timeout_s)
    except subprocess.TimeoutExpired:
        running.terminate()
    return running.outcome()
