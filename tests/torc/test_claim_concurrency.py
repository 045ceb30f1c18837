"""No job is ever handed to two claimers: 4 OS processes drain 20,000 ready jobs of one workflow
through apps.jobs.services.claim on PostgreSQL (FOR UPDATE SKIP LOCKED) at the same time.

Each claimer is a separate interpreter (subprocess, `python -c`) with its own connection to the
test database; they set Django up, report "ready", wait for one "go" line on stdin so that they
start together, then claim 50 at a time until claim() returns [] and print the ids as JSON.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL: set DATABASE_URL=postgres://..."),
]

ROOT = Path(__file__).resolve().parents[2]
N_JOBS = 20_000
PROCS = 4
BATCH = 50
TIMEOUT_S = 50

CLAIMER = """
import json, sys
import django
django.setup()
from apps.jobs.services import Scope, claim
from django.db import connection
workflow_id, who, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
connection.ensure_connection()
print("ready", flush=True)
sys.stdin.readline()  # go
got, calls = [], 0
while True:
    ids = claim(scope=Scope(workflow_id=workflow_id), claimer=who, limit=batch)
    calls += 1
    if not ids:
        break
    got.extend(ids)
connection.close()
print(json.dumps({"who": who, "ids": got, "calls": calls}), flush=True)
"""


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_<name>), not DATABASE_URL's."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{quote(s['NAME'], safe='')}"


def start_claimers(workflow_id: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": database_url(),
           "PYTHONPATH": str(ROOT)}
    return [subprocess.Popen([sys.executable, "-c", CLAIMER, str(workflow_id), f"p{i}", str(BATCH)], cwd=ROOT,
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            for i in range(PROCS)]


@pytest.mark.django_db(transaction=True)
def test_four_processes_never_claim_one_job_twice():
    from apps.groups.services import user_create
    from apps.jobs.models import Job
    from apps.jobs.services import initialize_workflow, jobs_create
    from apps.jobs.states import Status
    from apps.workflows.services import workflow_create

    assert connection.vendor == "postgresql"
    user = user_create(username="claimer", password="pw-claimer")
    workflow = workflow_create(owner=user, name="claim-concurrency")
    ids = jobs_create(workflow=workflow, owner=user,
                      items=[{"name": f"j{i}", "command": "true", "priority": i % 7} for i in range(N_JOBS)])
    workflow.refresh_from_db()
    summary = initialize_workflow(workflow=workflow)
    assert summary["ready"] == N_JOBS
    assert len(ids) == N_JOBS

    procs = start_claimers(workflow.pk)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        for p in procs:  # every claimer connected and waiting
            line = p.stdout.readline()
            assert line.strip() == "ready", (line, p.stderr.read() if p.poll() is not None else "")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = []
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert p.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    by_process = {r["who"]: r["ids"] for r in reports}
    assert sorted(by_process) == [f"p{i}" for i in range(PROCS)]
    every = [job_id for got in by_process.values() for job_id in got]
    assert len(every) == len(set(every)), "a job was handed to two claimers"
    assert set(every) == set(ids)
    assert len(every) == N_JOBS
    for who, got in by_process.items():
        assert got, f"{who} claimed nothing: the claimers did not run concurrently"

    rows = dict(Job.objects.filter(workflow=workflow).values_list("pk", "claimed_by"))
    assert len(rows) == N_JOBS
    expected = {job_id: who for who, got in by_process.items() for job_id in got}
    assert rows == expected
    assert set(Job.objects.filter(workflow=workflow).values_list("status", flat=True)) == {Status.PENDING}
