"""The system under test: a PostgreSQL database for the bench, migrated, and Drover served by
gunicorn with production settings (config.settings.prod)."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ._util import ROOT, Progress, child_pids

GUNICORN = {"workers": 4, "worker_class": "gthread", "threads": 4, "timeout": 300}


def db_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


def redacted(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        return dsn.replace(f":{parts.password}@", ":***@")
    return dsn


def reset_database(dsn: str, *, keep: bool) -> str:
    """Create the bench database; drop it first (a clean slate) unless `keep`. Only databases whose
    name contains "bench" are ever dropped."""
    import psycopg
    from psycopg import sql

    name = db_name(dsn)
    admin = urlsplit(dsn)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if exists and not keep and "bench" in name:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = False
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return "created"
    return "kept"


def server_env(dsn: str, settings: str = "config.settings.prod") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "DJANGO_SETTINGS_MODULE": settings,
        "SECRET_KEY": secrets.token_urlsafe(48),  # 64 random characters
        "DATABASE_URL": dsn,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DROVER_SSL_REDIRECT": "false",
        "DEBUG": "false",
        "PYTHONPATH": str(ROOT),
    })
    return env


def settings_used(env: dict) -> dict:
    keys = ("DJANGO_SETTINGS_MODULE", "ALLOWED_HOSTS", "DROVER_SSL_REDIRECT", "DEBUG", "DB_CONN_MAX_AGE",
            "DROVER_LEASE_SECONDS", "LOG_LEVEL", "REDIS_URL")
    out = {k: env.get(k) for k in keys}
    out.update({k: v for k, v in env.items() if k.startswith("BENCH_")})
    out["SECRET_KEY"] = f"<{len(env['SECRET_KEY'])} random characters>"
    out["DATABASE_URL"] = redacted(env["DATABASE_URL"])
    return out


def migrate(env: dict) -> None:
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"manage.py migrate failed:\n{done.stdout}\n{done.stderr}")



def prepare(dsn: str, settings: str, *, keep: bool) -> tuple[dict, str]:
    """The run's database created (or reused) and migrated, Django set up on it in this process;
    returns the server's environment and what became of the database ("created", "kept", ...)."""
    from . import _django

    progress = Progress("setup: create database + migrate", None)
    db_state = reset_database(dsn, keep=keep)
    env = server_env(dsn, settings)
    migrate(env)
    progress.finish(f"{redacted(dsn)} {db_state}")
    _django.django_setup(env)
    return env, db_state


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn config.wsgi -w 4 -k gthread --threads 4` on a free local port; stopped with
    SIGTERM to the master this object started (never by name)."""

    def __init__(self, env: dict, log_dir: Path, **overrides):
        self.env = env
        self.conf = {**GUNICORN, **overrides}
        self.port = free_port()
        self.log = log_dir / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        c = self.conf
        return [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(c["workers"]), "-k", c["worker_class"],
                "--threads", str(c["threads"]), "-b", f"127.0.0.1:{self.port}", "--timeout", str(c["timeout"]),
                "--no-control-socket", "--error-logfile", str(self.log)]

    def start(self) -> None:
        try:
            import gunicorn  # noqa: F401
        except ImportError:
            raise SystemExit("gunicorn is not installed: .venv/bin/pip install gunicorn==27.0.1 "
                             "(the pin of requirements/prod.txt)") from None
        # Django logs errors (tracebacks of 500s) to the workers' stderr: keep them next to gunicorn's.
        self.output = open(self.log.with_suffix(".out"), "ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.output, stderr=self.output)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}); see {self.log}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                    if r.status == 200 and len(self.worker_pids()) == self.conf["workers"]:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer /health within 60 s; see {self.log}")

    def worker_pids(self) -> list[int]:
        """The master's child processes, from /proc (for py-spy and the memory figures)."""
        return child_pids(self.proc.pid) if self.proc is not None else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.output.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
