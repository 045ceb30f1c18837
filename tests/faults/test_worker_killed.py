"""A Torc worker (`manage.py run_worker`, a real process) SIGKILLed while its job runs: the claim's
lease lapses, the real periodic apps.workers.services.expire_leases puts the job back with the
next attempt number, and of two fresh workers exactly one runs it again, exactly once."""

import os
import signal
import time

import pytest
from django.utils import timezone

from apps.groups import services as groups
from apps.jobs.models import Job, Result
from apps.jobs.services import initialize_workflow
from apps.jobs.states import Status
from apps.workers.models import ComputeNode
from apps.workers.services import expire_leases
from apps.workflows.models import Event
from apps.workflows.spec import workflow_from_spec

from ._procs import kill_group, text, torc_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LEASE = 4  # seconds; heartbeats every 0.3 s keep a live worker's claim far from lapsing


def lines(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_killed_worker_job_is_rerun_exactly_once_by_another_worker(live_server, alice, settings, tmp_path):
    settings.DROVER_LEASE_SECONDS = LEASE  # the live server runs in this process
    starts, ends = tmp_path / "starts", tmp_path / "ends"
    wf, ids = workflow_from_spec(owner=alice, spec={"name": "crash", "jobs": [
        {"name": "j", "command": f"echo $$ >> {starts}; sleep 3; echo $$ >> {ends}"}]})
    initialize_workflow(workflow=wf)
    job_id = ids["j"]
    _, key = groups.api_key_create(user=alice)
    procs, logs = [], [tmp_path / f"worker-{name}.log" for name in "abc"]
    try:
        first = torc_worker(live_server.url, key, wf.pk, logs[0])
        procs.append(first)
        wait_for(lambda: starts.exists() and lines(starts), timeout=60, what="the job to start on worker A")
        first.send_signal(signal.SIGKILL)  # the worker only: its job's process group lives on, as after a crash
        first.wait(timeout=10)
        held = Job.objects.get(pk=job_id)
        assert held.status in (Status.PENDING, Status.RUNNING) and held.claimed_by.startswith("compute_node:")
        node_a = held.compute_node_id
        os.killpg(int(lines(starts)[0]), signal.SIGKILL)  # ... and then the host goes: the job dies too

        # Before the lease lapses, expiry leaves the claim alone.
        assert expire_leases() == {"requeued": 0, "failed": 0}
        wait_for(lambda: Job.objects.get(pk=job_id).lease_expires_at < timezone.now(), timeout=75,
                 what="the dead worker's lease to lapse")
        assert expire_leases() == {"requeued": 1, "failed": 0}
        job = Job.objects.get(pk=job_id)
        assert (job.status, job.attempt, job.claimed_by, job.compute_node_id) == (Status.READY, 2, "", None)

        others = [torc_worker(live_server.url, key, wf.pk, log) for log in logs[1:]]
        procs += others
        deadline = time.monotonic() + 60
        while Job.objects.get(pk=job_id).status != Status.COMPLETED:  # the beat keeps running meanwhile
            assert expire_leases() == {"requeued": 0, "failed": 0}, "a live worker's lease expired"
            assert time.monotonic() < deadline, "the job was not re-run within 60 s"
            time.sleep(0.3)
        for proc in others:
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in procs:
            kill_group(proc)
    output = [text(log) for log in logs]

    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempt, job.exit_code, job.claimed_by) == (Status.COMPLETED, 2, 0, "")
    result = Result.objects.get(job_id=job_id)  # exactly one result: the re-run's
    assert (result.attempt, result.return_code) == (2, 0)
    assert result.compute_node_id != node_a
    assert ComputeNode.objects.filter(pk=result.compute_node_id, workflow=wf).exists()
    assert len(lines(starts)) == 2 and len(lines(ends)) == 1  # the killed run and one re-run, which finished
    assert lines(ends) == lines(starts)[1:]
    assert sum("worker: done, 1 completed" in text for text in output[1:]) == 1, output
    claims = [data for data in Event.objects.filter(workflow=wf, category="jobs_claimed").values_list("data",
                                                                                                       flat=True)]
    assert sum(data["job_ids"].count(job_id) for data in claims) == 2  # once per attempt
    expired = Event.objects.get(workflow=wf, category="leases_expired").data
    assert (expired["job_ids"], expired["requeued"]) == ([job_id], 1)
