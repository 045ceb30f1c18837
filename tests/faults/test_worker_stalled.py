"""A real Torc worker stalls (SIGSTOP: its clock and network stop for the server) past its lease
while its job finishes; the job is requeued and re-run by another worker. When the first worker
resumes (SIGCONT) it reports the result it has: that late report must be refused, and the job's
recorded result is the one of the worker holding the claim."""

import os
import signal
import time

import pytest
from django.utils import timezone

from apps.groups import services as groups
from apps.jobs.models import Job, Result
from apps.jobs.services import initialize_workflow
from apps.jobs.states import Status
from apps.workers.services import expire_leases
from apps.workflows.spec import workflow_from_spec

from ._procs import kill_group, text, torc_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LEASE = 3


def lines(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_stalled_worker_late_result_is_refused(live_server, alice, settings, tmp_path):
    settings.DROVER_LEASE_SECONDS = LEASE
    starts, ends = tmp_path / "starts", tmp_path / "ends"
    # The first run is short (done while its worker is stopped), the re-run long enough to be held.
    command = (f"echo $$ >> {starts}; if [ $(wc -l < {starts}) -eq 1 ]; then sleep 1; else sleep 5; fi; "
               f"echo $$ >> {ends}")
    wf, ids = workflow_from_spec(owner=alice, spec={"name": "stall", "jobs": [{"name": "j", "command": command}]})
    initialize_workflow(workflow=wf)
    job_id = ids["j"]
    _, key = groups.api_key_create(user=alice)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = b = None
    try:
        a = torc_worker(live_server.url, key, wf.pk, log_a)
        wait_for(lambda: lines(starts), timeout=60, what="the job to start on worker A")
        os.kill(a.pid, signal.SIGSTOP)  # the worker stalls; its job runs on and finishes
        node_a = Job.objects.get(pk=job_id).compute_node_id
        wait_for(lambda: lines(ends), timeout=10, what="A's run to finish")
        wait_for(lambda: Job.objects.get(pk=job_id).lease_expires_at < timezone.now(), timeout=75,
                 what="the stalled worker's lease to lapse")
        assert expire_leases() == {"requeued": 1, "failed": 0}

        b = torc_worker(live_server.url, key, wf.pk, log_b)
        wait_for(lambda: len(lines(starts)) == 2, timeout=60, what="the re-run to start on worker B")
        held = Job.objects.get(pk=job_id)
        assert held.claimed_by and held.compute_node_id != node_a and held.attempt == 2
        os.kill(a.pid, signal.SIGCONT)  # A resumes and reports its (finished) run at once
        deadline = time.monotonic() + 60
        while b.poll() is None or a.poll() is None:
            assert expire_leases()["requeued"] == 0, "a live worker's lease expired"
            assert time.monotonic() < deadline, "the workers did not finish within 60 s"
            time.sleep(0.3)
    finally:
        if a is not None and a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
        kill_group(a)
        kill_group(b)
        for pid in lines(starts):  # job process groups still alive after a failure
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    out_a, out_b = text(log_a), text(log_b)
    assert (a.returncode, b.returncode) == (0, 0), (out_a, out_b)
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempt, job.exit_code) == (Status.COMPLETED, 2, 0)
    result = Result.objects.get(job_id=job_id)
    assert result.compute_node_id == held.compute_node_id and result.attempt == 2, (out_a, out_b)
    assert "result refused" in out_a and "1 completed" in out_b
    assert len(lines(ends)) == 2  # both runs ended; only B's counts
