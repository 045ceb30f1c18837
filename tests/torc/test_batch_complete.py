"""POST /workflows/{id}/batch_complete_jobs (Torc 0.35): many completions in one request, each
checked as complete_job checks it; refused entries are listed, the others applied; dependents
are released set-based; malformed input changes nothing. Also complete_job with a result's
metrics, which was a 500."""

import pytest

from apps.jobs.models import Job, Result
from apps.jobs.states import Status
from apps.workflows.models import Event
from tests.torc.test_bad_input import BASE, assert_error, client, ok  # noqa: F401 - client is a fixture

pytestmark = pytest.mark.django_db


def chain_world(client, n=4):
    """n parents, each with one child; parents claimed (pending)."""
    wid = ok(client.post(f"{BASE}/workflows", {"name": "batch"}, format="json"))["id"]
    parents = ok(client.post(f"{BASE}/bulk_jobs", {"jobs": [
        {"workflow_id": wid, "name": f"p{i}", "command": "true"} for i in range(n)]}, format="json"))["jobs"]
    pids = [p["id"] for p in parents]
    children = ok(client.post(f"{BASE}/bulk_jobs", {"jobs": [
        {"workflow_id": wid, "name": f"c{i}", "command": "true", "depends_on_job_ids": [pids[i]],
         "cancel_on_blocking_job_failure": True} for i in range(n)]}, format="json"))["jobs"]
    ok(client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {}, format="json"))
    claimed = ok(client.post(f"{BASE}/workflows/{wid}/claim_next_jobs?num_jobs={n}"))["jobs"]
    assert sorted(j["id"] for j in claimed) == pids
    node = ok(client.post(f"{BASE}/compute_nodes", {"workflow_id": wid, "hostname": "h", "pid": 1, "start_time": "t",
                                                     "is_active": True, "num_cpus": 2, "memory_gb": 1, "num_gpus": 0,
                                                     "num_nodes": 1}, format="json"))["id"]
    return wid, pids, [c["id"] for c in children], node


def entry(wid, job_id, status="completed", code=0, run_id=0, **result):
    return {"job_id": job_id, "run_id": run_id, "status": status,
            "result": {"job_id": job_id, "workflow_id": wid, "run_id": run_id, "return_code": code,
                       "exec_time_minutes": 0.5, "completion_time": "2026-11-25T10:00:00Z", "status": status,
                       **result}}


def test_a_batch_completes_jobs_and_releases_their_dependents(client):
    wid, pids, cids, node = chain_world(client)
    body = ok(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs", {"completions": [
        entry(wid, pids[0], compute_node_id=node, peak_memory_bytes=1024, avg_cpu_percent=12.5),
        entry(wid, pids[1]),
        entry(wid, pids[2], status="failed", code=3),
    ]}, format="json"))
    assert body == {"completed": pids[:3], "errors": []}
    jobs = dict(Job.objects.filter(pk__in=pids + cids).values_list("pk", "status"))
    assert [jobs[p] for p in pids] == [Status.COMPLETED, Status.COMPLETED, Status.FAILED, Status.PENDING]
    assert [jobs[c] for c in cids] == [Status.READY, Status.READY, Status.CANCELED, Status.BLOCKED]
    results = {r.job_id: r for r in Result.objects.filter(workflow_id=wid)}
    assert set(results) == set(pids[:3])
    assert (results[pids[0]].compute_node_id, results[pids[0]].peak_memory_bytes,
            results[pids[0]].avg_cpu_percent) == (node, 1024, 12.5)
    assert (results[pids[2]].return_code, results[pids[2]].status) == (3, Status.FAILED)
    assert Job.objects.get(pk=pids[0]).claimed_by == ""
    event = Event.objects.filter(workflow_id=wid, category="jobs_completed").get()
    assert event.data["job_ids"] == pids[:3] and event.data["unblocked"] == 2 and event.data["canceled"] == 1


def test_refused_entries_are_listed_and_the_rest_applied(client):
    wid, pids, cids, _ = chain_world(client)
    ok(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs", {"completions": [entry(wid, pids[0])]},
                   format="json"))
    body = ok(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs", {"completions": [
        entry(wid, pids[0]),  # already complete
        entry(wid, pids[1], run_id=7),  # not the current run
        entry(wid, 999_999),  # not in this workflow
        entry(wid, pids[2], status="ready"),  # not a finished status
        entry(wid, pids[3]),
        entry(wid, pids[3]),  # twice in one batch
    ]}, format="json"))
    assert body["completed"] == [pids[3]]
    messages = {(e["job_id"], e["message"].split(" ")[0]) for e in body["errors"]}
    assert len(body["errors"]) == 5, body
    assert {job_id for job_id, _ in messages} == {pids[0], pids[1], 999_999, pids[2], pids[3]}
    by_job = {e["job_id"]: e["message"] for e in body["errors"]}
    assert "already complete" in by_job[pids[0]] and "run_id 7" in by_job[pids[1]]
    assert "not found" in by_job[999_999] and "not a finished status" in by_job[pids[2]]
    assert "more than once" in by_job[pids[3]]
    statuses = dict(Job.objects.filter(pk__in=pids).values_list("pk", "status"))
    assert [statuses[p] for p in pids] == [Status.COMPLETED, Status.PENDING, Status.PENDING, Status.COMPLETED]
    assert Result.objects.filter(workflow_id=wid).count() == 2


