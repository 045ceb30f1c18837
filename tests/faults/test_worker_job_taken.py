"""A job taken away from a real Torc worker while it runs (here: the workflow is canceled before
the worker announces the job with start_job): the server refuses the worker's start_job; the
worker must stop that job and carry on, not die with a traceback (which would also end every
other job it runs)."""

import os
import signal

import pytest

from apps.groups import services as groups
from apps.jobs.models import Job, Result
from apps.jobs.services import initialize_workflow
from apps.jobs.states import Status
from apps.workflows.services import workflow_cancel
from apps.workflows.spec import workflow_from_spec

from ._procs import kill_group, text, torc_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_worker_drops_a_job_the_server_took_away(live_server, alice, tmp_path):
    starts, ends = tmp_path / "starts", tmp_path / "ends"
    wf, ids = workflow_from_spec(owner=alice, spec={"name": "taken", "jobs": [
        {"name": "j", "command": f"echo $$ >> {starts}; sleep 20; echo done >> {ends}"}]})
    initialize_workflow(workflow=wf)
    _, key = groups.api_key_create(user=alice)
    log = tmp_path / "worker.log"
    proc = None
    try:
        proc = torc_worker(live_server.url, key, wf.pk, log)
        wait_for(lambda: starts.exists() and starts.read_text(), timeout=60, what="the job to start")
        assert Job.objects.get(pk=ids["j"]).status == Status.PENDING  # not announced yet (START_AFTER)
        workflow_cancel(workflow=wf)
        assert proc.wait(timeout=30) == 0
    finally:
        kill_group(proc)
        try:
            os.killpg(int(starts.read_text().split()[0]), signal.SIGKILL)
        except (FileNotFoundError, IndexError, ProcessLookupError, ValueError):
            pass
    output = text(log)
    assert "Traceback" not in output, output
    assert f"job {ids['j']} refused by the server (409)" in output, output
    assert not ends.exists()  # the worker stopped the job instead of running it for nothing
    assert Job.objects.get(pk=ids["j"]).status == Status.CANCELED
    assert not Result.objects.filter(job_id=ids["j"]).exists()
