"""PostgreSQL and Redis for the suite: reuse the ones DATABASE_URL / REDIS_URL (or the dev
defaults) point at, or start private throwaway ones on free loopback ports the way .ci/run does
(initdb + pg_ctl as the postgres user when root; redis-server without persistence), stopped by
pid at the end."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from ._server import free_port

DEV_PG = "postgres://postgres@127.0.0.1:55499"
DEV_REDIS = "redis://127.0.0.1:56999/4"
BENCH_DB = "drover_bench"


def bench_dsn(explicit: str | None) -> str:
    """--dsn, else BENCH_DSN, else DATABASE_URL's server with the database drover_bench, else the
    dev server's. Only a database whose name contains "bench" is ever dropped."""
    if explicit or os.environ.get("BENCH_DSN"):
        return explicit or os.environ["BENCH_DSN"]
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        return urlsplit(base)._replace(path=f"/{BENCH_DB}").geturl()
    return f"{DEV_PG}/{BENCH_DB}"


def bench_redis(explicit: str | None) -> str:
    return explicit or os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or DEV_REDIS


def pg_answers(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(urlsplit(dsn)._replace(path="/postgres").geturl(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=3).ping())
    except Exception:  # noqa: BLE001 - any failure means "start our own"
        return False


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: [int(x) for x in
                                                                                    p.parent.parent.name.split(".")
                                                                                    if x.isdigit()])
    return found[-1].parent if found else None


class PrivateServices:
    """What this run started; stop() ends exactly those processes and removes their directories."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="drover-bench-services-"))
        self.pg_data: Path | None = None
        self.pg_bin: Path | None = None
        self.redis: subprocess.Popen | None = None
        self.started: list[str] = []

    def _as_postgres(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def postgres(self) -> str:
        self.pg_bin = _pg_bin()
        if self.pg_bin is None:
            raise SystemExit("No PostgreSQL server binaries (/usr/lib/postgresql/*/bin): apt-get install postgresql, "
                             "or set DATABASE_URL / --dsn to a running server")
        self.pg_data = self.root / "pg"
        self.pg_data.mkdir()
        (self.root / "sock").mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            for path in (self.pg_data, self.root / "sock"):
                shutil.chown(path, "postgres", "postgres")
        subprocess.run(self._as_postgres([str(self.pg_bin / "initdb"), "-D", str(self.pg_data), "-U", "postgres",
                                          "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=trust",
                                          "--no-sync"]), check=True, capture_output=True, cwd=self.root)
        port = free_port()
        with open(self.pg_data / "postgresql.conf", "a") as conf:
            # As the dev server of this machine: no fsync (a throwaway cluster), commits synchronous.
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = "
                       f"'{self.root / 'sock'}'\nmax_connections = 200\nfsync = off\n")
        subprocess.run(self._as_postgres([str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), "-l",
                                          str(self.pg_data / "postgres.log"), "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, cwd=self.root)
        self.started.append(f"postgres 127.0.0.1:{port} ({self.pg_data})")
        return f"postgres://postgres@127.0.0.1:{port}/{BENCH_DB}"

    def redis_server(self) -> str:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("No redis-server: apt-get install redis-server, or set REDIS_URL / --redis-url")
        port = free_port()
        self.redis = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.root),
                                       "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 15
        while not redis_answers(url):
            if time.monotonic() > deadline or self.redis.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.1)
        self.started.append(f"redis 127.0.0.1:{port} (pid {self.redis.pid})")
        return url

    def stop(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=15)
        if self.pg_data is not None and (self.pg_data / "postmaster.pid").exists():
            subprocess.run(self._as_postgres([str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), "-m", "fast",
                                              "-w", "stop"]), capture_output=True, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def ensure(dsn: str, redis_url: str, *, start: bool) -> tuple[str, str, PrivateServices | None]:
    """The (dsn, redis_url) to use; private servers are started for those that do not answer
    when `start` (otherwise a clear error)."""
    private = None
    try:
        if not pg_answers(dsn):
            if not start:
                raise SystemExit(f"PostgreSQL at {urlsplit(dsn).netloc} does not answer (drop --no-start-services to "
                                 f"start a private one)")
            private = PrivateServices()
            dsn = private.postgres()
        if not redis_answers(redis_url):
            if not start:
                raise SystemExit(f"Redis at {redis_url} does not answer (drop --no-start-services to start one)")
            private = private or PrivateServices()
            redis_url = private.redis_server()
    except BaseException:
        if private is not None:
            private.stop()
        raise
    return dsn, redis_url, private
