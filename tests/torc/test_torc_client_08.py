"""torc-client 0.8.0 (the release with one DefaultApi, matching the Rust server v0.8.0) in its
own virtualenv, against a live Drover. 0.8.0 and 0.35.0 cannot share an environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
VENV = BASE_DIR / "var" / "torc-client-0.8.0"
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def torc08_python():
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torc-client==0.8.0"],
                                 capture_output=True, text=True, timeout=600)
        if install.returncode != 0:
            import shutil

            shutil.rmtree(VENV, ignore_errors=True)
            pytest.fail(f"could not install torc-client==0.8.0 from PyPI:\n{install.stderr[-2000:]}")
    return python


def test_torc_client_080_runs_a_workflow(torc08_python, live_server, make_user):
    make_user("carol", "pw-carol")
    out = subprocess.run([str(torc08_python), str(BASE_DIR / "tests/torc/clients/torc08_flow.py"), live_server.url,
                          "carol", "pw-carol"], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("OK")
