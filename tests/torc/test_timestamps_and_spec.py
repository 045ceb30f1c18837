"""The workflow timestamp's two forms (the seed's float, the real server's string that
torc-client needs) and whole workflows from one specification."""

import re
from datetime import datetime, timezone

import pytest
from rest_framework.test import APIClient

from apps.files.models import File, JobFile, JobUserData, UserData
from apps.jobs.models import Job, JobDependency
from apps.jobs.states import Status
from apps.workflows.models import Event, ResourceRequirements, Workflow
from conftest import basic_header

pytestmark = pytest.mark.django_db
BASE = "/torc-service/v1"
GENERATED_UA = "OpenAPI-Generator/0.21.0/python"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
FULL_MODEL_KEYS = {"run_id", "is_canceled", "is_archived", "jobs_sort_method", "compute_node_wait_for_new_jobs_seconds"}


def client_with(user_agent="curl/8.5.0", **headers):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=basic_header("alice", "pw-alice"), HTTP_USER_AGENT=user_agent, **headers)
    return c


def ok(response):
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def wid(alice):
    return ok(client_with().post(f"{BASE}/workflows", {"name": "stamped"}, format="json"))["id"]


def stamps(client, wid) -> list:
    """The timestamp as every workflow-returning endpoint gives it."""
    out = [ok(client.get(f"{BASE}/workflows/{wid}"))["timestamp"],
           ok(client.get(f"{BASE}/workflows"))["workflows"][0]["timestamp"],
           ok(client.get(f"{BASE}/workflows"))["items"][0]["timestamp"],
           ok(client.put(f"{BASE}/workflows/{wid}", {"name": "stamped"}, format="json"))["timestamp"]]
    return out


def created_at(wid) -> datetime:
    return Workflow.objects.get(pk=wid).created_at


def assert_float(values, wid):
    for value in values:
        assert isinstance(value, float), value
        assert value == pytest.approx(created_at(wid).timestamp(), abs=1e-6)


def assert_string(values, wid):
    expected = created_at(wid).astimezone(timezone.utc)
    for value in values:
        assert isinstance(value, str) and ISO_Z.fullmatch(value), value
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        assert abs((parsed - expected).total_seconds()) < 0.001


# SECTION timestamp


def test_plain_clients_get_the_seeds_float(wid):
    client = client_with("curl/8.5.0")
    assert_float(stamps(client, wid), wid)
    body = ok(client.get(f"{BASE}/workflows/{wid}"))
    assert set(body) == {"id", "name", "user", "description", "timestamp"}  # the seed's shape, exactly
    assert_float([ok(client_with("").get(f"{BASE}/workflows/{wid}"))["timestamp"]], wid)  # no User-Agent


@pytest.mark.parametrize("headers", [
    {"HTTP_X_TORC_TIMESTAMP_FORMAT": "string"},
    {"HTTP_X_TORC_TIMESTAMP_FORMAT": " String "},
])
def test_header_asks_for_the_string(wid, headers):
    client = client_with("curl/8.5.0", **headers)
    assert_string(stamps(client, wid), wid)
    assert FULL_MODEL_KEYS <= set(ok(client.get(f"{BASE}/workflows/{wid}")))


def test_generated_client_gets_the_string(wid):
    client = client_with(GENERATED_UA)
    assert_string(stamps(client, wid), wid)
    created = ok(client.post(f"{BASE}/workflows", {"name": "made-by-client"}, format="json"))
    assert_string([created["timestamp"]], created["id"])
    spec = ok(client.post(f"{BASE}/workflow_specifications", {"name": "s", "jobs": []}, format="json"))
    assert_string([spec["timestamp"]], spec["id"])


def test_header_float_wins_over_the_generated_user_agent(wid):
    client = client_with(GENERATED_UA, HTTP_X_TORC_TIMESTAMP_FORMAT="float")
    assert_float(stamps(client, wid), wid)


def test_unknown_header_value_falls_back_to_auto(wid):
    assert_float([ok(client_with("curl/8.5.0", HTTP_X_TORC_TIMESTAMP_FORMAT="iso").get(
        f"{BASE}/workflows/{wid}"))["timestamp"]], wid)
    assert_string([ok(client_with(GENERATED_UA, HTTP_X_TORC_TIMESTAMP_FORMAT="iso").get(
        f"{BASE}/workflows/{wid}"))["timestamp"]], wid)


