"""The seed's curl examples (000_fa61602f83df368a.txt) in their order, with exact shapes."""

import pytest
from rest_framework.test import APIClient

from apps.jobs.models import Job, Result
from apps.workflows.models import Event
from conftest import basic_header

pytestmark = pytest.mark.django_db
BASE = "/torc-service/v1"


@pytest.fixture
def curl(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_header("alice", "pw-alice"), HTTP_USER_AGENT="curl/8.5.0")
    return client


def test_seed_walkthrough(curl):
    # Create Workflow
    r = curl.post(f"{BASE}/workflows", {"name": "test_workflow", "user": "alice", "description": "Test workflow"},
                  format="json")
    assert r.status_code == 200
    wf = r.json()
    assert set(wf) == {"id", "name", "user", "description", "timestamp"}
    assert (wf["name"], wf["user"], wf["description"]) == ("test_workflow", "alice", "Test workflow")
    assert isinstance(wf["timestamp"], float) and wf["timestamp"] > 1_699_000_000
    wid = wf["id"]

    # List Workflows: jq '.workflows'
    r = curl.get(f"{BASE}/workflows?offset=0&limit=10")
    assert r.json()["workflows"] == [wf]

    # Get Workflow
    assert curl.get(f"{BASE}/workflows/{wid}").json() == wf

    # Initialize Jobs
    r = curl.post(f"{BASE}/workflows/{wid}/initialize_jobs", {"reinitialize": False, "ignore_missing_data": False},
                  format="json")
    assert r.status_code == 200

    # Create Job (the workflow's default resource requirements are its first ones)
    rr_default = curl.get(f"{BASE}/resource_requirements?workflow_id={wid}").json()["resource_requirements"][0]
    r = curl.post(f"{BASE}/jobs", {"workflow_id": wid, "name": "job1", "command": "echo hello",
                                   "resource_requirements_id": rr_default["id"], "input_file_ids": [],
                                   "output_file_ids": [], "depends_on_job_ids": []}, format="json")
    assert r.status_code == 200
    job = r.json()
    assert {k: job[k] for k in ("workflow_id", "name", "command", "resource_requirements_id", "input_file_ids",
                                "output_file_ids", "depends_on_job_ids")} == {
        "workflow_id": wid, "name": "job1", "command": "echo hello", "resource_requirements_id": rr_default["id"],
        "input_file_ids": [], "output_file_ids": [], "depends_on_job_ids": []}
    # created in an initialized workflow: placed at once
    assert job["status"] == "ready"

    # List Jobs: jq '.jobs[] | {name, status, id}'
    r = curl.get(f"{BASE}/jobs?workflow_id={wid}&status=ready")
    assert [{k: j[k] for k in ("name", "status", "id")} for j in r.json()["jobs"]] == [
        {"name": "job1", "status": "ready", "id": job["id"]}]

    # Update Job Status
    r = curl.post(f"{BASE}/jobs/{job['id']}/manage_status_change", {"target_status": "running"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "running"
    assert Job.objects.get(pk=job["id"]).status_name == "running"

    # Create File / List Files
    r = curl.post(f"{BASE}/files", {"workflow_id": wid, "name": "input_data", "path": "/data/input.csv"},
                  format="json")
    file = r.json()
    assert file == {"id": file["id"], "workflow_id": wid, "name": "input_data", "path": "/data/input.csv",
                    "st_mtime": None}
    assert curl.get(f"{BASE}/files?workflow_id={wid}").json()["files"] == [file]

    # Create / Update User Data
    r = curl.post(f"{BASE}/user_data", {"workflow_id": wid, "name": "config",
                                        "data": {"learning_rate": 0.001, "batch_size": 32}}, format="json")
    ud = r.json()
    assert ud["data"] == {"learning_rate": 0.001, "batch_size": 32} and ud["name"] == "config"
    r = curl.put(f"{BASE}/user_data/{ud['id']}", {"workflow_id": wid, "name": "config",
                                                   "data": {"learning_rate": 0.01, "batch_size": 64}}, format="json")
    assert r.json() == {**ud, "data": {"learning_rate": 0.01, "batch_size": 64}}

    # Create Resource Requirements
    r = curl.post(f"{BASE}/resource_requirements", {"workflow_id": wid, "name": "gpu_large", "num_cpus": 16,
                                                    "num_gpus": 4, "num_nodes": 1, "memory": "128g",
                                                    "runtime": "PT8H"}, format="json")
    rr = r.json()
    assert rr == {"id": rr["id"], "workflow_id": wid, "name": "gpu_large", "num_cpus": 16, "num_gpus": 4,
                  "num_nodes": 1, "memory": "128g", "runtime": "PT8H"}
    from apps.workflows.models import ResourceRequirements

    stored = ResourceRequirements.objects.get(pk=rr["id"])
    assert (stored.memory_bytes, stored.runtime_s) == (128 * 1024**3, 8 * 3600)

    # Create Compute Node / List Active Compute Nodes
    r = curl.post(f"{BASE}/compute_nodes", {"workflow_id": wid, "hostname": "compute-01", "num_cpus": 32,
                                            "memory": "256g", "num_gpus": 8, "is_active": True}, format="json")
    assert r.status_code == 200 and r.json()["memory"] == "256g" and r.json()["memory_gb"] == 256.0
    r = curl.get(f"{BASE}/compute_nodes?workflow_id={wid}&is_active=true")
    assert [{k: n[k] for k in ("hostname", "num_cpus", "num_gpus")} for n in r.json()["compute_nodes"]] == [
        {"hostname": "compute-01", "num_cpus": 32, "num_gpus": 8}]

    # Create Result (does not change the job, as in Torc)
    r = curl.post(f"{BASE}/results", {"workflow_id": wid, "job_id": job["id"], "exit_code": 0,
                                      "stdout": "Job completed successfully", "stderr": ""}, format="json")
    result = r.json()
    assert (result["exit_code"], result["stdout"], result["stderr"], result["status"]) == (
        0, "Job completed successfully", "", "completed")
    assert Result.objects.get(pk=result["id"]).job_id == job["id"]
    assert Job.objects.get(pk=job["id"]).status_name == "running"

    # List Events: jq '.events[] | {timestamp, data}', newest first
    events = curl.get(f"{BASE}/events?workflow_id={wid}&limit=20").json()["events"]
    assert events and all(isinstance(e["timestamp"], int) and isinstance(e["data"], dict) for e in events)
    assert events[0]["data"]["category"] == "job_running"
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    assert len(events) == Event.objects.filter(workflow_id=wid).count()

    # Prepare Next Jobs for Submission: nothing is ready (job1 runs)
    r = curl.post(f"{BASE}/workflows/{wid}/claim_next_jobs?num_jobs=5", {}, format="json")
    assert r.json() == {"jobs": []}

    # Process Changed Job Inputs (dry run)
    r = curl.post(f"{BASE}/workflows/{wid}/process_changed_job_inputs?dry_run=true", {}, format="json")
    assert r.json() == {"reinitialized_jobs": []}
