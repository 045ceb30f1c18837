"""Bad input on /torc-service/v1: a 4xx in Torc's error shape whose message names the field,
never a 500, and nothing written (every count and status in the database is unchanged)."""

import pytest
from rest_framework.test import APIClient

from apps.files.models import File, JobFile, JobUserData, UserData
from apps.jobs.models import Job, JobDependency, Result
from apps.jobs.states import Status
from apps.workers.models import ComputeNode
from apps.workflows.models import Event, ResourceRequirements, Workflow
from conftest import basic_header

pytestmark = pytest.mark.django_db
BASE = "/torc-service/v1"
STATUS_NAMES = [s.label for s in Status]
HUGE = 2**70  # beyond every integer column
BIG = 2**40  # beyond a 32-bit column, inside a 64-bit one


# SECTION helpers


@pytest.fixture
def client(alice):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=basic_header("alice", "pw-alice"), HTTP_USER_AGENT="curl/8.5.0")
    return c


def ok(response):
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(response, status: int, *needles: str) -> str:
    """Torc's error body {"error": {"message": ...}} with every needle in the message."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message"}, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def db_state() -> dict:
    """Everything a Torc request can write: row counts, every job's status/attempt, all edges."""
    models = (Workflow, Job, JobDependency, JobFile, JobUserData, Result, File, UserData, ResourceRequirements,
              ComputeNode, Event)
    return {
        "counts": {m.__name__: m.objects.count() for m in models},
        "jobs": sorted(Job.objects.values_list("pk", "status", "attempt", "name", "command", "priority",
                                               "resource_requirements_id", "compute_node_id", "exit_code")),
        "edges": sorted(JobDependency.objects.values_list("job_id", "depends_on_id", "implicit")),
        "files": sorted(JobFile.objects.values_list("job_id", "file_id", "is_output")),
        "user_data": sorted(JobUserData.objects.values_list("job_id", "user_data_id", "is_output")),
        "requirements": sorted(ResourceRequirements.objects.values_list(
            "pk", "name", "num_cpus", "num_gpus", "num_nodes", "memory", "runtime")),
        "nodes": sorted(ComputeNode.objects.values_list("pk", "hostname", "num_cpus", "memory_bytes", "is_active")),
        "workflows": sorted(Workflow.objects.values_list("pk", "name", "run_id", "initialized", "is_canceled")),
    }


@pytest.fixture
def unchanged():
    """Use as `with unchanged(): bad request`; asserts the database did not move."""
    from contextlib import contextmanager

    @contextmanager
    def check():
        before = db_state()
        yield
        assert db_state() == before

    return check


def workflow(client, name="wf") -> int:
    return ok(client.post(f"{BASE}/workflows", {"name": name}, format="json"))["id"]


def job(client, wid, name="j", **fields) -> dict:
    return ok(client.post(f"{BASE}/jobs", {"workflow_id": wid, "name": name, "command": f"echo {name}", **fields},
                          format="json"))


def initialize(client, wid, **body):
    return ok(client.post(f"{BASE}/workflows/{wid}/initialize_jobs", body, format="json"))


def node(client, wid) -> int:
    return ok(client.post(f"{BASE}/compute_nodes", {"workflow_id": wid, "hostname": "n1", "num_cpus": 4,
                                                    "memory": "8g"}, format="json"))["id"]


def result_body(wid, job_id, code=0):
    return {"workflow_id": wid, "job_id": job_id, "return_code": code, "exec_time_minutes": 0.5,
            "completion_time": "2025-01-01T00:00:00Z"}


@pytest.fixture
def world(client):
    """A workflow with a ready job, a file, user data, requirements, a compute node and a result,
    and a second workflow with its own job, file and user data."""
    wid = workflow(client, "one")
    other = workflow(client, "two")
    a = job(client, wid, "a")
    rr = ok(client.post(f"{BASE}/resource_requirements", {"workflow_id": wid, "name": "small", "num_cpus": 2,
                                                          "memory": "1g", "runtime": "PT1H"}, format="json"))
    f = ok(client.post(f"{BASE}/files", {"workflow_id": wid, "name": "f", "path": "/tmp/f"}, format="json"))
    ud = ok(client.post(f"{BASE}/user_data", {"workflow_id": wid, "name": "u", "data": {"x": 1}}, format="json"))
    n = node(client, wid)
    initialize(client, wid)
    res = ok(client.post(f"{BASE}/results", result_body(wid, a["id"]), format="json"))
    b = job(client, other, "b")
    f2 = ok(client.post(f"{BASE}/files", {"workflow_id": other, "name": "f2", "path": "/tmp/f2"}, format="json"))
    ud2 = ok(client.post(f"{BASE}/user_data", {"workflow_id": other, "name": "u2"}, format="json"))
    rr2 = ok(client.get(f"{BASE}/resource_requirements?workflow_id={other}"))["items"][0]
    return {"wid": wid, "other": other, "a": a["id"], "rr": rr["id"], "file": f["id"], "ud": ud["id"], "node": n,
            "result": res["id"], "b": b["id"], "file2": f2["id"], "ud2": ud2["id"], "rr2": rr2["id"]}


def run_to(client, w, job_id, status="completed", code=0):
    """Claim, start and finish a ready job through the API."""
    claimed = ok(client.post(f"{BASE}/workflows/{w['wid']}/claim_next_jobs?limit=10", {}, format="json"))["jobs"]
    assert job_id in [j["id"] for j in claimed]
    ok(client.put(f"{BASE}/jobs/{job_id}/start_job/0/{w['node']}"))
    return ok(client.post(f"{BASE}/jobs/{job_id}/complete_job/{status}/0", result_body(w["wid"], job_id, code),
                          format="json"))


# SECTION unknown ids -> 404


MISSING = 987654


