"""A real Celery worker on the Redis from CI runs Drover's tasks (skipped without REDIS_URL)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REDIS_URL")

pytestmark = [pytest.mark.redis, pytest.mark.slow,
              pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL (CI does)")]


def test_celery_worker_on_redis_runs_a_task():
    from config.celery import app

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "REDIS_URL": REDIS_URL}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-Q", "drover-test", "-n", "test@%h"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False  # a real round trip
    try:
        assert app.conf.broker_url == REDIS_URL  # settings follow the environment
        result = app.send_task("drover.core.ping", queue="drover-test")  # never eager
        assert result.get(timeout=60) == "pong"
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        worker.wait(timeout=30)
