"""Mitosis task operations on the job core: GET's exact shape, PUT (change) and PUT labels,
DELETE, and batch cancel by filter (/tasks/cancel) and by uuids (/tasks/cancel/list): who may,
which states, what the database holds afterwards, and that refused requests change nothing."""

import uuid as uuid_lib

import pytest
from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.jobs.models import Job, JobDependency
from apps.jobs.states import Status
from apps.workflows.models import Event

pytestmark = pytest.mark.django_db


# SECTION helpers (also used by test_task_query and test_watch)


def submit(client, group="alice", args=("echo", "hi"), tags=(), labels=(), priority=0, timeout="10m", **spec):
    body = {"group_name": group, "tags": list(tags), "labels": list(labels), "timeout": timeout,
            "priority": priority,
            "task_spec": {"args": list(args), "envs": {}, "resources": [], "terminal_output": False, "watch": None,
                          **spec}}
    response = client.post("/tasks", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["uuid"]


def register(client, tags=(), groups_=()):
    response = client.post("/workers", {"tags": list(tags), "labels": [], "groups": list(groups_), "lifetime": None},
                           format="json")
    assert response.status_code == 200, response.content
    worker = APIClient()
    worker.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["token"])
    worker.uuid = response.json()["worker_id"]
    return worker


def fetch(worker) -> dict | None:
    """The next task for the worker, or None (the protocol answers 204 or a JSON null)."""
    response = worker.get("/workers/tasks")
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 and response.content not in (b"", b"null") else None


def report(worker, task_id: int, op) -> None:
    response = worker.post("/workers/tasks", {"id": task_id, "op": op}, format="json")
    assert response.status_code == 200, response.content


def run(worker, exit_status=0, op="Finish", msg=None) -> dict:
    """Fetch one task and take it through the protocol: Finish (or Cancel), then Commit."""
    task = fetch(worker)
    assert task is not None
    report(worker, task["id"], op)
    report(worker, task["id"], {"Commit": {"exit_status": exit_status, "msg": msg}})
    return task


def job(uuid) -> Job:
    return Job.objects.get(uuid=uuid)


def snapshot(uuid) -> dict:
    return Job.objects.filter(uuid=uuid).values("status", "tags", "labels", "priority", "timeout_s", "args", "env",
                                                "spec", "command", "exit_code").get()


@pytest.fixture
def a(alice, login):
    return login("alice", "pw-alice")


@pytest.fixture
def b(bob, login):
    return login("bob", "pw-bob")


# SECTION GET


def test_get_answers_the_seeds_task_query_resp(a):
    uuid = submit(a, args=("python3", "-c", " x "), tags=["gpu"], labels=["exp"], priority=3, timeout="1h 30m",
                  envs={"A": " 1 "}, terminal_output=True,
                  resources=[{"remote_file": {"Artifact": {"uuid": str(uuid_lib.UUID(int=7)), "content_type": "Std"}},
                              "local_path": "in/std.tgz"},
                             {"remote_file": {"Attachment": {"key": "data/x.bin"}}, "local_path": "x.bin"}])
    body = a.get(f"/tasks/{uuid}").json()
    assert set(body) == {"info", "artifacts"} and body["artifacts"] == []
    info = body["info"]
    assert set(info) == {"uuid", "reporter_uuid", "creator_username", "group_name", "task_id", "tags", "labels",
                         "created_at", "updated_at", "state", "timeout", "priority", "spec", "result",
                         "upstream_task_uuid", "downstream_task_uuid"}
    assert info["timeout"] == 5400 and isinstance(info["timeout"], int)  # seconds, as the seed says
    assert (info["uuid"], info["task_id"], info["state"], info["priority"]) == (uuid, 1, "Ready", 3)
    assert (info["creator_username"], info["group_name"], info["tags"], info["labels"]) == ("alice", "alice",
                                                                                            ["gpu"], ["exp"])
    assert info["result"] is None and info["reporter_uuid"] is None
    assert info["spec"] == {
        "args": ["python3", "-c", " x "], "envs": {"A": " 1 "}, "terminal_output": True, "watch": None,
        "resources": [  # content types normalised to the seed's names
            {"remote_file": {"Artifact": {"uuid": str(uuid_lib.UUID(int=7)), "content_type": "std-log"}},
             "local_path": "in/std.tgz"},
            {"remote_file": {"Attachment": {"key": "data/x.bin"}}, "local_path": "x.bin"}]}
    assert info["created_at"].endswith(" +00:00:00") and "T" not in info["created_at"]