@pytest.mark.parametrize("method,path,needle", [
    ("get", "workflows/{id}", "Workflow not found with ID: {id}"),
    ("put", "workflows/{id}", "Workflow not found with ID: {id}"),
    ("delete", "workflows/{id}", "Workflow not found with ID: {id}"),
    ("get", "workflows/{id}/status", "Workflow not found"),
    ("post", "workflows/{id}/initialize_jobs", "Workflow not found"),
    ("post", "workflows/{id}/claim_next_jobs", "Workflow not found"),
    ("post", "workflows/{id}/claim_jobs_based_on_resources/5", "Workflow not found"),
    ("get", "jobs?workflow_id={id}", "Workflow not found"),
    ("get", "jobs/{id}", "Job not found with ID: {id}"),
    ("put", "jobs/{id}", "Job not found with ID: {id}"),
    ("delete", "jobs/{id}", "Job not found with ID: {id}"),
    ("post", "jobs/{id}/manage_status_change", "Job not found"),
    ("post", "jobs/{id}/complete_job/completed/0", "Job not found"),
    ("put", "jobs/{id}/start_job/0/1", "Job not found"),
    ("post", "jobs/{id}/retry/0", "Job not found"),
    ("get", "files/{id}", "not found with ID: {id}"),
    ("put", "files/{id}", "not found with ID: {id}"),
    ("delete", "files/{id}", "not found with ID: {id}"),
    ("get", "user_data/{id}", "not found with ID: {id}"),
    ("put", "user_data/{id}", "not found with ID: {id}"),
    ("delete", "user_data/{id}", "not found with ID: {id}"),
    ("get", "resource_requirements/{id}", "Resource requirements not found with ID: {id}"),
    ("put", "resource_requirements/{id}", "Resource requirements not found with ID: {id}"),
    ("delete", "resource_requirements/{id}", "Resource requirements not found with ID: {id}"),
    ("get", "compute_nodes/{id}", "Compute node not found with ID: {id}"),
    ("put", "compute_nodes/{id}", "Compute node not found with ID: {id}"),
    ("delete", "compute_nodes/{id}", "Compute node not found with ID: {id}"),
    ("get", "results/{id}", "Result not found with ID: {id}"),
    ("get", "events/{id}", "Event not found with ID: {id}"),
])
@pytest.mark.parametrize("missing", [MISSING, HUGE])
def test_unknown_ids_are_404(client, world, unchanged, method, path, needle, missing):
    with unchanged():
        response = getattr(client, method)(f"{BASE}/{path.format(id=missing)}", {}, format="json")
        if "?" in path and missing == HUGE:  # a query parameter beyond 64 bits is refused as such
            assert_error(response, 400, "workflow_id: ", "must be <=")
        else:
            assert_error(response, 404, needle.format(id=missing))


@pytest.mark.parametrize("path,field", [
    ("files", "workflow_id"), ("user_data", "workflow_id"), ("resource_requirements", "workflow_id"),
    ("compute_nodes", "workflow_id"), ("results", "workflow_id"), ("events", "workflow_id"),
    ("jobs", "workflow_id"),
])
def test_list_without_or_with_bad_workflow_id(client, world, path, field):
    assert_error(client.get(f"{BASE}/{path}"), 400, f"{field}: ", "required")
    assert_error(client.get(f"{BASE}/{path}?workflow_id=abc"), 400, f"{field}: ", "'abc'")
    assert_error(client.get(f"{BASE}/{path}?workflow_id={MISSING}"), 404, f"Workflow not found with ID: {MISSING}")


@pytest.mark.parametrize("param,value", [("offset", "-1"), ("limit", "-1"), ("offset", "x"), ("limit", "1.5"),
                                         ("offset", str(HUGE)), ("is_archived", "maybe")])
def test_workflow_list_paging_params(client, world, param, value):
    assert_error(client.get(f"{BASE}/workflows?{param}={value}"), 400, f"{param}: ")


@pytest.mark.parametrize("param,value", [("status", "bogus"), ("include_relationships", "perhaps"),
                                         ("upstream_job_id", "x"), ("needs_file_id", "-"), ("offset", "-3")])
def test_job_list_filters(client, world, param, value):
    assert_error(client.get(f"{BASE}/jobs?workflow_id={world['wid']}&{param}={value}"), 400, f"{param}: ")


@pytest.mark.parametrize("value", [str(10**15), str(2**63 - 1), "-1", "soon"])
def test_event_list_after_timestamp(client, world, value):
    """Epoch milliseconds past year 9999 used to be a 500 (datetime out of range)."""
    r = client.get(f"{BASE}/events?workflow_id={world['wid']}&after_timestamp={value}")
    assert_error(r, 400, "after_timestamp: ")


def test_event_list_after_timestamp_filters(client, world):
    events = ok(client.get(f"{BASE}/events?workflow_id={world['wid']}"))["events"]
    newest = max(e["timestamp"] for e in events)
    later = ok(client.get(f"{BASE}/events?workflow_id={world['wid']}&after_timestamp={newest}"))["events"]
    assert later == []
    earlier = ok(client.get(f"{BASE}/events?workflow_id={world['wid']}&after_timestamp={newest - 1}"))["events"]
    assert [e["timestamp"] for e in earlier] and all(e["timestamp"] == newest for e in earlier)
    assert ok(client.get(f"{BASE}/events?workflow_id={world['wid']}&after_timestamp=0"))["events"] == events
    assert ok(client.get(f"{BASE}/events?workflow_id={world['wid']}&after_timestamp=253402300799999"))["events"] == []


def test_job_list_status_message_lists_allowed(client, world):
    message = assert_error(client.get(f"{BASE}/jobs?workflow_id={world['wid']}&status=bogus"), 400, "status: ")
    assert all(name in message for name in STATUS_NAMES)


# SECTION references into another workflow


@pytest.mark.parametrize("field,key", [
    ("depends_on_job_ids", "b"), ("input_file_ids", "file2"), ("output_file_ids", "file2"),
    ("input_user_data_ids", "ud2"), ("output_user_data_ids", "ud2"), ("resource_requirements_id", "rr2"),
])
def test_create_job_with_reference_into_another_workflow(client, world, unchanged, field, key):
    value = world[key] if field == "resource_requirements_id" else [world[key]]
    with unchanged():
        r = client.post(f"{BASE}/jobs", {"workflow_id": world["wid"], "name": "x", "command": "true", field: value},
                        format="json")
        assert_error(r, 400, f"{field}: ", str(world[key]), f"not found in workflow {world['wid']}")


@pytest.mark.parametrize("field", ["depends_on_job_ids", "input_file_ids", "output_user_data_ids"])
def test_create_job_with_unknown_reference(client, world, unchanged, field):
    with unchanged():
        r = client.post(f"{BASE}/jobs", {"workflow_id": world["wid"], "name": "x", "command": "true",
                                         field: [MISSING]}, format="json")
        assert_error(r, 400, f"{field}: ", str(MISSING))


