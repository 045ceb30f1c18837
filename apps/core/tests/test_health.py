import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_health_ok_without_credentials(api):
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_503_when_database_does_not_answer(tmp_path):
    """A real process whose PostgreSQL is unreachable (a closed port): /health says 503 JSON."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"postgres://nobody:x@127.0.0.1:{port}/none",
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "DB_CONN_MAX_AGE": "0"}
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/health');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    status, body = out.stdout.strip().split(" ", 1)
    assert status == "503"
    assert '"status": "unavailable"' in body