def test_setting_string_forces_the_string(wid, settings):
    settings.DROVER_TORC_TIMESTAMP = "string"
    assert_string(stamps(client_with("curl/8.5.0"), wid), wid)
    assert_string(stamps(client_with(GENERATED_UA), wid), wid)
    # the per-request header still decides for its request
    assert_float(stamps(client_with("curl/8.5.0", HTTP_X_TORC_TIMESTAMP_FORMAT="float"), wid), wid)


def test_setting_float_forces_the_float(wid, settings):
    settings.DROVER_TORC_TIMESTAMP = "float"
    assert_float(stamps(client_with(GENERATED_UA), wid), wid)
    assert_float(stamps(client_with("curl/8.5.0"), wid), wid)
    assert_string(stamps(client_with(GENERATED_UA, HTTP_X_TORC_TIMESTAMP_FORMAT="string"), wid), wid)


def test_setting_auto_decides_by_user_agent(wid, settings):
    settings.DROVER_TORC_TIMESTAMP = "auto"
    assert_float(stamps(client_with("curl/8.5.0"), wid), wid)
    assert_string(stamps(client_with(GENERATED_UA), wid), wid)


def test_other_timestamps_keep_their_forms(wid):
    """Events carry epoch milliseconds (ints) whatever the workflow form."""
    for client in (client_with("curl/8.5.0"), client_with(GENERATED_UA)):
        events = ok(client.get(f"{BASE}/events?workflow_id={wid}"))["events"]
        assert events and all(isinstance(e["timestamp"], int) for e in events)


# SECTION workflow specification


SPEC = {
    "name": "pipeline",
    "user": "alice",
    "description": "from one spec",
    "resource_requirements": [
        {"name": "small", "num_cpus": 1, "memory": "1g", "runtime": "PT10M"},
        {"name": "big", "num_cpus": 16, "num_gpus": 2, "num_nodes": 2, "memory": "128g", "runtime": "P1DT12H"},
    ],
    "files": [
        {"name": "raw", "path": "{tmp}/raw.csv"},
        {"name": "clean", "path": "{tmp}/clean.csv"},
        {"name": "model", "path": "{tmp}/model.bin"},
    ],
    "user_data": [
        {"name": "params", "data": {"lr": 0.01}},
        {"name": "metrics", "is_ephemeral": True},
    ],
    "jobs": [
        # reads the existing raw file, writes clean
        {"name": "prepare", "command": "prep", "resource_requirements": "small", "input_files": ["raw"],
         "output_files": ["clean"], "priority": 5},
        # implicit dependency on prepare through "clean"; reads params, writes model and metrics
        {"name": "train", "command": "train", "resource_requirements": "big", "input_files": ["clean"],
         "input_user_data": ["params"], "output_files": ["model"], "output_user_data": ["metrics"],
         "cancel_on_blocking_job_failure": False},
        # implicit dependency on train through "metrics" only
        {"name": "report", "command": "report", "input_user_data": ["metrics"]},
        # explicit dependency only
        {"name": "notify", "command": "notify", "depends_on": ["report"], "invocation_script": "bash -c"},
        # nothing to wait for
        {"name": "independent", "command": "other", "supports_termination": True},
    ],
}


def fill_paths(spec, tmp_path):
    files = [{**f, "path": f["path"].format(tmp=tmp_path)} for f in spec["files"]]
    return {**spec, "files": files}


@pytest.fixture
def created(alice, tmp_path):
    (tmp_path / "raw.csv").write_text("a,b\n")
    client = client_with()
    before = Event.objects.count()
    body = ok(client.post(f"{BASE}/workflow_specifications", fill_paths(SPEC, tmp_path), format="json"))
    return client, body, before


