"""Redis stopped under a running `celery beat` (its broker a private redis-server): beat keeps
running, logs each task it cannot send, and sends its periodic tasks again once Redis is back.
(The API, claiming and pub/sub under the same outage: test_redis_down.py.)"""

import shutil
import subprocess
import sys

import pytest
import redis

from ._procs import BASE_DIR, kill_group, server_env, text, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")]
QUEUE = "celery"  # CELERY_TASK_DEFAULT_QUEUE: no worker consumes it here, so sent tasks pile up


def queued(url: str) -> int:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).llen(QUEUE)
    except redis.RedisError:
        return -1


def test_beat_outlives_a_redis_outage_and_resumes(private_redis, tmp_path):
    log = tmp_path / "beat.log"
    env = server_env({"DATABASE_URL": "", "DROVER_SQLITE_PATH": str(tmp_path / "unused.sqlite3")},
                     REDIS_URL=private_redis.url)
    with open(log, "wb") as out:
        beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
                                 "-s", str(tmp_path / "schedule")], cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # dispatch-pool is due every 5 s: beat is sending
        wait_for(lambda: queued(private_redis.url) >= 1, timeout=30, what="beat's first task in Redis")

        private_redis.stop()
        # Celery's own message, one per due task while the broker is away (ERROR, with the cause)
        wait_for(lambda: "Couldn't apply scheduled task" in text(log), timeout=40, what="beat to log the lost broker")
        assert "Connection refused" in text(log)
        assert beat.poll() is None, text(log)[-3000:]

        private_redis.start()  # the same port, empty: what beat sends now is new
        wait_for(lambda: queued(private_redis.url) >= 1, timeout=60, what="beat's tasks after Redis returned")
        assert beat.poll() is None, text(log)[-3000:]
        assert "Sending due task dispatch-pool" in text(log)
    finally:
        kill_group(beat)
