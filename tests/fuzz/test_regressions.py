"""Failures the fuzzer found, written out as plain requests (no Hypothesis), so they replay the
same way whatever the generator does. A bug still present is xfail(strict=True) (the last item of
its case): fixing it makes the test pass, which fails the run until the mark (and its entry in
known.py) is removed. Every case found so far is fixed.

Each case sends one bad request (a schema-violating body or query, or a NUL character in a name)
about a real object of the fuzz world and expects a 4xx in the dialect's error shape, with the
database unchanged."""

import json

import pytest
from django.apps import apps as django_apps
from django.db import transaction

from .checks import MESSAGE_AT
from .world import TEAM, TORC, USER, VICTIM

pytestmark = pytest.mark.django_db

SKIP_COLUMNS = {("apikey", "last_used_at")}  # touched by any authenticated request, at most every 5 min


def snapshot() -> dict:
    """Every row of every Drover model: an error must leave all of them as they were."""
    state = {}
    for model in django_apps.get_models():
        if not model.__module__.startswith("apps."):
            continue
        name = model._meta.model_name
        fields = [f.attname for f in model._meta.concrete_fields if (name, f.attname) not in SKIP_COLUMNS]
        state[model._meta.label] = sorted(map(repr, model.objects.values_list(*fields)))
    return state


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# (id, admin?, method, path, body, bug); path and body may name {task}, {worker}, {wid}, {node}, {file},
# {ud} and {rr}, the world's objects
CASES = [
    # Mitosis, a string property given a number
    ("group-name-number", False, "post", "/groups", {"group_name": 0}, None),
    ("attachment-key-number", False, "post", f"/groups/{USER}/attachments", {"key": 0, "content_length": 8},
     None),
    ("attachment-keys-number", False, "post", f"/groups/{USER}/delete/attachments/list", {"keys": [0]}, None),
    ("attachment-filter-key-number", False, "post", f"/groups/{USER}/download/attachments", {"key": 0}, None),
    ("task-labels-number", False, "put", "/tasks/{task}/labels", {"labels": [0]}, None),
    ("worker-tags-number", False, "put", "/workers/{worker}/tags", {"tags": [0]}, None),
    ("worker-labels-number", False, "put", "/workers/{worker}/labels", {"labels": [0]}, None),
    ("storage-quota-number", True, "post", f"/admin/groups/{USER}/storage-quota", {"storage_quota": 0}, None),
    ("group-quota-number", True, "post", f"/admin/users/{VICTIM}/group-quota", {"group_quota": 0}, None),
    # Mitosis, a boolean given 0, a uuid given false
    ("admin-flag-number", True, "post", "/admin/users",
     {"username": "fz-new-user", "md5_password": [0] * 16, "admin": 0}, None),
    ("query-count-number", False, "post", f"/groups/{USER}/attachments/query", {"count": 0}, None),
    ("cancel-uuids-false", False, "post", "/tasks/cancel/list", {"uuids": [False]}, None),
    ("artifact-uuids-false", False, "post", "/tasks/delete/artifacts/list",
     {"uuids": [False], "content_type": "result"}, None),
    ("shutdown-uuids-false", False, "post", "/workers/shutdown/list", {"uuids": [False], "op": "Graceful"},
     None),
    # Mitosis, a batch item without its required timeout
    ("submit-item-missing-timeout", False, "post", "/tasks/submit", {"tasks": [{
        "group_name": USER, "tags": [], "labels": [], "priority": 0,
        "task_spec": {"args": ["true"], "envs": {}, "resources": [], "terminal_output": False, "watch": None}}]},
     None),
    # Torc
    ("workflow-project-number", False, "post", f"{TORC}/workflows", {"name": "fz-new", "project": 0}, None),
    ("workflow-update-project-number", False, "put", TORC + "/workflows/{wid}", {"name": "fz-wf", "project": 0},
     None),
    ("node-type-number", False, "put", TORC + "/compute_nodes/{node}",
     {"workflow_id": "{wid}", "hostname": "fz-host", "compute_node_type": 0}, None),
    ("file-mtime-false", False, "put", TORC + "/files/{file}",
     {"workflow_id": "{wid}", "name": "in", "path": "/tmp/fz-in", "st_mtime": False}, None),
    ("user-data-ephemeral-number", False, "put", TORC + "/user_data/{ud}",
     {"workflow_id": "{wid}", "name": "ud", "is_ephemeral": 0}, None),
    ("workflow-status-list-body", False, "put", TORC + "/workflows/{wid}/status", [None, None], None),
    ("claim-empty-limit", False, "post", TORC + "/workflows/{wid}/claim_next_jobs?limit=&num_jobs=", None,
     None),
    ("reset-empty-failed-only", False, "post", TORC + "/workflows/{wid}/reset_job_status?failed_only=", None,
     None),
    ("process-empty-dry-run", False, "post", TORC + "/workflows/{wid}/process_changed_job_inputs?dry_run=", None,
     None),
    ("user-data-empty-job-ids", False, "post", TORC + "/user_data?consumer_job_id=&producer_job_id=",
     {"workflow_id": "{wid}", "name": "fz-new"}, None),
    ("description-number", False, "post", f"{TORC}/workflows", {"name": "fz-new", "description": -5.5}, None),
    ("requirements-memory-number", False, "put", TORC + "/resource_requirements/{rr}",
     {"workflow_id": "{wid}", "name": "fz-rr", "memory": 8672397}, None),
    ("claim-strict-not-boolean", False, "post",
     TORC + "/workflows/{wid}/claim_jobs_based_on_resources/5?strict_scheduler_match=maybe",
     {"num_cpus": 1, "memory_gb": 1.0, "num_gpus": 0, "num_nodes": 1}, None),
    ("claim-strict-empty", False, "post",
     TORC + "/workflows/{wid}/claim_jobs_based_on_resources/5?strict_scheduler_match=",
     {"num_cpus": 1, "memory_gb": 1.0, "num_gpus": 0, "num_nodes": 1}, None),
    # found by the fuzzer after the strict fields: a string for a number or a boolean, and a value
    # over maxLength only by its surrounding whitespace (DRF trims before it checks the length)
    ("workflow-name-padded", False, "post", f"{TORC}/workflows", {"name": "fz-new" + " " * 300}, None),
    ("user-data-ephemeral-string", False, "put", TORC + "/user_data/{ud}",
     {"workflow_id": "{wid}", "name": "ud", "is_ephemeral": "true"}, None),
    ("node-cpus-string", False, "put", TORC + "/compute_nodes/{node}",
     {"workflow_id": "{wid}", "hostname": "fz-host", "num_cpus": "4"}, None),
    ("task-priority-string", False, "post", "/tasks", {"group_name": USER, "timeout": "5m", "priority": "9",
                                                       "task_spec": {"args": ["true"]}}, None),
    ("register-groups-numbers", False, "post", "/workers", {"tags": [], "labels": [], "groups": [15.0],
                                                             "lifetime": None}, None),
]