@pytest.mark.parametrize("resource, field", [
    ({"remote_file": {"Nope": {}}, "local_path": "x"}, "task_spec.resources.0.remote_file"),
    ({"remote_file": {"Artifact": {"uuid": "x", "content_type": "result"}}, "local_path": "x"},
     "task_spec.resources.0.remote_file"),
    ({"remote_file": {"Artifact": {"uuid": str(uuid_lib.UUID(int=1)), "content_type": "log"}}, "local_path": "x"},
     "task_spec.resources.0.remote_file"),
    ({"remote_file": {"Attachment": {"key": ""}}, "local_path": "x"}, "task_spec.resources.0.remote_file"),
    ({"remote_file": {"Attachment": {"key": "k"}}}, "task_spec.resources.0.local_path"),
    ({"remote_file": {"Attachment": {"key": "k"}}, "local_path": "../up"}, "task_spec.resources.local_path"),
])
def test_submit_refuses_bad_resources(a, resource, field):
    response = a.post("/tasks", {"group_name": "alice", "tags": [], "labels": [], "timeout": "1m", "priority": 0,
                                 "task_spec": {"args": ["true"], "resources": [resource]}}, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith(field + ":"), response.json()
    assert not Job.objects.exists()


# SECTION PUT /tasks/{uuid}


def test_change_a_ready_task(a):
    uuid = submit(a, tags=["a"], priority=1)
    before = job(uuid)
    response = a.put(f"/tasks/{uuid}", {"tags": ["gpu", "cuda", "gpu"], "timeout": "2h", "priority": 9,
                                        "task_spec": {"args": ["echo", "a b"], "envs": {"X": "1"}}}, format="json")
    assert response.status_code == 200 and response.content == b""
    after = job(uuid)
    assert (after.tags, after.timeout_s, after.priority) == (["cuda", "gpu"], 7200, 9)
    assert (after.args, after.command, after.env) == (["echo", "a b"], "echo 'a b'", {"X": "1"})
    assert after.spec["task_id"] == before.spec["task_id"] == 1  # Drover's own keys survive a new spec
    assert after.status == Status.READY
    info = a.get(f"/tasks/{uuid}").json()["info"]
    assert info["spec"]["args"] == ["echo", "a b"] and info["timeout"] == 7200 and info["priority"] == 9
    assert Event.objects.filter(category="task_changed").count() == 1


def test_change_only_what_is_given(a):
    uuid = submit(a, tags=["a"], priority=1)
    before = snapshot(uuid)
    assert a.put(f"/tasks/{uuid}", {"tags": None, "timeout": None, "priority": 4, "task_spec": None},
                 format="json").status_code == 200
    assert snapshot(uuid) == {**before, "priority": 4}


@pytest.mark.parametrize("body, field", [
    ({"tags": None, "timeout": None, "priority": None, "task_spec": None}, "No change specified"),
    ({}, "No change specified"),
    ({"timeout": "soon"}, "timeout:"),
    ({"timeout": "3600"}, "timeout:"),
    ({"priority": 2**31}, "priority:"),
    ({"priority": "high"}, "priority:"),
    ({"tags": "gpu"}, "tags:"),
    ({"task_spec": {"args": []}}, "task_spec.args:"),
    ({"task_spec": {"envs": {}}}, "task_spec.args:"),
    ({"task_spec": {"args": ["x"], "resources": [{"remote_file": {"Attachment": {"key": "k"}}, "local_path": "/etc"}]}},
     "task_spec.resources.local_path:"),
    ({"task_spec": {"args": ["x"], "watch": ["not-a-uuid", "ExecFinished"]}}, "task_spec.watch:"),
    ({"task_spec": {"args": ["x"], "watch": [str(uuid_lib.UUID(int=1)), "Done"]}}, "task_spec.watch:"),
])
def test_change_refuses_bad_input_and_changes_nothing(a, body, field):
    uuid = submit(a)
    before = snapshot(uuid)
    response = a.put(f"/tasks/{uuid}", body, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith(field), response.json()
    assert snapshot(uuid) == before
    assert not Event.objects.filter(category="task_changed").exists()


def test_change_of_a_running_or_ended_task_is_a_conflict(a):
    first, second = submit(a), submit(a)
    worker = register(a)
    taken = fetch(worker)
    assert taken["uuid"] == first
    before = snapshot(first)
    response = a.put(f"/tasks/{first}", {"priority": 5}, format="json")
    assert response.status_code == 409
    assert response.json()["msg"] == f"uuid: Task {first} is Running; only Ready or Pending tasks can be changed"
    assert snapshot(first) == before
    report(worker, taken["id"], "Finish")
    report(worker, taken["id"], {"Commit": {"exit_status": 0, "msg": None}})
    ended = a.put(f"/tasks/{first}", {"priority": 5}, format="json")
    assert ended.status_code == 409 and "is Finished" in ended.json()["msg"]
    assert job(first).priority == 0
    assert a.put(f"/tasks/{second}", {"priority": 5}, format="json").status_code == 200


def test_change_needs_write_and_others_do_not_see_the_task(a, alice, bob, b):
    uuid = submit(a)
    before = snapshot(uuid)
    invisible = b.put(f"/tasks/{uuid}", {"priority": 5}, format="json")
    assert invisible.status_code == 404 and invisible.json()["msg"] == f"Task with uuid {uuid} not found"
    groups.group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    reader = b.put(f"/tasks/{uuid}", {"priority": 5}, format="json")
    assert reader.status_code == 403 and "Write" in reader.json()["msg"]
    assert snapshot(uuid) == before
    groups.group_set_roles(actor=alice, group_name="alice", relations={"bob": "Write"})
    assert b.put(f"/tasks/{uuid}", {"priority": 5}, format="json").status_code == 200
    assert job(uuid).priority == 5


def test_unknown_and_malformed_uuids_are_404(a):
    unknown = a.put(f"/tasks/{uuid_lib.uuid4()}", {"priority": 1}, format="json")
    assert unknown.status_code == 404 and "not found" in unknown.json()["msg"]
    for path in ("/tasks/not-a-uuid", "/tasks/not-a-uuid/labels"):
        response = a.put(path, {"priority": 1, "labels": []}, format="json")
        assert response.status_code == 404 and "msg" in response.json()


def test_change_moves_a_watch(a):
    upstream, other, uuid = submit(a), submit(a), submit(a)
    assert a.put(f"/tasks/{uuid}", {"task_spec": {"args": ["x"], "watch": [upstream, "ExecFinished"]}},
                 format="json").status_code == 200
    watcher = job(uuid)
    assert (watcher.status, watcher.unfinished_deps) == (Status.BLOCKED, 1)
    assert a.get(f"/tasks/{uuid}").json()["info"]["state"] == "Pending"
    assert list(JobDependency.objects.filter(job=watcher).values_list("depends_on__uuid", "watch")) == [
        (uuid_lib.UUID(upstream), "ExecFinished")]
    # watching another task moves the edge; the task stays Pending
    assert a.put(f"/tasks/{uuid}", {"task_spec": {"args": ["x"], "watch": [other, "TaskCommitted"]}},
                 format="json").status_code == 200
    assert list(JobDependency.objects.filter(job=watcher).values_list("depends_on__uuid", "watch")) == [
        (uuid_lib.UUID(other), "TaskCommitted")]
    # no watch: ready again
    assert a.put(f"/tasks/{uuid}", {"task_spec": {"args": ["x"]}}, format="json").status_code == 200
    assert (job(uuid).status, JobDependency.objects.filter(job=watcher).exists()) == (Status.READY, False)


def test_change_refuses_watch_cycles(a):
    first = submit(a)
    second = submit(a, watch=[first, "ExecFinished"])
    third = submit(a, watch=[second, "ExecFinished"])
    before = snapshot(first)
    cycle = a.put(f"/tasks/{first}", {"task_spec": {"args": ["x"], "watch": [third, "ExecFinished"]}}, format="json")
    assert cycle.status_code == 400 and cycle.json()["msg"].startswith("task_spec.watch:")
    itself = a.put(f"/tasks/{first}", {"task_spec": {"args": ["x"], "watch": [first, "ExecFinished"]}},
                   format="json")
    assert itself.status_code == 400 and "itself" in itself.json()["msg"]
    assert snapshot(first) == before and JobDependency.objects.count() == 2


# SECTION PUT /tasks/{uuid}/labels


def test_labels_are_replaced_in_any_state(a):
    uuid = submit(a, labels=["old"])
    assert a.put(f"/tasks/{uuid}/labels", {"labels": ["b", "a", "b"]}, format="json").status_code == 200
    assert job(uuid).labels == ["a", "b"]
    worker = register(a)
    run(worker)
    assert job(uuid).status == Status.COMPLETED
    response = a.put(f"/tasks/{uuid}/labels", {"labels": []}, format="json")
    assert response.status_code == 200 and response.content == b""
    assert job(uuid).labels == [] and a.get(f"/tasks/{uuid}").json()["info"]["labels"] == []


def test_labels_refusals_change_nothing(a, alice, b):
    uuid = submit(a, labels=["keep"])
    for body in ({}, {"labels": "x"}, {"labels": [""]}, {"labels": ["x" * 256]}):
        response = a.put(f"/tasks/{uuid}/labels", body, format="json")
        assert response.status_code == 400 and response.json()["msg"].startswith("labels"), body
    assert b.put(f"/tasks/{uuid}/labels", {"labels": ["x"]}, format="json").status_code == 404
    groups.group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    assert b.put(f"/tasks/{uuid}/labels", {"labels": ["x"]}, format="json").status_code == 403
    assert job(uuid).labels == ["keep"]


# SECTION cancel


def test_delete_cancels_a_ready_task_with_mitosis_result(a):
    uuid = submit(a)
    assert a.delete(f"/tasks/{uuid}").status_code == 200
    cancelled = job(uuid)
    assert (cancelled.status, cancelled.exit_code) == (Status.CANCELED, 0)
    assert a.get(f"/tasks/{uuid}").json()["info"]["result"] == {"exit_status": 0, "msg": "UserCancellation"}


def test_cancel_list(a, alice, bob, b, django_assert_max_num_queries):
    groups.group_create(creator=bob, name="bobs")
    held, ready = submit(a), submit(a)
    watcher = submit(a, watch=[held, "ExecFinished"])
    foreign = submit(b, group="bobs")
    worker = register(a)
    assert fetch(worker)["uuid"] == held  # the oldest of equal priority
    missing = str(uuid_lib.uuid4())
    events = Event.objects.count()
    with django_assert_max_num_queries(12):
        response = a.post("/tasks/cancel/list", {"uuids": [ready, held, watcher, foreign, missing, ready]},
                          format="json")
    assert response.status_code == 200
    assert response.json() == {"cancelled_count": 2, "failed_uuids": [held, foreign, missing]}
    assert {u: Status(job(u).status).label for u in (ready, held, watcher, foreign)} == {
        ready: "canceled", held: "running", watcher: "canceled", foreign: "ready"}
    for uuid in (ready, watcher):
        assert job(uuid).spec["result"] == {"exit_status": 0, "msg": "UserCancellation"}
        assert job(uuid).exit_code == 0
    assert job(held).spec.get("result") is None and job(held).claimed_by
    assert Event.objects.count() == events + 1  # one event for the batch
    logged = Event.objects.filter(category="tasks_canceled").get()
    assert logged.data["count"] == 2 and sorted(logged.data["job_ids"]) == sorted(job(u).pk for u in (ready, watcher))


def test_cancel_list_queries_do_not_grow_with_the_list(a, django_assert_max_num_queries):
    uuids = [submit(a) for _ in range(25)]
    with django_assert_max_num_queries(12):
        response = a.post("/tasks/cancel/list", {"uuids": uuids}, format="json")
    assert response.json() == {"cancelled_count": 25, "failed_uuids": []}
    assert Job.objects.filter(status=Status.CANCELED).count() == 25


@pytest.mark.parametrize("body, message", [
    ({"uuids": []}, "uuids: UUIDs list cannot be empty"),
    ({}, "uuids: This field is required."),
    ({"uuids": ["nope"]}, "uuids.0:"),
    ({"uuids": "x"}, "uuids:"),
])
def test_cancel_list_bad_input(a, body, message):
    uuid = submit(a)
    response = a.post("/tasks/cancel/list", body, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith(message), response.json()
    assert job(uuid).status == Status.READY and not Event.objects.filter(category="tasks_canceled").exists()


def test_cancel_list_needs_write(a, alice, b):
    uuid = submit(a)
    groups.group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    assert b.post("/tasks/cancel/list", {"uuids": [uuid]}, format="json").json() == {
        "cancelled_count": 0, "failed_uuids": [uuid]}
    assert job(uuid).status == Status.READY


def test_staff_cancel_any_groups_tasks(a, root, login):
    uuid = submit(a)
    staff = login("root", "pw-root")
    assert staff.post("/tasks/cancel/list", {"uuids": [uuid]}, format="json").json()["cancelled_count"] == 1


def test_cancel_by_filter(a, alice, bob, b):
    groups.group_create(creator=alice, name="lab")
    gpu = submit(a, group="lab", tags=["gpu", "big"], labels=["x"])
    cpu = submit(a, group="lab", tags=["cpu"], labels=["x"])
    pending = submit(a, group="lab", tags=["gpu"], labels=["x"], watch=[cpu, "ExecFinished"])
    mine = submit(a)  # personal group: untouched by a filter on "lab"
    response = a.post("/tasks/cancel", {"group_name": "lab", "tags": ["gpu"], "states": ["Ready"]}, format="json")
    assert response.json() == {"cancelled_count": 1, "group_name": "lab"}
    assert Status(job(gpu).status) == Status.CANCELED and job(pending).status == Status.BLOCKED
    # Mitosis: states outside Ready/Pending mean "Ready and Pending"
    response = a.post("/tasks/cancel", {"group_name": "lab", "states": ["Running"], "labels": ["x"]}, format="json")
    assert response.json() == {"cancelled_count": 2, "group_name": "lab"}
    assert {Status(job(u).status) for u in (cpu, pending)} == {Status.CANCELED}
    assert job(mine).status == Status.READY
    # no group: the caller's own
    assert a.post("/tasks/cancel", {}, format="json").json() == {"cancelled_count": 1, "group_name": "alice"}
    assert job(mine).status == Status.CANCELED


def test_cancel_by_filter_refusals_change_nothing(a, alice, bob, b):
    groups.group_create(creator=alice, name="lab")
    uuid = submit(a, group="lab")
    outsider = b.post("/tasks/cancel", {"group_name": "lab"}, format="json")
    assert outsider.status_code == 400
    assert outsider.json()["msg"] == "group_name: Group with name lab not found or user is not in the group"
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Read"})
    reader = b.post("/tasks/cancel", {"group_name": "lab"}, format="json")
    assert reader.status_code == 403 and "Write" in reader.json()["msg"]
    for body in ({"group_name": "lab", "tags": []}, {"group_name": "lab", "states": []},
                 {"group_name": "lab", "priority": ">>1"}, {"group_name": "lab", "states": ["Done"]},
                 {"group_name": "nope"}):
        assert a.post("/tasks/cancel", body, format="json").status_code == 400, body
    assert job(uuid).status == Status.READY and not Event.objects.filter(category="tasks_canceled").exists()
