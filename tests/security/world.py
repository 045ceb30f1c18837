"""The world of the isolation matrix: alice's objects in every dialect (built through the API as
a client would), the credentials of the principals that try to reach them, and a snapshot of
the database to prove that a refused request changed nothing."""

import base64
from datetime import timedelta

from django.apps import apps as django_apps
from django.utils import timezone
from rest_framework.test import APIClient

TORC = "/torc-service/v1"
SHUTDOWN_SECRET = "matrix-shutdown-secret"

# Values that cannot exist, for the "missing object" twin of each request (keys of the world
# that name an object; group and user names are public in Mitosis: POST /groups answers 409
# for a taken one, so they are not replaced).
MISSING = {
    "wid": 990001, "job_ready": 990002, "job_pending": 990003, "job_running": 990004, "job_failed": 990005,
    "file": 990006, "ud": 990007, "rr": 990008, "node": 990009, "result": 990010, "event": 990011,
    "task_ready": "0badc0de-0000-4000-8000-000000000001", "task_held": "0badc0de-0000-4000-8000-000000000002",
    "task_held_id": 990012, "worker": "0badc0de-0000-4000-8000-000000000003", "att_key": "no/such/key.bin",
}
NO_SUCH_GROUP = "no-such-group"
# Fields a refused request may touch without changing anything anyone owns.
VOLATILE = {"groups.ApiKey": {"last_used_at"}, "groups.User": {"last_login"}}


def db_state() -> dict:
    """Every row of every Drover model (apps.*), volatile columns left out."""
    state = {}
    for model in django_apps.get_models():
        if not model.__module__.startswith("apps."):
            continue
        skip = VOLATILE.get(model._meta.label, set())
        fields = [f.attname for f in model._meta.concrete_fields if f.name not in skip]
        state[model._meta.label] = list(model.objects.order_by("pk").values_list(*fields))
    return state


def rows(state: dict, label: str) -> set[str]:
    """A table's rows, comparable as a set (JSON columns hold dicts, which do not hash)."""
    return {repr(row) for row in state[label]}


def diff(before: dict, after: dict) -> list[str]:
    """What changed, table by table, short enough for an assertion message."""
    out = []
    for label in before:
        gone, new = rows(before, label) - rows(after, label), rows(after, label) - rows(before, label)
        if gone or new:
            out.append(f"{label}: -{sorted(gone)[:3]} +{sorted(new)[:3]}")
    return out


def _ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:400])
    return response.json() if response.content else None


def _bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Bearer " + token}


def build() -> dict:
    from apps.groups import services as groups
    from apps.groups.tokens import access_token_for
    from apps.storage.models import Artifact, Attachment
    from apps.workflows.models import Event

    users = {name: groups.user_create(username=name, password=f"pw-{name}", admin=name == "root")
             for name in ("alice", "bob", "rita", "root")}
    groups.group_set_roles(actor=users["alice"], group_name="alice", relations={"rita": "Read"})
    creds = {name: _bearer(access_token_for(user)) for name, user in users.items()}
    creds["anon"] = {}
    _, key = groups.api_key_create(user=users["alice"], name="matrix")
    creds["alice_key"] = {"HTTP_X_API_KEY": key}
    creds["alice_basic"] = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:pw-alice").decode()}
    a = APIClient(**creds["alice"])
    w = {"creds": creds, "group": "alice", "username": "bob", "run_id": 0, "content_type": "result",
         "att_key": "data/in.bin"}

    # Torc: a workflow with requirements, a file, user data, a node, jobs ready / pending /
    # running / failed (priorities pick which the claim takes), a result and events.
    def post(path, body):
        return _ok(a.post(TORC + path, body, format="json"))

    wid = w["wid"] = post("/workflows", {"name": "alice-wf"})["id"]
    w["rr"] = post("/resource_requirements", {"workflow_id": wid, "name": "small", "num_cpus": 1,
                                              "memory": "1g", "runtime": "PT1H"})["id"]
    w["file"] = post("/files", {"workflow_id": wid, "name": "f", "path": "/tmp/f"})["id"]
    w["ud"] = post("/user_data", {"workflow_id": wid, "name": "u", "data": {"a": 1}})["id"]
    w["node"] = post("/compute_nodes", {"workflow_id": wid, "hostname": "n1", "num_cpus": 4, "memory": "8g"})["id"]
    for name, priority in (("ready", 0), ("pending", 9), ("running", 9), ("failed", 9)):
        w[f"job_{name}"] = post("/jobs", {"workflow_id": wid, "name": name, "command": "true",
                                          "priority": priority})["id"]
    post(f"/workflows/{wid}/initialize_jobs", {})
    claimed = post(f"/workflows/{wid}/claim_next_jobs?limit=3", {})["jobs"]
    assert sorted(j["id"] for j in claimed) == sorted([w["job_pending"], w["job_running"], w["job_failed"]])
    for name in ("running", "failed"):
        _ok(a.put(f"{TORC}/jobs/{w[f'job_{name}']}/start_job/0/{w['node']}"))
    post(f"/jobs/{w['job_failed']}/complete_job/failed/0",
         {"workflow_id": wid, "job_id": w["job_failed"], "return_code": 1, "exec_time_minutes": 0.5,
          "completion_time": "2025-01-01T00:00:00Z"})
    w["result"] = _ok(a.get(f"{TORC}/results?workflow_id={wid}"))["items"][0]["id"]
    w["event"] = Event.objects.filter(workflow_id=wid).order_by("id").values_list("id", flat=True).first()

    # Mitosis: a task held by alice's worker, a ready task with a result artifact, attachments
    # (also under the keys "query" and "list" that fixed routes answer), all older than the
    # one-hour delete grace; bob's own worker.
    def task():
        return _ok(a.post("/tasks", {"group_name": "alice", "tags": [], "labels": [], "timeout": "10m",
                                     "priority": 0, "task_spec": {"args": ["true"]}}, format="json"))["uuid"]

    def register(client):
        body = _ok(client.post("/workers", {"tags": [], "labels": [], "groups": [], "lifetime": None},
                               format="json"))
        return body["worker_id"], _bearer(body["token"])

    w["task_held"] = task()
    w["worker"], creds["worker"] = register(a)
    held = _ok(APIClient(**creds["worker"]).get("/workers/tasks"))
    assert held["uuid"] == w["task_held"]
    w["task_held_id"] = held["id"]
    w["task_ready"] = task()
    _ok(a.post(f"/tasks/{w['task_ready']}/artifacts", {"content_type": "result", "content_length": 3},
               format="json"))
    for key in (w["att_key"], "query", "list"):
        _ok(a.post("/groups/alice/attachments", {"key": key, "content_length": 3}, format="json"))
    old = timezone.now() - timedelta(hours=2)
    Attachment.objects.filter(group__name="alice").update(updated_at=old)
    Artifact.objects.filter(job__group__name="alice").update(updated_at=old)
    w["bob_worker"], creds["bob_worker"] = register(APIClient(**creds["bob"]))
    w["refresh"] = _ok(APIClient().post("/token/", {"username": "alice", "password": "pw-alice"},
                                        format="json"))["refresh"]
    return w


def client_for(world: dict, principal: str) -> APIClient:
    return APIClient(**world["creds"][principal])


def missing_twin(world: dict) -> dict:
    """The world with every object id replaced by one that does not exist."""
    return {**world, **MISSING}