# A NUL character, refused as bad input (SQLite) or a 500 (PostgreSQL, whose text cannot hold one)
NUL_CASES = [
    ("worker-groups-nul-name", False, "put", "/workers/{worker}/groups", {"relations": {"a\u0000b": "Read"}}),
    ("worker-groups-remove-nul", False, "delete", "/workers/{worker}/groups?groups=a%00b", None),
    ("group-users-nul-name", False, "put", f"/groups/{TEAM}/users", {"relations": {"a\u0000b": "Read"}}),
    ("group-users-remove-nul", False, "delete", f"/groups/{TEAM}/users?users=a%00b", None),
    ("group-nul-in-path", False, "get", "/groups/a%00b", None),
    ("attachment-group-nul-in-path", False, "post", "/groups/a%00b/attachments", {"key": "x", "content_length": 1}),
    ("admin-user-nul-in-path", True, "delete", "/admin/users/a%00b", None),
    ("admin-quota-group-nul-in-path", True, "post", "/admin/groups/a%00b/storage-quota", {"storage_quota": "1GB"}),
]


def _request(world, path: str, method: str, body, *, admin: bool = False):
    """One request in a savepoint: on PostgreSQL a failed statement would otherwise abort the
    test's transaction and every query after it (here, snapshot()) with it."""
    names = {"task": world.ids["task_uuid"][2], "worker": world.ids["worker_uuid"][0],
             "wid": world.ids["workflow_id"][0], "node": world.ids["node_id"][0],
             "file": world.ids["file_id"][0], "ud": world.ids["user_data_id"][0], "rr": world.ids["rr_id"][0]}
    client = world.client(world.admin_key if admin else world.user_key)
    if path == "/workers" and method == "post":
        client = world.jwt_client()
    data = json.dumps(_fill(body, names)) if body is not None else None
    with transaction.atomic():
        return getattr(client, method)(path.format(**names), data=data, content_type="application/json")


def assert_refused(response, path: str) -> None:
    """A 4xx in the dialect's error shape with a message."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    message = response.json()
    for key in MESSAGE_AT["torc" if path.startswith(TORC) else "mitosis"]:
        message = message[key]
    assert isinstance(message, str) and message


def _fill(value, names: dict):
    if isinstance(value, str):
        return int(names[value[1:-1]]) if value.startswith("{") and value[1:-1] in names else value.format(**names)
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("admin", "method", "path", "body"), [
    pytest.param(admin, method, path, body, id=name, marks=xfail(bug) if bug else ())
    for name, admin, method, path, body, bug in CASES])
def test_schema_violating_request_is_refused(fuzz_world_db, admin, method, path, body):
    before = snapshot()
    assert_refused(_request(fuzz_world_db, path, method, body, admin=admin), path)
    assert snapshot() == before


@pytest.mark.parametrize(("admin", "method", "path", "body"), [
    pytest.param(admin, method, path, body, id=name) for name, admin, method, path, body in NUL_CASES])
def test_nul_in_a_name_is_bad_input_not_a_server_error(fuzz_world_db, admin, method, path, body):
    before = snapshot()
    assert_refused(_request(fuzz_world_db, path, method, body, admin=admin), path)
    assert snapshot() == before


def test_reset_job_status_counts_the_jobs_it_resets(fuzz_world_db):
    from apps.jobs.models import Job
    from apps.jobs.states import Status

    wid = fuzz_world_db.ids["workflow_id"][0]
    client = fuzz_world_db.client(fuzz_world_db.user_key)
    jobs = Job.objects.filter(workflow_id=wid)
    resettable = jobs.exclude(status=Status.UNINITIALIZED).count()
    assert resettable > 0
    response = client.post(f"{TORC}/workflows/{wid}/reset_job_status", content_type="application/json")
    assert response.status_code == 200, response.content
    assert jobs.filter(status=Status.UNINITIALIZED).count() == jobs.count()
    assert response.json()["updated_count"] == resettable