@pytest.mark.parametrize("field,value", [
    ("depends_on_job_ids", [HUGE]), ("input_file_ids", [HUGE]), ("resource_requirements_id", HUGE),
    ("priority", BIG), ("priority", -1), ("priority", "high"), ("depends_on_job_ids", "1,2"),
    ("depends_on_job_ids", [1.5]), ("cancel_on_blocking_job_failure", "yes"), ("name", 5), ("command", ["ls"]),
    ("name", "n" * 256), ("workflow_id", "1"),
])
def test_create_job_with_bad_field(client, world, unchanged, field, value):
    body = {"workflow_id": world["wid"], "name": "x", "command": "true", field: value}
    with unchanged():
        assert_error(client.post(f"{BASE}/jobs", body, format="json"), 400, f"{field}: ")


@pytest.mark.parametrize("field", ["name", "command", "workflow_id"])
def test_create_job_missing_required(client, world, unchanged, field):
    body = {"workflow_id": world["wid"], "name": "x", "command": "true"}
    del body[field]
    with unchanged():
        assert_error(client.post(f"{BASE}/jobs", body, format="json"), 400, f"{field}: ", "required")


@pytest.mark.parametrize("field,key", [("depends_on_job_ids", "b"), ("input_file_ids", "file2"),
                                       ("output_user_data_ids", "ud2")])
def test_update_job_with_reference_into_another_workflow(client, world, unchanged, field, key):
    with unchanged():
        r = client.put(f"{BASE}/jobs/{world['a']}", {field: [world[key]]}, format="json")
        assert_error(r, 400, f"{field}: ", str(world[key]))


def test_update_job_cannot_move_workflow(client, world, unchanged):
    with unchanged():
        r = client.put(f"{BASE}/jobs/{world['a']}", {"workflow_id": world["other"], "name": "moved"}, format="json")
        assert_error(r, 400, "workflow_id: ")


# SECTION resource requirements and compute nodes


@pytest.mark.parametrize("field,value,needle", [
    ("num_cpus", -1, "num_cpus: "),
    ("num_gpus", -2, "num_gpus: "),
    ("num_nodes", 0, "num_nodes: "),
    ("num_cpus", "four", "num_cpus: "),
    ("num_cpus", BIG, "num_cpus: "),
    ("memory", "12x", "memory: '12x'"),
    ("memory", "1" + "0" * 40 + "k", "memory: "),
    ("memory", "-1g", "memory: "),
    ("runtime", "8 hours", "runtime: '8 hours'"),
    ("runtime", "P1Y", "runtime: "),
    ("runtime", "PT" + "1" * 40 + "S", "runtime: "),
    ("name", "", "name: "),
    ("name", "n" * 256, "name: "),
])
def test_resource_requirements_bad_values(client, world, unchanged, field, value, needle):
    body = {"workflow_id": world["wid"], "name": "rr", "num_cpus": 1, "memory": "1g", "runtime": "PT1H",
            field: value}
    with unchanged():
        assert_error(client.post(f"{BASE}/resource_requirements", body, format="json"), 400, needle)
        assert_error(client.put(f"{BASE}/resource_requirements/{world['rr']}", body, format="json"), 400, needle)


@pytest.mark.parametrize("field,value", [("num_cpus", -1), ("memory", "12x"), ("memory_gb", -1.0),
                                         ("memory_gb", 1e300), ("num_nodes", 0), ("num_cpus", BIG),
                                         ("hostname", "h" * 256), ("time_limit", "t" * 40),
                                         ("compute_node_type", "c" * 65), ("start_time", "s" * 65),
                                         ("pid", HUGE), ("duration_seconds", "long")])
def test_compute_node_bad_values(client, world, unchanged, field, value):
    body = {"workflow_id": world["wid"], "hostname": "h", field: value}
    with unchanged():
        assert_error(client.post(f"{BASE}/compute_nodes", body, format="json"), 400, f"{field}: ")
        assert_error(client.put(f"{BASE}/compute_nodes/{world['node']}", body, format="json"), 400, f"{field}: ")


@pytest.mark.parametrize("path,body,field", [
    ("files", {"name": "f", "path": "/p", "st_mtime": "yesterday"}, "st_mtime"),
    ("files", {"name": "f"}, "path"),
    ("files", {"name": "n" * 256, "path": "/p"}, "name"),
    ("user_data", {"name": "u", "is_ephemeral": "sometimes"}, "is_ephemeral"),
    ("user_data", {"data": {}}, "name"),
    ("events", {"data": {"x": 1}, "timestamp": "now"}, "timestamp"),
    ("events", {}, "data"),
    ("workflows", {"name": ""}, "name"),
    ("workflows", {"name": "w", "user": "u" * 256}, "user"),
    ("workflows", {"name": "w", "jobs_sort_method": "random"}, "jobs_sort_method"),
    ("workflows", {"name": "w", "compute_node_wait_for_new_jobs_seconds": -1},
     "compute_node_wait_for_new_jobs_seconds"),
])
def test_other_creates_name_the_field(client, world, unchanged, path, body, field):
    if path != "workflows":
        body = {"workflow_id": world["wid"], **body}
    with unchanged():
        assert_error(client.post(f"{BASE}/{path}", body, format="json"), 400, f"{field}: ")


@pytest.mark.parametrize("body,field", [
    ({"workflow_id": None, "return_code": 0}, "workflow_id"),
    ({"workflow_id": "w", "return_code": 0}, "workflow_id"),
    ({"workflow_id": HUGE, "return_code": 0}, "workflow_id"),
    ({"job_id": -1, "return_code": 0}, "job_id"),
    ({"return_code": "zero"}, "return_code"),
    ({"return_code": 2**40}, "return_code"),
    ({"return_code": 0, "run_id": -1}, "run_id"),
    ({"return_code": 0, "run_id": 2**40}, "run_id"),
    ({"return_code": 0, "exec_time_minutes": "long"}, "exec_time_minutes"),
    ({"return_code": 0, "completion_time": "yesterday"}, "completion_time"),
    ({"return_code": 0, "status": "finished"}, "status"),
    ({"return_code": 0, "status": "uninitialized"}, "status"),
    ({"return_code": 0, "status": "running"}, "status"),
    ({"return_code": 0, "peak_memory_bytes": HUGE}, "peak_memory_bytes"),
    ({"return_code": 0, "stdout": 5}, "stdout"),
])
def test_result_bad_values(client, world, unchanged, body, field):
    body = {k: v for k, v in {"workflow_id": world["wid"], "job_id": world["a"], **body}.items() if v is not None}
    with unchanged():
        assert_error(client.post(f"{BASE}/results", body, format="json"), 400, f"{field}: ")


def test_result_for_job_of_another_workflow(client, world, unchanged):
    with unchanged():
        r = client.post(f"{BASE}/results", result_body(world["wid"], world["b"]), format="json")
        assert_error(r, 400, "job_id: ")


