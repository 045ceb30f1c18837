"""A worker whose clock or network stalls past its lease reports late: the report is refused and
the job's recorded result is the one of the worker that holds the lease now. Leases lapse for
real (a one-second lease, then the periodic expire_leases / expire_workers functions)."""

import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.jobs.models import Job, Result
from apps.jobs.services import initialize_workflow
from apps.jobs.states import Status
from apps.workers.mitosis import expire_workers
from apps.workers.models import Worker
from apps.workers.services import expire_leases
from apps.workflows.spec import workflow_from_spec

from ._procs import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
V1 = "/torc-service/v1"


# SECTION Torc


@pytest.fixture
def torc(alice, settings):
    """(client, workflow, job id, node A, node B) with a one-second lease."""
    settings.DROVER_LEASE_SECONDS = 1
    wf, ids = workflow_from_spec(owner=alice, spec={"name": "late", "jobs": [{"name": "j", "command": "true"}]})
    initialize_workflow(workflow=wf)
    _, key = groups.api_key_create(user=alice)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    nodes = []
    for host in ("a", "b"):
        response = client.post(f"{V1}/compute_nodes", {
            "workflow_id": wf.pk, "hostname": host, "pid": 1, "start_time": "2026-01-01T00:00:00Z", "num_cpus": 1,
            "memory_gb": 1, "num_gpus": 0, "num_nodes": 1, "compute_node_type": "local", "is_active": True},
            format="json")
        assert response.status_code == 200, response.content
        nodes.append(response.json()["id"])
    return client, wf, ids["j"], *nodes


def claim(client, wf, node) -> list[int]:
    response = client.post(f"{V1}/workflows/{wf.pk}/claim_jobs_based_on_resources/1",
                           {"id": node, "num_cpus": 1, "memory_gb": 1, "num_gpus": 0, "num_nodes": 1}, format="json")
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["jobs"]]


def result(wf, job_id, node, stdout) -> dict:
    return {"job_id": job_id, "workflow_id": wf.pk, "run_id": wf.run_id, "compute_node_id": node, "return_code": 0,
            "exec_time_minutes": 0.1, "completion_time": "2026-01-01T00:01:00Z", "status": "completed",
            "stdout": stdout, "stderr": ""}


def complete(client, wf, job_id, node, stdout):
    return client.post(f"{V1}/jobs/{job_id}/complete_job/completed/{wf.run_id}", result(wf, job_id, node, stdout),
                       format="json")


def batch_complete(client, wf, job_id, node, stdout) -> dict:
    response = client.post(f"{V1}/workflows/{wf.pk}/batch_complete_jobs", {"completions": [
        {"job_id": job_id, "run_id": wf.run_id, "status": "completed", "result": result(wf, job_id, node, stdout)}]},
        format="json")
    assert response.status_code == 200, response.content
    return response.json()


def lapse(job_id):
    """Let the claim's lease run out, then run the periodic expiry."""
    wait_for(lambda: Job.objects.get(pk=job_id).lease_expires_at < timezone.now(), timeout=10,
             what="the lease to lapse")
    assert expire_leases() == {"requeued": 1, "failed": 0}


def test_late_complete_job_of_a_requeued_job_is_refused(torc):
    client, wf, job_id, a, _ = torc
    assert claim(client, wf, a) == [job_id]
    lapse(job_id)
    late = complete(client, wf, job_id, a, "from A")
    assert late.status_code == 409, late.content
    assert "ready" in late.json()["error"]["message"]
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempt, job.exit_code) == (Status.READY, 2, None)
    assert not Result.objects.exists()


def test_late_complete_job_is_refused_while_another_node_holds_the_job(torc):
    client, wf, job_id, a, b = torc
    assert claim(client, wf, a) == [job_id]
    lapse(job_id)
    assert claim(client, wf, b) == [job_id]
    late = complete(client, wf, job_id, a, "from A")
    assert late.status_code == 409, late.content
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.claimed_by) == (Status.PENDING, f"compute_node:{b}")
    assert not Result.objects.exists()
    assert complete(client, wf, job_id, b, "from B").status_code == 200
    row = Result.objects.get(job_id=job_id)
    assert (row.compute_node_id, row.stdout, row.attempt) == (b, "from B", 2)


def test_late_batch_completion_is_refused_while_another_node_holds_the_job(torc):
    client, wf, job_id, a, b = torc
    assert claim(client, wf, a) == [job_id]
    lapse(job_id)
    assert claim(client, wf, b) == [job_id]
    late = batch_complete(client, wf, job_id, a, "from A")
    assert late["completed"] == [] and late["errors"][0]["job_id"] == job_id, late
    assert not Result.objects.exists() and Job.objects.get(pk=job_id).status == Status.PENDING
    assert batch_complete(client, wf, job_id, b, "from B") == {"completed": [job_id], "errors": []}
    row = Result.objects.get(job_id=job_id)
    assert (row.compute_node_id, row.stdout, row.attempt) == (b, "from B", 2)


