"""The built-in pool: a real Celery worker on Redis claims through the claim service and runs
a small DAG with the same runner as run_worker (skipped without REDIS_URL)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.jobs.models import Job, Result
from apps.jobs.services import initialize_workflow
from apps.jobs.states import Status
from apps.workers.pool import POOL_CLAIMER, claim_pool_jobs, run_claimed_job
from apps.workflows.spec import workflow_from_spec

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL")


def dag(owner, out):
    wf, ids = workflow_from_spec(owner=owner, spec={
        "name": "pooled", "queue": "celery",
        "jobs": [
            {"name": "a", "command": f"echo a > {out}/a"},
            {"name": "b", "command": f"cat {out}/a > {out}/b", "depends_on": ["a"]},
            {"name": "c", "command": f"cat {out}/b > {out}/c; echo done", "depends_on": ["b"]},
        ],
    })
    initialize_workflow(workflow=wf)
    return wf, ids


@pytest.mark.django_db
def test_pool_code_path_in_process(alice, tmp_path):
    """Same functions the Celery tasks call, run inline (the embedded mode)."""
    wf, ids = dag(alice, tmp_path)
    assert Job.objects.filter(workflow=wf, queue="celery").count() == 3
    for expected in ("a", "b", "c"):
        claimed = claim_pool_jobs()
        assert claimed == [ids[expected]]
        assert Job.objects.get(pk=claimed[0]).claimed_by == POOL_CLAIMER
        assert run_claimed_job(claimed[0]) == "completed"
    assert (tmp_path / "c").read_text() == "a\n"
    assert Result.objects.get(job_id=ids["c"]).stdout == "done\n"


@pytest.mark.django_db
def test_jobs_for_external_workers_are_not_taken_by_the_pool(alice):
    wf, _ = workflow_from_spec(owner=alice, spec={"name": "http", "jobs": [{"name": "x", "command": "true"}]})
    initialize_workflow(workflow=wf)
    assert claim_pool_jobs() == []


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL (CI does)")
@pytest.mark.django_db(transaction=True)
def test_real_celery_worker_runs_the_dag(alice, tmp_path):
    from config.celery import app

    wf, ids = dag(alice, tmp_path)
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    db = connection.settings_dict
    if connection.vendor == "postgresql":  # the worker must see the test database
        env["DATABASE_URL"] = (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/"
                               f"{db['NAME']}")
    else:
        env["DROVER_SQLITE_PATH"] = str(db["NAME"])
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-Q", "drover-pool-test", "-n", "pool@%h"],
        cwd=BASE_DIR, env={**env, "DROVER_CELERY_QUEUE": "drover-pool-test", "DROVER_CELERY_EAGER": "false"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        app.send_task("drover.jobs.dispatch_pool", queue="drover-pool-test")
        deadline = time.monotonic() + 90
        while Job.objects.filter(workflow=wf, status=Status.COMPLETED).count() < 3:
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "the pool did not finish the DAG"
            time.sleep(0.2)
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert (tmp_path / "c").read_text() == "a\n"
    assert Result.objects.filter(workflow=wf, return_code=0).count() == 3
    assert "drover.jobs.run_pool_job" in output