# SECTION claiming


@pytest.mark.parametrize("query,param", [
    ("num_jobs=0", "num_jobs"), ("num_jobs=10001", "num_jobs"), ("limit=-1", "limit"), ("num_jobs=abc", "num_jobs"),
    ("limit=0", "limit"), ("limit=2.5", "limit"), (f"num_jobs={HUGE}", "num_jobs"),
])
def test_claim_next_jobs_bad_params(client, world, unchanged, query, param):
    assert Job.objects.get(pk=world["a"]).status == Status.READY
    with unchanged():
        r = client.post(f"{BASE}/workflows/{world['wid']}/claim_next_jobs?{query}", {}, format="json")
        assert_error(r, 400, f"{param}: ")


RESOURCES = {"num_cpus": 4, "memory_gb": 8, "num_gpus": 0, "num_nodes": 1}


@pytest.mark.parametrize("limit,change,field", [
    (0, {}, "limit"),
    (10001, {}, "limit"),
    (5, {"num_cpus": None}, "num_cpus"),
    (5, {"num_nodes": None}, "num_nodes"),
    (5, {"num_cpus": -1}, "num_cpus"),
    (5, {"memory_gb": "lots"}, "memory_gb"),
    (5, {"memory_gb": 1e300}, "memory_gb"),
    (5, {"num_cpus": HUGE}, "num_cpus"),
    (5, {"time_limit": "soon"}, "time_limit"),
    (5, {"id": MISSING}, "id"),
])
def test_claim_by_resources_bad_input(client, world, unchanged, limit, change, field):
    body = {k: v for k, v in {**RESOURCES, **change}.items() if v is not None}
    with unchanged():
        r = client.post(f"{BASE}/workflows/{world['wid']}/claim_jobs_based_on_resources/{limit}", body,
                        format="json")
        assert_error(r, 400, f"{field}: ")


def test_claim_by_resources_unknown_sort_method(client, world, unchanged):
    with unchanged():
        r = client.post(f"{BASE}/workflows/{world['wid']}/claim_jobs_based_on_resources/5?sort_method=random",
                        RESOURCES, format="json")
        assert_error(r, 400, "sort_method: ", "'random'", "gpus_runtime_memory")
    r = client.post(f"{BASE}/workflows/{world['wid']}/claim_jobs_based_on_resources/5?sort_method=gpus_memory_runtime",
                    RESOURCES, format="json")
    assert [j["id"] for j in ok(r)["jobs"]] == [world["a"]]


def test_claim_by_resources_of_another_workflows_node(client, world, unchanged):
    other_node = node(client, world["other"])
    with unchanged():
        r = client.post(f"{BASE}/workflows/{world['wid']}/claim_jobs_based_on_resources/5",
                        {**RESOURCES, "id": other_node}, format="json")
        assert_error(r, 400, "id: ", str(other_node))


# SECTION status changes


def test_unknown_target_status_lists_the_allowed(client, world, unchanged):
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/manage_status_change", {"target_status": "finished"},
                        format="json")
        message = assert_error(r, 400, "target_status: ", "'finished'")
        assert all(name in message for name in STATUS_NAMES)
        r = client.post(f"{BASE}/jobs/{world['a']}/manage_status_change", {}, format="json")
        message = assert_error(r, 400, "target_status: ", "required")
        assert all(name in message for name in STATUS_NAMES)
        r = client.post(f"{BASE}/jobs/{world['a']}/manage_status_change", {"target_status": 4}, format="json")
        assert_error(r, 400, "target_status: ")
        r = client.put(f"{BASE}/jobs/{world['a']}/manage_status_change/finished/0")
        message = assert_error(r, 400, "status: ", "'finished'")
        assert all(name in message for name in STATUS_NAMES)


def test_forbidden_transition_is_409_and_changes_nothing(client, world, unchanged):
    done = run_to(client, world, world["a"])
    assert done["status"] == "completed"
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/manage_status_change", {"target_status": "running"},
                        format="json")
        assert_error(r, 409, "completed", "running", "allowed from completed: uninitialized")
        r = client.post(f"{BASE}/jobs/{world['a']}/manage_status_change", {"target_status": "pending"},
                        format="json")
        assert_error(r, 409, "allowed from completed: uninitialized")
        # The real server's form refuses finished statuses (they need a result) and checks run_id.
        assert_error(client.put(f"{BASE}/jobs/{world['a']}/manage_status_change/failed/0"), 422, "complete_job")
        assert_error(client.put(f"{BASE}/jobs/{world['a']}/manage_status_change/ready/7"), 422, "run_id")
    assert Job.objects.get(pk=world["a"]).status == Status.COMPLETED


def test_blocked_job_cannot_be_started(client, world, unchanged):
    blocked = job(client, world["wid"], "after", depends_on_job_ids=[world["a"]])
    assert blocked["status"] == "blocked"
    with unchanged():
        r = client.post(f"{BASE}/jobs/{blocked['id']}/manage_status_change", {"target_status": "running"},
                        format="json")
        assert_error(r, 409, "blocked", "running", "allowed from blocked:")
        assert_error(client.put(f"{BASE}/jobs/{blocked['id']}/start_job/0/{world['node']}"), 409, "blocked")


# SECTION bodies that are not JSON


@pytest.mark.parametrize("method,path", [
    ("post", "workflows"), ("post", "jobs"), ("post", "bulk_jobs"), ("post", "workflow_specifications"),
    ("post", "files"), ("post", "resource_requirements"), ("post", "results"),
    ("put", "jobs/{a}"), ("post", "jobs/{a}/manage_status_change"), ("post", "jobs/{a}/complete_job/completed/0"),
    ("post", "workflows/{wid}/initialize_jobs"), ("post", "workflows/{wid}/claim_jobs_based_on_resources/3"),
    ("put", "workflows/{wid}"), ("put", "compute_nodes/{node}"),
])
def test_non_json_body(client, world, unchanged, method, path):
    url = f"{BASE}/{path.format(**world)}"
    with unchanged():
        r = getattr(client, method)(url, data='{"name": "x",', content_type="application/json")
        assert_error(r, 400, "body: ", "JSON parse error")
        r = getattr(client, method)(url, data="name=x", content_type="application/x-www-form-urlencoded")
        assert_error(r, 415, "Unsupported media type")


@pytest.mark.parametrize("path", ["workflows", "jobs", "files", "resource_requirements", "results",
                                  "compute_nodes", "user_data", "events", "workflow_specifications"])