def test_spec_creates_everything(alice, created, tmp_path):
    client, body, _ = created
    wf = Workflow.objects.get(pk=body["id"])
    assert (wf.name, wf.user, wf.description, wf.owner, wf.group.name) == (
        "pipeline", "alice", "from one spec", alice, "alice")
    assert {k: body[k] for k in ("name", "user", "description")} == {
        "name": "pipeline", "user": "alice", "description": "from one spec"}
    assert isinstance(body["timestamp"], float)
    ids = body["job_ids"]
    assert set(ids) == {"prepare", "train", "report", "notify", "independent"}

    rrs = {r.name: r for r in ResourceRequirements.objects.filter(workflow=wf)}
    assert set(rrs) == {"default", "small", "big"}
    assert (rrs["big"].num_cpus, rrs["big"].num_gpus, rrs["big"].num_nodes, rrs["big"].memory_bytes,
            rrs["big"].runtime_s, rrs["big"].memory, rrs["big"].runtime) == (
        16, 2, 2, 128 * 1024**3, 36 * 3600, "128g", "P1DT12H")
    assert (rrs["small"].memory_bytes, rrs["small"].runtime_s) == (1024**3, 600)

    files = {f.name: f for f in File.objects.filter(workflow=wf)}
    assert {n: f.path for n, f in files.items()} == {
        "raw": f"{tmp_path}/raw.csv", "clean": f"{tmp_path}/clean.csv", "model": f"{tmp_path}/model.bin"}
    data = {u.name: u for u in UserData.objects.filter(workflow=wf)}
    assert (data["params"].data, data["params"].is_ephemeral) == ({"lr": 0.01}, False)
    assert (data["metrics"].data, data["metrics"].is_ephemeral) == (None, True)

    jobs = {j.name: j for j in Job.objects.filter(workflow=wf)}
    assert {n: j.pk for n, j in jobs.items()} == ids
    assert all(j.status == Status.UNINITIALIZED and j.group_id == wf.group_id and j.owner == alice
               for j in jobs.values())
    assert jobs["prepare"].resource_requirements_id == rrs["small"].pk and jobs["prepare"].priority == 5
    assert jobs["train"].resource_requirements_id == rrs["big"].pk
    assert jobs["train"].cancel_on_blocking_job_failure is False
    assert jobs["report"].resource_requirements_id == rrs["default"].pk  # none named: the default
    assert jobs["notify"].invocation_script == "bash -c" and jobs["independent"].supports_termination

    links = set(JobFile.objects.filter(job__workflow=wf).values_list("job__name", "file__name", "is_output"))
    assert links == {("prepare", "raw", False), ("prepare", "clean", True), ("train", "clean", False),
                     ("train", "model", True)}
    ud_links = set(JobUserData.objects.filter(job__workflow=wf).values_list("job__name", "user_data__name",
                                                                            "is_output"))
    assert ud_links == {("train", "params", False), ("train", "metrics", True), ("report", "metrics", False)}
    # only the named dependency exists before initialization
    edges = set(JobDependency.objects.filter(job__workflow=wf).values_list("job__name", "depends_on__name",
                                                                           "implicit"))
    assert edges == {("notify", "report", False)}

    # the API shows the same
    listed = ok(client.get(f"{BASE}/jobs?workflow_id={wf.pk}&include_relationships=true"))["jobs"]
    by_name = {j["name"]: j for j in listed}
    assert by_name["notify"]["depends_on_job_ids"] == [ids["report"]]
    assert by_name["train"]["input_file_ids"] == [files["clean"].pk]
    assert by_name["train"]["output_user_data_ids"] == [data["metrics"].pk]


def test_spec_then_initialize_places_jobs_with_implicit_dependencies(created):
    client, body, _ = created
    wid, ids = body["id"], body["job_ids"]
    summary = ok(client.post(f"{BASE}/workflows/{wid}/initialize_jobs", {}, format="json"))
    assert (summary["ready"], summary["blocked"]) == (2, 3)
    assert summary["implicit_dependencies"] == 2
    statuses = {j["name"]: j["status"] for j in ok(client.get(f"{BASE}/jobs?workflow_id={wid}"))["jobs"]}
    assert statuses == {"prepare": "ready", "independent": "ready", "train": "blocked", "report": "blocked",
                        "notify": "blocked"}
    edges = set(JobDependency.objects.filter(job__workflow_id=wid).values_list("job__name", "depends_on__name",
                                                                               "implicit"))
    assert edges == {("notify", "report", False), ("train", "prepare", True), ("report", "train", True)}
    assert dict(Job.objects.filter(workflow_id=wid).values_list("name", "unfinished_deps")) == {
        "prepare": 0, "independent": 0, "train": 1, "report": 1, "notify": 1}
    # the existing input was stamped; the produced files were not required to exist
    assert File.objects.get(workflow_id=wid, name="raw").st_mtime is not None
    assert File.objects.get(workflow_id=wid, name="clean").st_mtime is None

    # running prepare releases train, and only train
    from tests.torc.test_query_counts import fresh_statistics

    fresh_statistics()  # claim() over-claims under one PostgreSQL plan: see test_query_counts
    claimed = ok(client.post(f"{BASE}/workflows/{wid}/claim_next_jobs?limit=1", {}, format="json"))["jobs"]
    assert [j["name"] for j in claimed] == ["prepare"]  # priority 5 first
    assert claimed[0]["output_file_ids"] == [File.objects.get(workflow_id=wid, name="clean").pk]
    node = ok(client.post(f"{BASE}/compute_nodes", {"workflow_id": wid, "hostname": "h"}, format="json"))["id"]
    ok(client.put(f"{BASE}/jobs/{ids['prepare']}/start_job/0/{node}"))
    ok(client.post(f"{BASE}/jobs/{ids['prepare']}/complete_job/completed/0",
                   {"workflow_id": wid, "job_id": ids["prepare"], "return_code": 0}, format="json"))
    statuses = {j["name"]: j["status"] for j in ok(client.get(f"{BASE}/jobs?workflow_id={wid}"))["jobs"]}
    assert statuses == {"prepare": "completed", "independent": "ready", "train": "ready", "report": "blocked",
                        "notify": "blocked"}


