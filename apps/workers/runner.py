"""Running one job's process: the one code path shared by `manage.py run_worker` (Torc and
Mitosis HTTP workers) and the Celery pool (apps.jobs.tasks). Torc commands run as Torc's runner
runs them, through `bash -c "<invocation_script> <command>"`; Mitosis tasks give an argv, run
without a shell. Output goes to files, so a chatty job can't block on a full pipe, and the
result keeps the tail of each stream (the whole files stay when the caller gives `log_dir`)."""

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
    owns_workdir: bool = True  # False: the caller's log_dir, left in place
    timed_out: bool = False

    @property
    def stdout_path(self) -> str:
        return os.path.join(self.workdir, "stdout")

    @property
    def stderr_path(self) -> str:
        return os.path.join(self.workdir, "stderr")

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is None and self.timeout_s and time.monotonic() - self.started > self.timeout_s:
            self.timed_out = True
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
        outcome = Outcome(return_code=code, stdout=_tail(self.stdout_path), stderr=_tail(self.stderr_path),
                          exec_time_minutes=minutes)
        if self.owns_workdir:
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


# Never handed to a job: the credentials of the worker or pool running it (a job is other people's
# code: a Mitosis worker runs every member's tasks) and the server's own secrets.
SECRET_NAMES = frozenset({"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
                          "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})
SECRET_PARTS = ("PASSWORD", "SECRET", "TOKEN", "PRIVATE_KEY", "API_KEY")
# What a pool job inherits from the Celery worker (a server-side process): only the basics.
POOL_INHERITS = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "TZ", "USER", "LOGNAME", "SHELL", "TERM"})


def job_environment(own: dict | None, *, inherit: str = "worker", base=None) -> dict:
    """The job's environment: its own variables over what it inherits. A worker started by its
    operator passes on its environment (modules, conda, the batch system's variables), less
    Drover's variables and anything named like a secret; the pool passes on only POOL_INHERITS."""
    base = os.environ if base is None else base
    if inherit == "pool":
        kept = {k: v for k, v in base.items() if k in POOL_INHERITS or k.startswith("LC_")}
    else:
        kept = {k: v for k, v in base.items() if not _secret(k)}
    return {**kept, **(own or {})}


def _secret(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_NAMES or upper.startswith("DROVER_") or any(part in upper for part in SECRET_PARTS)


def spawn(*, job_id: int, command: str | None = None, argv: list[str] | None = None,
          invocation_script: str | None = None, env: dict | None = None, cwd: str | None = None,
          timeout_s: float | None = None, log_dir: str | None = None, inherit: str = "worker",
          **resources) -> Running:
    """Start the job in its own process group (so it can be stopped with everything it started).
    `command` runs through bash; `argv` runs as is (its program looked up on the job's PATH).
    A program that cannot be started raises OSError."""
    if (command is None) == (argv is None):
        raise ValueError("give either command or argv")
    workdir = log_dir or tempfile.mkdtemp(prefix=f"drover-job-{job_id}-")
    full_env = job_environment(env, inherit=inherit)
    if argv is not None:
        args = list(argv)
    else:
        args = [shutil.which("bash") or "/bin/sh", "-c", shell_line(command, invocation_script)]
    try:
        with open(os.path.join(workdir, "stdout"), "wb") as out, open(os.path.join(workdir, "stderr"), "wb") as err:
            process = subprocess.Popen(  # noqa: S603 - the operator's worker runs the job's own command
                args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=full_env,
                start_new_session=True,
            )
    except OSError:
        if log_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Running(job_id=job_id, process=process, started=time.monotonic(), workdir=workdir, timeout_s=timeout_s,
                   owns_workdir=log_dir is None, **resources)


def run(**kwargs) -> Outcome:
    """Spawn and wait: the Celery pool runs one job per task this way."""
    running = spawn(**kwargs)
    try:
        running.process.wait(timeout=running.timeout_s)
    except subprocess.TimeoutExpired:
        running.timed_out = True
        running.terminate()
    return running.outcome()