@pytest.mark.parametrize("body", [[1, 2], "text", 5, None])
def test_json_that_is_not_an_object(client, world, unchanged, path, body):
    import json

    with unchanged():
        r = client.post(f"{BASE}/{path}", data=json.dumps(body), content_type="application/json")
        assert 400 <= r.status_code < 500, r.content
        assert_error(r, r.status_code)


# SECTION null characters (PostgreSQL refuses them in text and jsonb)


@pytest.mark.parametrize("path,body,field", [
    ("jobs", {"name": "j", "command": "echo \u0000"}, "command"),
    ("jobs", {"name": "j\u0000", "command": "true"}, "name"),
    ("files", {"name": "f", "path": "/tmp/\u0000"}, "path"),
    ("user_data", {"name": "u", "data": {"k": "\u0000"}}, "data"),
    ("user_data", {"name": "u", "data": ["\u0000"]}, "data"),
    ("events", {"data": {"nested": {"\u0000": 1}}}, "data"),
    ("resource_requirements", {"name": "r\u0000"}, "name"),
    ("compute_nodes", {"hostname": "h", "scheduler": {"k": "\u0000"}}, "scheduler"),
])
def test_null_characters_are_refused_by_name(client, world, unchanged, path, body, field):
    with unchanged():
        r = client.post(f"{BASE}/{path}", {"workflow_id": world["wid"], **body}, format="json")
        assert_error(r, 400, f"{field}: ", "ull character")


def test_workflow_metadata_null_characters(client, unchanged):
    with unchanged():
        r = client.post(f"{BASE}/workflows", {"name": "w", "metadata": {"a": "\u0000"}}, format="json")
        assert_error(r, 400, "metadata: ", "null characters")


@pytest.mark.parametrize("path", ["workflows?name=a%00b", "workflows?user=%00", "files?workflow_id={wid}&name=%00",
                                  "files?workflow_id={wid}&path=%00", "user_data?workflow_id={wid}&name=%00",
                                  "resource_requirements?workflow_id={wid}&name=%00",
                                  "compute_nodes?workflow_id={wid}&hostname=%00",
                                  "events?workflow_id={wid}&category=%00", "jobs?workflow_id={wid}&status=%00"])
def test_null_characters_in_filters(client, world, path):
    name = path.split("&")[-1].split("?")[-1].split("=")[0]
    assert_error(client.get(f"{BASE}/{path.format(wid=world['wid'])}"), 400, f"{name}: ")


def test_job_output_with_null_characters_is_kept(client, world):
    """A job's stdout may hold NUL bytes: the result is recorded (NUL replaced), not refused."""
    claimed_and_started(client, world)
    body = {**result_body(world["wid"], world["a"]), "stdout": "before\u0000after", "stderr": "\u0000"}
    done = ok(client.post(f"{BASE}/jobs/{world['a']}/complete_job/completed/0", body, format="json"))
    assert done["status"] == "completed"
    stored = Result.objects.filter(job_id=world["a"]).order_by("-id").first()
    assert (stored.stdout, stored.stderr) == ("before\ufffdafter", "\ufffd")


# SECTION bulk jobs


def test_bulk_jobs_over_the_limit_creates_nothing(client, world, unchanged):
    jobs = [{"workflow_id": world["wid"], "name": f"j{i}", "command": "true"} for i in range(10_001)]
    with unchanged():
        assert_error(client.post(f"{BASE}/bulk_jobs", {"jobs": jobs}, format="json"), 400, "jobs: ", "10000",
                     "10001")


@pytest.mark.parametrize("change,field", [
    ({"name": None}, "name"), ({"command": 7}, "command"), ({"depends_on_job_ids": ["a"]}, "depends_on_job_ids"),
    ({"priority": -5}, "priority"), ({"workflow_id": None}, "workflow_id"),
])
def test_bulk_jobs_bad_item_creates_nothing(client, world, unchanged, change, field):
    jobs = [{"workflow_id": world["wid"], "name": f"j{i}", "command": "true"} for i in range(6)]
    jobs[3] = {k: v for k, v in {**jobs[3], **change}.items() if v is not None}
    with unchanged():
        assert_error(client.post(f"{BASE}/bulk_jobs", {"jobs": jobs}, format="json"), 400, f"jobs.3.{field}: ")


@pytest.mark.parametrize("field,key", [("depends_on_job_ids", "b"), ("input_file_ids", "file2"),
                                       ("output_user_data_ids", "ud2"), ("resource_requirements_id", "rr2")])
def test_bulk_jobs_bad_reference_creates_nothing(client, world, unchanged, field, key):
    jobs = [{"workflow_id": world["wid"], "name": f"j{i}", "command": "true"} for i in range(6)]
    jobs[3][field] = world[key] if field == "resource_requirements_id" else [world[key]]
    with unchanged():
        assert_error(client.post(f"{BASE}/bulk_jobs", {"jobs": jobs}, format="json"), 400, f"jobs.3.{field}: ",
                     str(world[key]))


def test_bulk_jobs_in_two_workflows_is_422(client, world, unchanged):
    jobs = [{"workflow_id": world["wid"], "name": "x", "command": "true"},
            {"workflow_id": world["other"], "name": "y", "command": "true"}]
    with unchanged():
        assert_error(client.post(f"{BASE}/bulk_jobs", {"jobs": jobs}, format="json"), 422, "one workflow")


@pytest.mark.parametrize("body", [{}, {"jobs": "x"}, {"jobs": {"name": "x"}}, {"jobs": [5]}])
def test_bulk_jobs_shape(client, world, unchanged, body):
    with unchanged():
        assert_error(client.post(f"{BASE}/bulk_jobs", body, format="json"), 400, "jobs")


# SECTION complete, start, retry


def claimed_and_started(client, w):
    ok(client.post(f"{BASE}/workflows/{w['wid']}/claim_next_jobs?limit=1", {}, format="json"))
    return ok(client.put(f"{BASE}/jobs/{w['a']}/start_job/0/{w['node']}"))


def test_complete_job_unknown_status(client, world, unchanged):
    claimed_and_started(client, world)
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/complete_job/finished/0", result_body(world["wid"], world["a"]),
                        format="json")
        message = assert_error(r, 400, "status: ", "'finished'")
        assert all(name in message for name in STATUS_NAMES)


def test_complete_job_non_terminal_status(client, world, unchanged):
    claimed_and_started(client, world)
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/complete_job/running/0", result_body(world["wid"], world["a"]),
                        format="json")
        assert_error(r, 400, "status: ", "running", "completed, failed, canceled, terminated")