def test_late_reports_after_the_holder_finished_are_refused(torc):
    client, wf, job_id, a, b = torc
    assert claim(client, wf, a) == [job_id]
    lapse(job_id)
    assert claim(client, wf, b) == [job_id]
    assert complete(client, wf, job_id, b, "from B").status_code == 200
    late = complete(client, wf, job_id, a, "from A")
    assert late.status_code in (409, 422) and "already complete" in late.json()["error"]["message"]  # 422: Torc's
    batch = batch_complete(client, wf, job_id, a, "from A")
    assert batch["completed"] == [] and "already complete" in batch["errors"][0]["message"]
    row = Result.objects.get(job_id=job_id)
    assert (row.compute_node_id, row.stdout, row.attempt) == (b, "from B", 2)
    assert Job.objects.get(pk=job_id).status == Status.COMPLETED


# SECTION Mitosis


def mitosis_worker(user) -> APIClient:
    response = user.post("/workers", {"tags": [], "labels": [], "groups": [], "lifetime": None}, format="json")
    assert response.status_code == 200, response.content
    worker = APIClient()
    worker.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["token"])
    worker.uuid = response.json()["worker_id"]
    return worker


def report(worker, task_id, op):
    return worker.post("/workers/tasks", {"id": task_id, "op": op}, format="json")


def commit(worker, task_id, code):
    return report(worker, task_id, {"Commit": {"exit_status": code, "msg": None}})


@pytest.fixture
def task(alice, login):
    user = login("alice", "pw-alice")
    response = user.post("/tasks", {"group_name": "alice", "tags": [], "labels": [], "timeout": "10m", "priority": 0,
                                    "task_spec": {"args": ["true"]}}, format="json")
    assert response.status_code == 200, response.content
    return user, response.json()["uuid"]


def test_mitosis_report_by_a_removed_worker_is_refused(task, settings):
    user, uuid = task
    settings.DROVER_WORKER_TIMEOUT = 1
    a = mitosis_worker(user)
    task_id = a.get("/workers/tasks").json()["id"]
    assert report(a, task_id, "Finish").status_code == 200  # then A goes silent before its Commit
    time.sleep(1.1)
    assert expire_workers() == 1
    assert not Worker.objects.filter(uuid=a.uuid).exists()
    job = Job.objects.get(uuid=uuid)
    assert (job.status, job.attempt, job.claimed_by) == (Status.READY, 2, "")
    b = mitosis_worker(user)
    assert b.get("/workers/tasks").json()["id"] == task_id
    for late in (report(a, task_id, "Finish"), commit(a, task_id, 0)):
        assert late.status_code in (401, 404), late.content
        assert "msg" in late.json()
    assert report(b, task_id, "Finish").status_code == 200
    assert commit(b, task_id, 256).status_code == 200
    info = user.get(f"/tasks/{uuid}").json()["info"]
    assert info["reporter_uuid"] == b.uuid and info["result"] == {"exit_status": 256, "msg": None}
    row = Result.objects.get(job__uuid=uuid)
    assert (row.return_code, row.attempt) == (256, 2)


def test_mitosis_report_after_the_lease_lapsed_is_refused(task, settings):
    """The worker is still registered but its task's lease lapsed (it stopped heartbeating, the
    beat's expire_leases took the task back) and another worker runs it now: 404."""
    user, uuid = task
    settings.DROVER_WORKER_TIMEOUT = 1
    a = mitosis_worker(user)
    task_id = a.get("/workers/tasks").json()["id"]
    assert a.post("/workers/heartbeat", format="json").status_code == 200  # lease: now + 1 s
    time.sleep(1.1)
    assert expire_leases() == {"requeued": 1, "failed": 0}
    b = mitosis_worker(user)
    assert b.get("/workers/tasks").json()["id"] == task_id
    late = commit(a, task_id, 0)
    assert report(a, task_id, "Finish").status_code == 404 and late.status_code == 404
    assert report(b, task_id, "Finish").status_code == 200 and commit(b, task_id, 0).status_code == 200
    assert user.get(f"/tasks/{uuid}").json()["info"]["reporter_uuid"] == b.uuid
    job = Job.objects.get(uuid=uuid)
    assert (job.status, job.attempt) == (Status.COMPLETED, 2)
    assert Result.objects.filter(job=job).count() == 1


def test_late_start_job_is_refused_while_another_node_holds_the_job(torc):
    client, wf, job_id, a, b = torc
    assert claim(client, wf, a) == [job_id]
    lapse(job_id)
    assert claim(client, wf, b) == [job_id]
    late = client.put(f"{V1}/jobs/{job_id}/start_job/{wf.run_id}/{a}")
    assert late.status_code == 409, late.content
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.claimed_by, job.compute_node_id) == (Status.PENDING, f"compute_node:{b}", b)
