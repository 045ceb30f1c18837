"""Real processes for the fault tests: a Drover server subprocess, a private PostgreSQL cluster and
a private redis-server, each on a free loopback port, each stopped by the pid this module started
(process groups for the server and workers, pg_ctl for PostgreSQL). Every wait has a deadline."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SERVER_SETTINGS = "tests.faults.server_settings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.05):
    """predicate()'s first truthy value, or AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def kill_group(proc: subprocess.Popen | None, sig=signal.SIGKILL, *, wait: float = 10) -> None:
    """Signal the process group `proc` leads (it was started with start_new_session=True)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=wait)


def http(base: str, method: str, path: str, body=None, *, headers: dict | None = None, timeout: float = 30,
         raw: bytes | None = None) -> tuple[int, object]:
    """One request: (status, parsed JSON body or the text). Connection errors propagate."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def torc_worker(url: str, key: str, workflow_id: int, log: Path, *extra: str) -> subprocess.Popen:
    """`manage.py run_worker` in Torc mode, output to `log`, leader of its own process group (its
    jobs get theirs)."""
    env = {**os.environ, "DROVER_API_KEY": key, "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--url", url, "--workflow", str(workflow_id), "--cpus", "1",
             "--memory", "1g", "--poll", "0.1", "--heartbeat", "0.3", *extra],
            cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)


def text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


# SECTION the database the test itself uses, for a server subprocess


def current_db_env() -> dict:
    """Environment that points a server subprocess at the database this test runs on (the
    pytest-django test database: a transactional test's rows are visible to it)."""
    from django.db import connection

    sd = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = sd["USER"] + (f":{sd['PASSWORD']}" if sd.get("PASSWORD") else "")
        return {"DATABASE_URL": f"postgres://{auth}@{sd['HOST'] or '127.0.0.1'}:{sd['PORT'] or 5432}/{sd['NAME']}"}
    return {"DATABASE_URL": "", "DROVER_SQLITE_PATH": str(sd["NAME"])}


def server_env(db_env: dict, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DROVER_SQLITE_PATH")}
    env.update({"DJANGO_SETTINGS_MODULE": SERVER_SETTINGS, "PYTHONPATH": str(BASE_DIR), "DB_CONN_MAX_AGE": "0",
                "PYTHONUNBUFFERED": "1", **db_env, **extra})
    return env


class Server:
    """`manage.py serve --scheduler off` (threaded runserver, no reloader: one process to SIGKILL)."""

    def __init__(self, env: dict, log_dir: Path, *, port: int | None = None):
        self.env, self.port = env, port or free_port()
        self.log = log_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60) -> "Server":
        self.starts += 1
        with open(self.log, "ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "serve", f"127.0.0.1:{self.port}", "--scheduler", "off"],
                cwd=BASE_DIR, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

        def up():
            assert self.proc.poll() is None, f"server exited with {self.proc.returncode}:\n{self.output()[-3000:]}"
            try:
                return http(self.base, "GET", "/health", timeout=2)[0] == 200
            except OSError:
                return False

        wait_for(up, timeout=timeout, what="the server's /health", interval=0.1)
        return self

    def kill(self, sig=signal.SIGKILL) -> None:
        kill_group(self.proc, sig)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# SECTION private PostgreSQL and Redis


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    return found[-1].parent if found else None


class PrivatePostgres:
    """A throwaway cluster in a temp dir (initdb; run as the postgres user when we are root, as
    .ci/run does). Never the shared dev server."""

    def __init__(self):
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="drover-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()

    def _run(self, *command: str, timeout: float = 60) -> None:
        argv = [str(self.bin / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        # Output to a file, never a pipe: a postmaster started by pg_ctl inherits it and holds it open.
        with open(self.root / "pg_ctl.out", "ab") as out:
            subprocess.run(argv, check=True, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           cwd=self.root, timeout=timeout)

    def init(self) -> "PrivatePostgres":
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--no-locale")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = "
                       f"'{self.root}'\nfsync = off\nmax_connections = 100\n")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """redis-server without persistence on a fixed free port (so that a restart comes back where
    clients look for it)."""

    def __init__(self):
        self.exe = shutil.which("redis-server")
        self.root = Path(tempfile.mkdtemp(prefix="drover-faults-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen([self.exe, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
                                      str(self.root), "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

        def answers():
            assert self.proc.poll() is None, "redis-server exited"
            try:
                return redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
            except redis.RedisError:
                return False

        wait_for(answers, timeout=15, what="redis-server")

    def stop(self) -> None:
        kill_group(self.proc, signal.SIGTERM)
        self.proc = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