def test_complete_job_wrong_run_id(client, world, unchanged):
    claimed_and_started(client, world)
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/complete_job/completed/3", result_body(world["wid"], world["a"]),
                        format="json")
        assert_error(r, 422, "run_id: ", "3", "current run_id 0")


def test_complete_job_twice(client, world, unchanged):
    claimed_and_started(client, world)
    url = f"{BASE}/jobs/{world['a']}/complete_job/completed/0"
    ok(client.post(url, result_body(world["wid"], world["a"]), format="json"))
    with unchanged():
        assert_error(client.post(url, result_body(world["wid"], world["a"]), format="json"), 422,
                     "already complete")
        assert_error(client.post(f"{BASE}/jobs/{world['a']}/complete_job/failed/0",
                                 result_body(world["wid"], world["a"], 1), format="json"), 422, "already complete")


def test_complete_job_not_started(client, world, unchanged):
    """A ready job cannot be completed: no result row may be left behind."""
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/complete_job/completed/0", result_body(world["wid"], world["a"]),
                        format="json")
        assert_error(r, 409, "ready", "completed")


@pytest.mark.parametrize("body,field", [
    ({"return_code": "x"}, "return_code"), ({"job_id": 1234567}, "job_id"), ({}, "workflow_id"),
    ({"completion_time": 5}, "completion_time"),
])
def test_complete_job_bad_result(client, world, unchanged, body, field):
    claimed_and_started(client, world)
    full = {**result_body(world["wid"], world["a"]), **body}
    if body == {}:
        del full["workflow_id"]
    with unchanged():
        r = client.post(f"{BASE}/jobs/{world['a']}/complete_job/completed/0", full, format="json")
        assert_error(r, 400, f"{field}: ")


def test_start_job_checks(client, world, unchanged):
    ok(client.post(f"{BASE}/workflows/{world['wid']}/claim_next_jobs?limit=1", {}, format="json"))
    other_node = node(client, world["other"])
    with unchanged():
        assert_error(client.put(f"{BASE}/jobs/{world['a']}/start_job/0/{other_node}"), 400, "compute_node_id: ")
        assert_error(client.put(f"{BASE}/jobs/{world['a']}/start_job/9/{world['node']}"), 422, "run_id: ")


def test_retry_of_a_job_that_is_not_failed(client, world, unchanged):
    with unchanged():
        assert_error(client.post(f"{BASE}/jobs/{world['a']}/retry/0"), 422, "ready", "only failed jobs")
    run_to(client, world, world["a"])
    with unchanged():
        assert_error(client.post(f"{BASE}/jobs/{world['a']}/retry/0"), 422, "completed", "only failed jobs")


def test_retry_of_a_failed_job_with_wrong_run_id(client, world, unchanged):
    run_to(client, world, world["a"], status="failed", code=1)
    with unchanged():
        assert_error(client.post(f"{BASE}/jobs/{world['a']}/retry/5"), 422, "run_id")
    retried = ok(client.post(f"{BASE}/jobs/{world['a']}/retry/0"))
    assert (retried["status"], retried["attempt_id"]) == ("ready", 2)


# SECTION cycles


def test_cycle_via_put_is_refused_and_edges_unchanged(client, world, unchanged):
    wid = world["wid"]
    first = job(client, wid, "first")
    second = job(client, wid, "second", depends_on_job_ids=[first["id"]])
    third = job(client, wid, "third", depends_on_job_ids=[second["id"]])
    edges = set(JobDependency.objects.filter(job__workflow_id=wid).values_list("job_id", "depends_on_id"))
    assert edges == {(second["id"], first["id"]), (third["id"], second["id"])}
    with unchanged():
        r = client.put(f"{BASE}/jobs/{first['id']}", {"depends_on_job_ids": [third["id"]]}, format="json")
        message = assert_error(r, 400, "depends_on_job_ids: ", "cycle")
        for j in (first, second, third):
            assert f"{j['name']} (#{j['id']})" in message
        r = client.put(f"{BASE}/jobs/{first['id']}", {"depends_on_job_ids": [first["id"]]}, format="json")
        assert_error(r, 400, "depends_on_job_ids: ", f"first (#{first['id']})")


def test_cycle_via_files_is_refused_at_initialize(client, unchanged):
    wid = workflow(client, "files-cycle")
    f1 = ok(client.post(f"{BASE}/files", {"workflow_id": wid, "name": "f1", "path": "/tmp/nope1"}, format="json"))
    f2 = ok(client.post(f"{BASE}/files", {"workflow_id": wid, "name": "f2", "path": "/tmp/nope2"}, format="json"))
    job(client, wid, "x", input_file_ids=[f1["id"]], output_file_ids=[f2["id"]])
    job(client, wid, "y", input_file_ids=[f2["id"]], output_file_ids=[f1["id"]])
    with unchanged():
        r = client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {}, format="json")
        assert_error(r, 400, "cycle", "x (#", "y (#")


# SECTION initialize_jobs


def test_initialize_with_missing_input_file(client, unchanged, tmp_path):
    wid = workflow(client, "missing")
    present = tmp_path / "present.txt"
    present.write_text("x")
    gone = ok(client.post(f"{BASE}/files", {"workflow_id": wid, "name": "gone", "path": str(tmp_path / "gone")},
                          format="json"))
    here = ok(client.post(f"{BASE}/files", {"workflow_id": wid, "name": "here", "path": str(present)},
                          format="json"))
    reader = job(client, wid, "reader", input_file_ids=[gone["id"], here["id"]])
    with unchanged():
        r = client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {"ignore_missing_data": False}, format="json")
        message = assert_error(r, 400, "gone", str(tmp_path / "gone"), "ignore_missing_data")
        assert "here" not in message.split("ignore_missing_data:")[-1].split(";")[0].replace(str(tmp_path), "")
    assert not Workflow.objects.get(pk=wid).initialized
    assert File.objects.get(pk=here["id"]).st_mtime is None  # the refused request recorded nothing
    r = client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {"ignore_missing_data": True}, format="json")
    assert ok(r)["ready"] == 1
    assert Job.objects.get(pk=reader["id"]).status == Status.READY


@pytest.mark.parametrize("body,field", [({"reinitialize": "maybe"}, "reinitialize"),
                                        ({"ignore_missing_data": 3}, "ignore_missing_data")])
def test_initialize_bad_body(client, world, unchanged, body, field):
    with unchanged():
        r = client.post(f"{BASE}/workflows/{world['wid']}/initialize_jobs", body, format="json")
        assert_error(r, 400, f"{field}: ")


