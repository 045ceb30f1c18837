"""The objects the fuzzer aims at: users, a shared group, workers, Mitosis tasks in several
states with an artifact and an attachment, and a Torc workflow with jobs, files, user data,
requirements, a compute node, an event and a result. Users and their API keys come from the
services (no endpoint makes API keys); everything else is made through the API, as a client
would, so the world follows the views when they change.

Random ids would almost always be 404s and leave the code behind them untested: the hooks in
harness.py swap generated ids for these (ids.py says which name means which object)."""

from dataclasses import dataclass, field

from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.groups import tokens

TORC = "/torc-service/v1"
# Long, odd names: the fuzzer's own strings never hit them by chance, so it cannot lock, delete
# or re-password the users it is acting as.
USER, ADMIN, VICTIM = "fz-user-7q2x", "fz-admin-7q2x", "fz-victim-7q2x"
TEAM = "fz-team-7q2x"
PASSWORD = "fz-password-7q2x"
ATTACHMENT_KEY = "fz/data.bin"


@dataclass
class World:
    user_key: str = ""
    admin_key: str = ""
    user_jwt: str = ""
    worker_token: str = ""
    worker_uuid: str = ""
    ids: dict = field(default_factory=dict)  # id name -> candidate values (ids.py)

    def client(self, key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key)
        return client

    def jwt_client(self) -> APIClient:
        """POST /workers takes a user's bearer token only (its security: workerAuth or bearerAuth)."""
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer " + self.user_jwt)
        return client


def ok(response) -> dict:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.json() if response.content else {}


def _users(world: World) -> APIClient:
    user = groups.user_create(username=USER, password=PASSWORD)
    admin = groups.user_create(username=ADMIN, password=PASSWORD, admin=True)
    groups.user_create(username=VICTIM, password=PASSWORD)
    world.user_key = groups.api_key_create(user=user, name="fuzz")[1]
    world.admin_key = groups.api_key_create(user=admin, name="fuzz")[1]
    world.user_jwt = tokens.access_token_for(user)
    return world.client(world.user_key)


def register_worker(world: World) -> tuple[str, str]:
    body = ok(world.jwt_client().post(
        "/workers", {"tags": [], "labels": ["fz"], "groups": [USER, TEAM], "lifetime": None}, format="json"))
    return body["worker_id"], body["token"]


def _mitosis(world: World, user: APIClient) -> None:
    ok(user.post("/groups", {"group_name": TEAM}, format="json"))
    ok(user.put(f"/groups/{TEAM}/users", {"relations": {VICTIM: "Read"}}, format="json"))
    world.worker_uuid, world.worker_token = register_worker(world)
    managed_uuid, _ = register_worker(world)
    worker = APIClient()
    worker.credentials(HTTP_AUTHORIZATION="Bearer " + world.worker_token)

    def submit(group: str) -> dict:
        return ok(user.post("/tasks", {
            "group_name": group, "tags": [], "labels": ["fz"], "timeout": "10m", "priority": 0,
            "task_spec": {"args": ["echo", "fz"], "envs": {}, "resources": [], "terminal_output": False,
                          "watch": None}}, format="json"))

    done = submit(USER)
    done_id = ok(worker.get("/workers/tasks"))["id"]
    ok(worker.post("/workers/tasks", {"id": done_id, "op": "Finish"}, format="json"))
    ok(worker.post("/workers/tasks", {"id": done_id, "op": {"Commit": {"exit_status": 0, "msg": None}}},
                   format="json"))
    running = submit(TEAM)
    running_id = ok(worker.get("/workers/tasks"))["id"]
    ready = submit(USER)
    ok(user.post(f"/tasks/{done['uuid']}/artifacts", {"content_type": "result", "content_length": 8},
                 format="json"))
    ok(user.post(f"/groups/{USER}/attachments", {"key": ATTACHMENT_KEY, "content_length": 8}, format="json"))
    world.ids.update({
        "task_uuid": [done["uuid"], running["uuid"], ready["uuid"]],
        "task_id": [running_id, done_id],
        "worker_uuid": [managed_uuid, world.worker_uuid],
        "group_name": [USER, TEAM],
        "username": [VICTIM],
        "attachment_key": [ATTACHMENT_KEY],
        "content_type": ["result", "exec-log", "std-log"],
    })


def _torc(world: World, user: APIClient) -> None:
    wid = ok(user.post(f"{TORC}/workflows", {"name": "fz-wf", "user": USER}, format="json"))["id"]
    rr = ok(user.get(f"{TORC}/resource_requirements?workflow_id={wid}"))["resource_requirements"][0]["id"]
    file_id = ok(user.post(f"{TORC}/files", {"workflow_id": wid, "name": "in", "path": "/tmp/fz-in"},
                           format="json"))["id"]
    ud_id = ok(user.post(f"{TORC}/user_data", {"workflow_id": wid, "name": "ud", "data": {"a": 1}},
                         format="json"))["id"]

    def job(name, **extra) -> int:
        return ok(user.post(f"{TORC}/jobs", {"workflow_id": wid, "name": name, "command": "echo fz",
                                             "resource_requirements_id": rr, **extra}, format="json"))["id"]

    first = job("first")
    second = job("second", depends_on_job_ids=[first])
    third = job("third", input_file_ids=[file_id])
    node = ok(user.post(f"{TORC}/compute_nodes", {"workflow_id": wid, "hostname": "fz-host", "num_cpus": 4,
                                                  "memory": "8g", "is_active": True}, format="json"))["id"]
    event = ok(user.post(f"{TORC}/events", {"workflow_id": wid, "data": {"fz": True}}, format="json"))["id"]
    ok(user.post(f"{TORC}/workflows/{wid}/initialize_jobs", {"ignore_missing_data": True}, format="json"))
    run_id = ok(user.get(f"{TORC}/workflows/{wid}/status")).get("run_id", 1)
    claimed = ok(user.post(f"{TORC}/workflows/{wid}/claim_next_jobs?limit=1", {}, format="json"))["jobs"]
    ids = [j["id"] for j in claimed]
    if ids:
        ok(user.put(f"{TORC}/jobs/{ids[0]}/start_job/{run_id}/{node}", {}, format="json"))
        ok(user.post(f"{TORC}/jobs/{ids[0]}/complete_job/completed/{run_id}", {
            "job_id": ids[0], "workflow_id": wid, "run_id": run_id, "return_code": 0, "exec_time_minutes": 0.1,
            "completion_time": "2025-01-01T00:00:00Z", "status": "completed"}, format="json"))
    results = ok(user.get(f"{TORC}/results?workflow_id={wid}"))["results"]
    world.ids.update({
        "workflow_id": [wid],
        "job_id": [first, second, third],
        "file_id": [file_id],
        "user_data_id": [ud_id],
        "rr_id": [rr],
        "node_id": [node],
        "compute_node_id": [node],
        "event_id": [event],
        "result_id": [r["id"] for r in results] or [1],
        "run_id": [run_id],
    })


def build_world() -> World:
    world = World()
    user = _users(world)
    _mitosis(world, user)
    _torc(world, user)
    return world


def ensure_worker(world: World) -> None:
    """The fuzzer may unregister the worker it acts as (DELETE /workers); register a new one so
    the next examples are not all 401s."""
    from apps.workers.models import Worker

    if not Worker.objects.filter(uuid=world.worker_uuid).exists():
        world.worker_uuid, world.worker_token = register_worker(world)