def test_jobs_of_another_workflow_are_not_found(client):
    wid, pids, _, _ = chain_world(client)
    other = ok(client.post(f"{BASE}/workflows", {"name": "other"}, format="json"))["id"]
    body = ok(client.post(f"{BASE}/workflows/{other}/batch_complete_jobs",
                          {"completions": [entry(other, pids[0])]}, format="json"))
    assert body["completed"] == [] and "not found" in body["errors"][0]["message"]
    assert Job.objects.get(pk=pids[0]).status == Status.PENDING


@pytest.mark.parametrize("completions, field", [
    (None, "completions"),
    ("x", "completions"),
    ([17], "completions[0]"),
    ([{"status": "completed", "result": {}}], "completions[0].job_id"),
    ([{"job_id": 1, "status": "done", "result": {}}], "completions[0].status"),
    ([{"job_id": 1, "status": "completed", "result": {"job_id": 1}}], "completions[0].workflow_id"),
    ([{"job_id": 1, "status": "completed", "run_id": -1, "result": None}], "completions[0].body"),
])
def test_malformed_batches_change_nothing(client, completions, field):
    wid, pids, _, _ = chain_world(client)
    before = list(Job.objects.order_by("pk").values_list("pk", "status"))
    body = {} if completions is None else {"completions": completions}
    message = assert_error(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs", body, format="json"), 400)
    assert field in message
    assert list(Job.objects.order_by("pk").values_list("pk", "status")) == before
    assert not Result.objects.exists()


def test_a_result_from_another_workflow_is_refused(client):
    wid, pids, _, _ = chain_world(client)
    message = assert_error(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs", {"completions": [
        entry(wid, pids[0]), entry(wid + 1, pids[1])]}, format="json"), 400)
    assert "completions[1].result.workflow_id" in message
    assert not Result.objects.exists() and Job.objects.get(pk=pids[0]).status == Status.PENDING


def test_batch_complete_costs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    wid, pids, _, _ = chain_world(client, n=40)
    with django_assert_max_num_queries(13):
        body = ok(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs",
                              {"completions": [entry(wid, p) for p in pids]}, format="json"))
    assert len(body["completed"]) == 40


def test_complete_job_records_the_result_metrics(client):
    """torc-client's ResultModel carries peak/avg memory and CPU: that was a TypeError and a 500."""
    wid, pids, _, node = chain_world(client, n=1)
    body = entry(wid, pids[0], compute_node_id=node, peak_memory_bytes=2048, avg_memory_bytes=1024,
                 peak_cpu_percent=90.0, avg_cpu_percent=45.5)["result"]
    job = ok(client.post(f"{BASE}/jobs/{pids[0]}/complete_job/completed/0", body, format="json"))
    assert job["status"] == "completed"
    result = Result.objects.get(job_id=pids[0])
    assert (result.peak_memory_bytes, result.avg_memory_bytes, result.peak_cpu_percent, result.avg_cpu_percent) == (
        2048, 1024, 90.0, 45.5)


def test_a_node_of_another_workflow_is_not_recorded(client):
    wid, pids, _, node = chain_world(client, n=2)
    other = ok(client.post(f"{BASE}/workflows", {"name": "other"}, format="json"))["id"]
    stranger = ok(client.post(f"{BASE}/compute_nodes", {"workflow_id": other, "hostname": "x", "num_cpus": 1},
                              format="json"))["id"]
    body = ok(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs", {"completions": [
        entry(wid, pids[0], compute_node_id=stranger), entry(wid, pids[1], compute_node_id=node)]}, format="json"))
    assert body == {"completed": pids, "errors": []}
    recorded = dict(Result.objects.filter(job_id__in=pids).values_list("job_id", "compute_node_id"))
    assert recorded == {pids[0]: None, pids[1]: node}


def test_a_report_from_another_node_than_the_claimer_is_refused(client):
    """A job claimed by node A and reported by node B of the same workflow: a late report
    (the job was given to another node), as complete_job refuses it."""
    wid = ok(client.post(f"{BASE}/workflows", {"name": "nodes"}, format="json"))["id"]
    job = ok(client.post(f"{BASE}/bulk_jobs", {"jobs": [{"workflow_id": wid, "name": "j", "command": "true"}]},
                         format="json"))["jobs"][0]["id"]
    ok(client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {}, format="json"))
    a, b = (ok(client.post(f"{BASE}/compute_nodes", {"workflow_id": wid, "hostname": h, "num_cpus": 1},
                           format="json"))["id"] for h in ("a", "b"))
    claimed = ok(client.post(f"{BASE}/workflows/{wid}/claim_jobs_based_on_resources/1",
                             {"id": a, "num_cpus": 1, "memory_gb": 1, "num_gpus": 0, "num_nodes": 1}, format="json"))
    assert [j["id"] for j in claimed["jobs"]] == [job]
    body = ok(client.post(f"{BASE}/workflows/{wid}/batch_complete_jobs",
                          {"completions": [entry(wid, job, compute_node_id=b)]}, format="json"))
    assert body["completed"] == [] and f"held by compute node {a}" in body["errors"][0]["message"]
    assert Job.objects.get(pk=job).status == Status.PENDING and not Result.objects.exists()