@pytest.mark.parametrize("path", ["initialize_jobs?clear_ephemeral_user_data=perhaps",
                                  "process_changed_job_inputs?dry_run=perhaps",
                                  "reset_job_status?failed_only=perhaps"])
def test_workflow_ops_bad_flags(client, world, unchanged, path):
    with unchanged():
        assert_error(client.post(f"{BASE}/workflows/{world['wid']}/{path}", {}, format="json"), 400,
                     f"{path.split('?')[1].split('=')[0]}: ")


def test_workflow_status_bad_run_id(client, world, unchanged):
    with unchanged():
        for value in (-1, "1", True, HUGE, 2**40):
            assert_error(client.put(f"{BASE}/workflows/{world['wid']}/status", {"run_id": value}, format="json"),
                         400, "run_id: ")


# SECTION workflow specifications


def spec(**changes):
    body = {
        "name": "spec",
        "resource_requirements": [{"name": "small", "num_cpus": 1, "memory": "1g", "runtime": "PT10M"}],
        "files": [{"name": "raw", "path": "/tmp/raw"}, {"name": "out", "path": "/tmp/out"}],
        "user_data": [{"name": "cfg", "data": {"k": 1}}],
        "jobs": [
            {"name": "prep", "command": "echo prep", "output_files": ["out"], "resource_requirements": "small"},
            {"name": "work", "command": "echo work", "input_files": ["out"], "depends_on": ["prep"],
             "input_user_data": ["cfg"]},
        ],
    }
    body.update(changes)
    return body


def spec_jobs(*changes):
    jobs = spec()["jobs"]
    for index, change in changes:
        jobs[index] = {**jobs[index], **change}
    return jobs


@pytest.mark.parametrize("body,field", [
    (spec(jobs=spec_jobs((1, {"depends_on": ["nobody"]}))), "jobs.1.depends_on"),
    (spec(jobs=spec_jobs((1, {"name": "prep"}))), "jobs.1.name"),
    (spec(jobs=spec_jobs((0, {"input_files": ["nowhere"]}))), "jobs.0.input_files"),
    (spec(jobs=spec_jobs((1, {"output_user_data": ["nothing"]}))), "jobs.1.output_user_data"),
    (spec(jobs=spec_jobs((0, {"resource_requirements": "huge"}))), "jobs.0.resource_requirements"),
    (spec(jobs=spec_jobs((0, {"command": None}))), "jobs.0.command"),
    (spec(jobs=spec_jobs((0, {"depends_on": "prep"}))), "jobs.0.depends_on"),
    (spec(jobs=spec_jobs((0, {"priority": "high"}))), "jobs.0.priority"),
    (spec(jobs=spec_jobs((0, {"priority": BIG}))), "jobs.0.priority"),
    (spec(jobs=spec_jobs((0, {"cancel_on_blocking_job_failure": "yes"}))), "jobs.0.cancel_on_blocking_job_failure"),
    (spec(jobs=spec_jobs((0, {"invocation_script": 5}))), "jobs.0.invocation_script"),
    (spec(jobs=spec_jobs((1, {"name": "n" * 256}))), "jobs.1.name"),
    (spec(jobs=spec_jobs((0, {"depends_on": ["work"]}))), "jobs.0.depends_on"),  # a cycle
    (spec(jobs=spec_jobs((0, {"depends_on": ["prep"]}))), "jobs.0.depends_on"),  # depends on itself
    (spec(files=[{"name": "out"}, {"name": "out"}]), "files.1.name"),
    (spec(files=[{"name": "out", "path": 5}]), "files.0.path"),
    (spec(files=[{"name": "out"}, {"name": "f" * 256}]), "files.1.name"),
    (spec(user_data=[{"name": "cfg", "is_ephemeral": "no"}]), "user_data.0.is_ephemeral"),
    (spec(resource_requirements=[{"name": "small", "memory": "12x"}]), "resource_requirements.0.memory"),
    (spec(resource_requirements=[{"name": "small", "runtime": "8 hours"}]), "resource_requirements.0.runtime"),
    (spec(resource_requirements=[{"name": "small", "num_cpus": -1}]), "resource_requirements.0.num_cpus"),
    (spec(resource_requirements=[{"name": "small", "num_nodes": 0}]), "resource_requirements.0.num_nodes"),
    (spec(resource_requirements=[{"name": "small", "num_gpus": BIG}]), "resource_requirements.0.num_gpus"),
    (spec(resource_requirements=[{"name": "default"}]), "resource_requirements.0.name"),
    (spec(name=""), "name"),
    (spec(name="w" * 256), "name"),
    (spec(user="u" * 256), "user"),
    (spec(user=5), "user"),
    (spec(description=["x"]), "description"),
    (spec(jobs={"prep": {}}), "jobs"),
])
def test_workflow_spec_bad_input_creates_nothing(client, unchanged, body, field):
    with unchanged():
        assert_error(client.post(f"{BASE}/workflow_specifications", body, format="json"), 400, f"{field}: ")
    assert not Workflow.objects.filter(name__in=["spec", ""]).exists()


@pytest.mark.parametrize("body,field", [
    (spec(name="nul\u0000"), "name"),
    (spec(jobs=spec_jobs((1, {"command": "echo \u0000"}))), "jobs.1.command"),
    (spec(files=[{"name": "out", "path": "/tmp/\u0000"}]), "files.0.path"),
    (spec(user_data=[{"name": "cfg", "data": {"k": ["ok", "nul\u0000"]}}]), "user_data.0.data.k.1"),
    (spec(user_data=[{"name": "cfg", "data": {"k\u0000": 1}}]), "user_data.0.data"),
])
def test_workflow_spec_null_characters(client, unchanged, body, field):
    """PostgreSQL stores no NUL in text or jsonb: refused by name, on SQLite too."""
    with unchanged():
        assert_error(client.post(f"{BASE}/workflow_specifications", body, format="json"), 400, f"{field}: ",
                     "null characters")


def test_workflow_spec_cycle_message_names_the_jobs(client, unchanged):
    jobs = [{"name": "a", "command": "true", "depends_on": ["c"]},
            {"name": "b", "command": "true", "depends_on": ["a"]},
            {"name": "c", "command": "true", "depends_on": ["b"]},
            {"name": "d", "command": "true"}]
    with unchanged():
        message = assert_error(client.post(f"{BASE}/workflow_specifications", spec(jobs=jobs), format="json"), 400,
                               "jobs.0.depends_on: ", "cycle: 'a' -> 'c' -> 'b' -> 'a'")
        assert "'d'" not in message