def test_spec_initialize_refuses_a_missing_raw_input(alice, tmp_path):
    """raw.csv is not produced by any job and does not exist: initialize says which file."""
    client = client_with()
    body = ok(client.post(f"{BASE}/workflow_specifications", fill_paths(SPEC, tmp_path), format="json"))
    r = client.post(f"{BASE}/workflows/{body['id']}/initialize_jobs", {}, format="json")
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "raw" in message and f"{tmp_path}/raw.csv" in message
    assert "clean" not in message and "model" not in message  # produced by jobs: not required
    assert set(Job.objects.filter(workflow_id=body["id"]).values_list("status", flat=True)) == {
        Status.UNINITIALIZED}
    assert not JobDependency.objects.filter(job__workflow_id=body["id"], implicit=True).exists()
    r = client.post(f"{BASE}/workflows/{body['id']}/initialize_jobs", {"ignore_missing_data": True}, format="json")
    assert ok(r)["ready"] == 2


def test_spec_is_one_transaction(alice, tmp_path):
    """A bad last job leaves no workflow, requirement, file, user data, job, edge or event behind."""
    bad = fill_paths(SPEC, tmp_path)
    bad = {**bad, "jobs": bad["jobs"] + [{"name": "broken", "command": "x", "depends_on": ["ghost"]}]}
    counts = {m: m.objects.count() for m in (Workflow, ResourceRequirements, File, UserData, Job, JobDependency,
                                             JobFile, JobUserData, Event)}
    r = client_with().post(f"{BASE}/workflow_specifications", bad, format="json")
    assert r.status_code == 400
    assert r.json() == {"error": {"message": "jobs.5.depends_on: unknown jobs: ghost"}}
    assert {m: m.objects.count() for m in counts} == counts


def test_spec_events_and_minimal_spec(alice, created):
    client, body, before = created
    assert Event.objects.filter(workflow_id=body["id"], category="workflow_created").count() == 1
    minimal = ok(client.post(f"{BASE}/workflow_specifications", {"name": "tiny"}, format="json"))
    assert minimal["job_ids"] == {}
    assert list(ResourceRequirements.objects.filter(workflow_id=minimal["id"]).values_list("name", flat=True)) == [
        "default"]


# SECTION other times


@pytest.mark.parametrize("sent,expected", [
    ("2025-01-01T02:30:00+02:00", "2025-01-01T00:30:00.000Z"),
    ("2024-12-31T19:30:00.250-05:00", "2025-01-01T00:30:00.250Z"),
    ("2025-01-01T00:30:00Z", "2025-01-01T00:30:00.000Z"),
    ("2025-01-01T00:30:00", "2025-01-01T00:30:00.000Z"),  # no offset: UTC
])
def test_result_completion_time_is_utc(wid, sent, expected):
    """A completion time sent with an offset comes back in UTC, on create and on read."""
    client = client_with()
    job = ok(client.post(f"{BASE}/jobs", {"workflow_id": wid, "name": "j", "command": "true"}, format="json"))
    created = ok(client.post(f"{BASE}/results", {"workflow_id": wid, "job_id": job["id"], "return_code": 0,
                                                 "completion_time": sent}, format="json"))
    assert created["completion_time"] == expected
    assert ok(client.get(f"{BASE}/results/{created['id']}"))["completion_time"] == expected
    assert ok(client.get(f"{BASE}/results?workflow_id={wid}"))["items"][0]["completion_time"] == expected
