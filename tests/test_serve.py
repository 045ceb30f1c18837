"""`make run`'s last step, for real: `manage.py serve` on a fresh SQLite file serves /health,
/console/ and /docs/ (with its static assets), and stops on SIGINT (Ctrl-C)."""

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_on_fresh_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DROVER_VAR_DIR=str(tmp_path), DJANGO_SUPERUSER_USERNAME="admin", DJANGO_SUPERUSER_PASSWORD="pw")
    py = [sys.executable, "manage.py"]
    for step in (["migrate", "--noinput"], ["ensure_superuser"], ["ensure_superuser"]):
        out = subprocess.run(py + step, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
    assert "exists" in out.stdout  # the second run finds the superuser and leaves it
    with sqlite3.connect(tmp_path / "drover.sqlite3") as db:  # WAL mode persists in the file
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT is_superuser FROM drover_user WHERE username='admin'").fetchone() == (1,)

    port = free_port()
    server = subprocess.Popen(py + ["serve", f"127.0.0.1:{port}"], cwd=BASE_DIR, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = get(base + "/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        assert (status, body) == (200, b'{"status":"ok"}')
        status, body = get(base + "/console/login/")
        assert status == 200 and b"Drover console" in body
        status, body = get(base + "/docs/")
        assert status == 200
        css = [part.split('"')[0] for part in body.decode().split('href="')[1:] if ".css" in part.split('"')[0]]
        assert css, body[:500]
        assert get(base + css[0])[0] == 200
        status, _ = get(base + "/static/admin/css/base.css")
        assert status == 200
        # createsuperuser's password works on every way in, Mitosis' md5 login included
        md5 = list(hashlib.md5(b"pw").digest())
        request = urllib.request.Request(base + "/login", data=json.dumps({"username": "admin", "md5_password": md5})
                                         .encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert "token" in json.loads(response.read())
        time.sleep(1.5)  # let the scheduler run its first round
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output = server.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode is not None
    assert "Embedded scheduler running 2 periodic task(s)" in output  # not the pool: the server runs no job
    assert "scheduled task" not in output  # no scheduled task failed or went missing