def test_workflow_spec_cycle_through_files(client, unchanged):
    """x writes f1 and reads f2, y writes f2 and reads f1: no named dependency, still a cycle."""
    jobs = [{"name": "x", "command": "true", "input_files": ["f2"], "output_files": ["f1"]},
            {"name": "y", "command": "true", "input_files": ["f1"], "output_files": ["f2"]}]
    body = spec(files=[{"name": "f1"}, {"name": "f2"}], jobs=jobs)
    with unchanged():
        assert_error(client.post(f"{BASE}/workflow_specifications", body, format="json"), 400,
                     "jobs.0.depends_on: ", "'x'", "'y'", "files")


# SECTION body size


@pytest.mark.slow
def test_bulk_of_10000_ordinary_jobs_is_accepted(client, world):
    """10,000 jobs with 300-character commands are ~3.5 MB of JSON: more than Django's default
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which used to make the maximum bulk request a 500."""
    from django.conf import settings

    jobs = [{"workflow_id": world["other"], "name": f"j{i}", "command": "x" * 300} for i in range(10_000)]
    import json

    body = json.dumps({"jobs": jobs})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    r = client.post(f"{BASE}/bulk_jobs", data=body, content_type="application/json")
    assert r.status_code == 200, r.content[:300]
    assert len(r.json()["jobs"]) == 10_000
    assert Job.objects.filter(workflow_id=world["other"]).count() == 10_001


def test_spec_over_djangos_body_cap_is_accepted(client):
    import json

    from django.conf import settings

    jobs = [{"name": f"j{i}", "command": "y" * 1000} for i in range(3000)]
    body = json.dumps({"name": "large", "jobs": jobs})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    r = client.post(f"{BASE}/workflow_specifications", data=body, content_type="application/json")
    assert r.status_code == 200, r.content[:300]
    assert Job.objects.filter(workflow_id=r.json()["id"]).count() == 3000


def test_body_over_the_cap_is_413_not_500(client, world, unchanged):
    from django.conf import settings

    huge = "d" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    with unchanged():
        r = client.post(f"{BASE}/workflows", {"name": "w", "description": huge}, format="json")
        assert_error(r, 413, "body: ", str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        r = client.put(f"{BASE}/jobs/{world['a']}", {"command": huge}, format="json")
        assert_error(r, 413, "body: ")


def test_bulk_body_over_its_own_cap_is_413(client, world, unchanged, monkeypatch):
    from apps.core import torc

    monkeypatch.setattr(torc, "BULK_BODY_MAX", 2000)
    jobs = [{"workflow_id": world["wid"], "name": f"j{i}", "command": "true"} for i in range(100)]
    with unchanged():
        assert_error(client.post(f"{BASE}/bulk_jobs", {"jobs": jobs}, format="json"), 413, "body: ", "2000")
        r = client.post(f"{BASE}/workflow_specifications", {"name": "s", "jobs": [
            {"name": f"j{i}", "command": "true"} for i in range(100)]}, format="json")
        assert_error(r, 413, "body: ")
    # and the bulk parser keeps JSONParser's rules
    with unchanged():
        r = client.post(f"{BASE}/bulk_jobs", data='{"jobs": [NaN]}', content_type="application/json")
        assert_error(r, 400, "body: ", "JSON parse error")
        r = client.post(f"{BASE}/bulk_jobs", data=b'{"jobs": "\xff"}', content_type="application/json")
        assert_error(r, 400, "body: ", "JSON parse error")


# SECTION one transaction per request


def test_a_refused_request_rolls_back_what_it_wrote(alice):
    """Whatever a Torc view wrote before an error is undone, even outside a service's own
    transaction (TorcView opens one per write request)."""
    from rest_framework.test import APIRequestFactory, force_authenticate

    from apps.core.exceptions import Conflict
    from apps.core.torc import TorcView

    class WritesThenRefuses(TorcView):
        def post(self, request):
            Event.objects.create(workflow=None, timestamp="2025-01-01T00:00:00Z", category="half", data={})
            raise Conflict("refused after a write", field="x")

    class WritesThenSucceeds(TorcView):
        def post(self, request):
            Event.objects.create(workflow=None, timestamp="2025-01-01T00:00:00Z", category="whole", data={})
            from rest_framework.response import Response

            return Response({})

    factory = APIRequestFactory()
    for view, status, category in ((WritesThenRefuses, 409, "half"), (WritesThenSucceeds, 200, "whole")):
        request = factory.post("/torc-service/v1/x", {}, format="json")
        force_authenticate(request, user=alice)
        response = view.as_view()(request)
        assert response.status_code == status
        assert Event.objects.filter(category=category).exists() == (status == 200)


# SECTION junk on every write route


JUNK = [HUGE, -1, 1e308, "", "x" * 5000, "nul\u0000", {"a": 1}, [None], True, None]


def route_ids(w):
    return {"workflow_id": w["wid"], "job_id": w["a"], "file_id": w["file"], "user_data_id": w["ud"],
            "rr_id": w["rr"], "compute_node_id": w["node"], "node_id": w["node"], "result_id": w["result"],
            "event_id": Event.objects.filter(workflow_id=w["wid"]).first().pk, "run_id": 0, "limit": 3,
            "status": "completed"}


def test_junk_in_any_field_of_any_write_is_never_a_500(client, world):
    """Every write route (from the URL resolver), its valid body with one field at a time
    replaced by junk: a 4xx in Torc's shape that changes nothing, or a 200; never a 500."""
    from tests.torc.test_access import bodies, fill, methods_of, torc_routes

    ids = route_ids(world)
    valid = bodies(ids)
    sent = 0
    for name, route, view in torc_routes():
        for method in methods_of(view):
            if method == "get" or method == "delete":
                continue
            url = fill(route, ids)
            base = valid.get(name) or {}
            variants = [{key: junk} for junk in JUNK for key in ("workflow_id", "name")]
            variants += [{**base, key: junk} for key in base for junk in JUNK]
            for body in variants:
                before = db_state()
                response = getattr(client, method)(url, body, format="json")
                sent += 1
                assert response.status_code < 500, (method, url, body, response.content)
                if response.status_code >= 400:
                    assert_error(response, response.status_code)
                    assert db_state() == before, (method, url, body)
                else:  # something legitimately changed: start again from a fresh snapshot
                    assert response.status_code == 200
    assert sent > 500
