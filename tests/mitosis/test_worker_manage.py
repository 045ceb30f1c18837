"""Mitosis worker management: get, query, tags, labels, group links, shutdown (graceful and
force, through the real protocol), the admin paths and coordinator shutdown, routing, and who may
do what (others' workers are invisible, a visible worker without the role is 403)."""

import re
import uuid as uuid_lib

import pytest
from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.workers.models import Coordinator, GroupWorker, Worker
from tests.mitosis.test_worker_protocol import register, submit

pytestmark = pytest.mark.django_db
MITOSIS_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{1,6} \+00:00:00$")


@pytest.fixture
def lab(alice, bob):
    """alice administers "lab"; bob may only read it."""
    groups.group_create(creator=alice, name="lab")
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Read"})
    return "lab"


def links(worker_uuid) -> dict[str, int]:
    return dict(GroupWorker.objects.filter(worker__uuid=worker_uuid).values_list("group__name", "role"))


def snapshot():
    return list(Worker.objects.order_by("pk").values("uuid", "tags", "labels", "state")), \
        sorted(GroupWorker.objects.values_list("worker_id", "group_id", "role"))


def commit(worker, task_id, op="Finish", exit_status=0):
    assert worker.post("/workers/tasks", {"id": task_id, "op": op}, format="json").status_code == 200
    return worker.post("/workers/tasks", {"id": task_id, "op": {"Commit": {"exit_status": exit_status, "msg": None}}},
                       format="json")


# SECTION get and visibility


def test_get_worker_shows_info_groups_and_its_task(alice, lab, login):
    a = login("alice", "pw-alice")
    worker = register(a, tags=["gpu", "cuda", "gpu"], groups_=["lab:write"], labels=["rack1"])
    body = a.get(f"/workers/{worker.uuid}").json()
    info = body["info"]
    assert set(info) == {"worker_id", "creator_username", "tags", "labels", "created_at", "updated_at", "state",
                         "last_heartbeat", "assigned_task_id"}
    assert (info["worker_id"], info["creator_username"], info["tags"], info["labels"], info["state"]) == \
        (worker.uuid, "alice", ["cuda", "gpu"], ["rack1"], "Normal")
    assert info["assigned_task_id"] is None
    assert all(MITOSIS_TIME.match(info[k]) for k in ("created_at", "updated_at", "last_heartbeat"))
    assert body["groups"] == {"alice": "Admin", "lab": "Write"}
    created = submit(a, group="lab")
    worker.get("/workers/tasks")
    assert a.get(f"/workers/{worker.uuid}").json()["info"]["assigned_task_id"] == created["uuid"]


def test_others_workers_are_invisible_and_a_reader_cannot_change_them(alice, bob, root, lab, login):
    a, b = login("alice", "pw-alice"), login("bob", "pw-bob")
    private = register(a)
    shared = register(a, groups_=["lab:admin"])
    before = snapshot()
    for path in (f"/workers/{private.uuid}", f"/workers/{uuid_lib.uuid4()}"):
        missing = b.get(path)
        assert missing.status_code == 404 and missing.json()["msg"].endswith("not found")
        assert b.put(f"{path}/tags", {"tags": ["x"]}, format="json").status_code == 404
        assert b.delete(path).status_code == 404
    assert b.get(f"/workers/{shared.uuid}").status_code == 200  # bob reads lab
    for response in (b.put(f"/workers/{shared.uuid}/tags", {"tags": ["x"]}, format="json"),
                     b.put(f"/workers/{shared.uuid}/labels", {"labels": ["x"]}, format="json"),
                     b.put(f"/workers/{shared.uuid}/groups", {"relations": {"bob": "Write"}}, format="json"),
                     b.delete(f"/workers/{shared.uuid}/groups?groups=lab"),
                     b.delete(f"/workers/{shared.uuid}?op=force")):
        assert response.status_code == 403 and "Permission denied" in response.json()["msg"]
    assert snapshot() == before
    assert login("root", "pw-root").get(f"/workers/{private.uuid}").status_code == 200  # staff see all
    assert APIClient().get(f"/workers/{private.uuid}").status_code == 401
    assert private.get(f"/workers/{private.uuid}").status_code == 401  # a worker token is not a user


# SECTION query


def test_query_filters_by_group_role_tags_labels_and_creator(alice, bob, lab, login):
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    a, b = login("alice", "pw-alice"), login("bob", "pw-bob")
    gpu = register(a, tags=["gpu", "cuda"], labels=["rack1"], groups_=["lab:admin"])
    cpu = register(a, tags=["cpu"], groups_=["lab"])
    bobs = register(b, tags=["gpu"], labels=["rack1", "rack2"], groups_=["lab:read"])
    mine = register(a)

    def query(client=a, **body):
        response = client.post("/workers/query", {"count": False, **body}, format="json")
        assert response.status_code == 200, response.content
        data = response.json()
        return data["group_name"], data["count"], [w["worker_id"] for w in data["workers"]]

    assert query() == ("alice", 3, [gpu.uuid, cpu.uuid, mine.uuid])  # default: the user's own group
    assert query(group_name="lab") == ("lab", 3, [gpu.uuid, cpu.uuid, bobs.uuid])
    assert query(group_name="lab", tags=["gpu"]) == ("lab", 2, [gpu.uuid, bobs.uuid])
    assert query(group_name="lab", tags=["gpu", "cuda"]) == ("lab", 1, [gpu.uuid])
    assert query(group_name="lab", labels=["rack1", "rack2"]) == ("lab", 1, [bobs.uuid])
    assert query(group_name="lab", role=["Write", "read"]) == ("lab", 2, [cpu.uuid, bobs.uuid])
    assert query(group_name="lab", creator_username="bob") == ("lab", 1, [bobs.uuid])
    assert query(group_name="lab", limit=1, offset=1) == ("lab", 1, [cpu.uuid])
    assert query(group_name="lab", count=True) == ("lab", 3, [])
    assert query(b, group_name="lab", tags=None, labels=None, role=None, creator_username=None)[1] == 3
    item = a.post("/workers/query", {"group_name": "lab", "creator_username": "bob"}, format="json").json()
    assert item["workers"][0]["creator_username"] == "bob" and item["workers"][0]["state"] == "Normal"


@pytest.mark.parametrize("body, status, field", [
    ({"group_name": "bob"}, 403, "group_name"),      # not a member
    ({"group_name": "nope"}, 403, "group_name"),     # looks the same as not a member
    ({"role": ["Owner"]}, 400, "role"),
    ({"tags": "gpu"}, 400, "tags"),
    ({"count": "maybe"}, 400, "count"),
    ({"limit": -1}, 400, "limit"),
])
def test_query_refuses_bad_input(alice, bob, login, body, status, field):
    response = login("alice", "pw-alice").post("/workers/query", body, format="json")
    assert response.status_code == status and response.json()["msg"].startswith(field), response.json()


@pytest.mark.parametrize("n", [1, 20])
def test_query_takes_the_same_queries_for_1_or_20_workers(alice, login, django_assert_max_num_queries, n):
    a = login("alice", "pw-alice")
    workers = [register(a, tags=["t"]) for _ in range(n)]
    for _ in range(n):
        submit(a)
    for worker in workers:
        worker.get("/workers/tasks")
    with django_assert_max_num_queries(5):  # user, group, membership, workers, their tasks
        data = a.post("/workers/query", {"count": False}, format="json").json()
    assert data["count"] == n and all(w["assigned_task_id"] for w in data["workers"])


# SECTION tags, labels, groups


def test_tags_and_labels_are_replaced_by_write_members(alice, bob, lab, login):
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    worker = register(login("alice", "pw-alice"), tags=["old"], groups_=["lab:write"])
    b = login("bob", "pw-bob")
    assert b.put(f"/workers/{worker.uuid}/tags", {"tags": ["gpu", "a100", "gpu"]}, format="json").status_code == 200
    assert b.put(f"/workers/{worker.uuid}/labels", {"labels": ["rack9"]}, format="json").status_code == 200
    row = Worker.objects.get(uuid=worker.uuid)
    assert (row.tags, row.labels) == (["a100", "gpu"], ["rack9"])
    # group links need Admin (bob is Write in lab, lab is Write on the worker)
    assert b.put(f"/workers/{worker.uuid}/groups", {"relations": {"bob": "Write"}}, format="json").status_code == 403


@pytest.mark.parametrize("path, body, field", [
    ("tags", {"tags": []}, "tags"), ("tags", {}, "tags"), ("tags", {"tags": [1, {}]}, "tags"),
    ("labels", {"labels": []}, "labels"), ("groups", {"relations": {}}, "relations"),
    ("groups", {"relations": {"lab": "Owner"}}, "relations"), ("groups", {"relations": ["lab"]}, "relations"),
    ("groups", {"relations": {"nope": "Write"}}, "relations"),
    ("groups", {"relations": {"bob": "Write"}}, "relations"),  # bob's group: alice may not send tasks there
])
def test_worker_changes_refuse_bad_input_and_change_nothing(alice, bob, lab, login, path, body, field):
    a = login("alice", "pw-alice")
    worker = register(a, tags=["t"])
    before = snapshot()
    response = a.put(f"/workers/{worker.uuid}/{path}", body, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith(field), response.json()
    assert snapshot() == before


def test_group_links_are_added_changed_and_removed(alice, lab, login):
    a = login("alice", "pw-alice")
    groups.group_create(creator=alice, name="ops")
    worker = register(a)
    assert a.put(f"/workers/{worker.uuid}/groups", {"relations": {"lab": "write", "ops": "ADMIN"}},
                 format="json").status_code == 200
    assert links(worker.uuid) == {"alice": 3, "lab": 2, "ops": 3}
    assert a.put(f"/workers/{worker.uuid}/groups", {"relations": {"lab": "Read"}}, format="json").status_code == 200
    assert links(worker.uuid) == {"alice": 3, "lab": 1, "ops": 3}
    before = snapshot()
    for query in ("", "?groups=", "?groups=lab,nope", "?groups=nope"):
        response = a.delete(f"/workers/{worker.uuid}/groups{query}")
        assert response.status_code == 400 and response.json()["msg"].startswith("groups"), query
    assert snapshot() == before
    assert a.delete(f"/workers/{worker.uuid}/groups?groups=lab,ops").status_code == 200  # the seed's form
    assert links(worker.uuid) == {"alice": 3}
    a.put(f"/workers/{worker.uuid}/groups", {"relations": {"lab": "Write", "ops": "Write"}}, format="json")
    assert a.delete(f"/workers/{worker.uuid}/groups?groups=lab&groups=ops").status_code == 200  # the real client's
    assert links(worker.uuid) == {"alice": 3}


def test_registration_ignores_groups_the_user_may_not_submit_to(alice, bob, lab, login):
    worker = register(login("bob", "pw-bob"), groups_=["lab:admin", "alice", "nope"])
    assert links(worker.uuid) == {"bob": 3}  # bob only reads lab; alice's group is not his


# SECTION shutdown


def test_graceful_shutdown_of_an_idle_worker_removes_it(alice, login):
    a = login("alice", "pw-alice")
    worker = register(a)
    assert a.delete(f"/workers/{worker.uuid}?op=Graceful").status_code == 200
    assert not Worker.objects.filter(uuid=worker.uuid).exists()
    assert worker.get("/workers/tasks").status_code == 401  # how the worker learns it must stop


def test_graceful_shutdown_of_a_busy_worker_waits_for_its_commit(alice, login):
    a = login("alice", "pw-alice")
    worker = register(a)
    first, second = submit(a), submit(a)
    task = worker.get("/workers/tasks").json()
    response = a.delete(f"/workers/{worker.uuid}")  # no op: graceful
    assert response.status_code == 200 and response.content == b""
    assert Worker.objects.get(uuid=worker.uuid).state == "GracefulShutdown"
    assert a.get(f"/workers/{worker.uuid}").json()["info"]["state"] == "GracefulShutdown"
    assert worker.get("/workers/tasks").status_code == 204  # no new task while stopping
    assert worker.post("/workers/heartbeat").status_code == 200
    assert commit(worker, task["id"]).json() == {"url": None}
    assert not Worker.objects.filter(uuid=worker.uuid).exists()
    assert worker.get("/workers/tasks").status_code == 401
    assert Job.objects.get(uuid=first["uuid"]).status == Status.COMPLETED
    assert Job.objects.get(uuid=second["uuid"]).status == Status.READY


def test_a_stopping_worker_that_lost_its_task_goes_at_its_next_heartbeat(alice, login):
    a = login("alice", "pw-alice")
    worker = register(a)
    created = submit(a)
    worker.get("/workers/tasks")
    a.delete(f"/workers/{worker.uuid}?op=graceful")
    Job.objects.filter(uuid=created["uuid"]).update(status=Status.READY, claimed_by="")  # e.g. lease expired
    assert worker.post("/workers/heartbeat").status_code == 200
    assert not Worker.objects.filter(uuid=worker.uuid).exists()


def test_force_shutdown_puts_the_task_back_and_counts_the_attempt(alice, login):
    a = login("alice", "pw-alice")
    worker = register(a)
    created = submit(a)
    worker.get("/workers/tasks")
    assert a.delete(f"/workers/{worker.uuid}?op=force").status_code == 200
    job = Job.objects.get(uuid=created["uuid"])
    assert (job.status, job.attempt, job.claimed_by) == (Status.READY, 2, "")
    assert not Worker.objects.filter(uuid=worker.uuid).exists() and not GroupWorker.objects.exists()
    assert worker.post("/workers/heartbeat").status_code == 401
    other = register(a)
    assert other.get("/workers/tasks").json()["uuid"] == created["uuid"]


def test_shutdown_refuses_a_bad_op_and_changes_nothing(alice, login):
    a = login("alice", "pw-alice")
    worker = register(a)
    response = a.delete(f"/workers/{worker.uuid}?op=now")
    assert response.status_code == 400 and response.json()["msg"].startswith("op")
    assert Worker.objects.get(uuid=worker.uuid).state == "Normal"


def test_shutdown_by_filter_takes_workers_the_group_administers(alice, bob, lab, login):
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    a, b = login("alice", "pw-alice"), login("bob", "pw-bob")
    admin_gpu = register(a, tags=["gpu"], groups_=["lab:admin"])
    admin_cpu = register(a, tags=["cpu"], groups_=["lab:admin"])
    written = register(b, tags=["gpu"], groups_=["lab"])
    refused = b.post("/workers/shutdown", {"group_name": "lab", "op": "Force"}, format="json")
    assert refused.status_code == 403  # bob is not Admin of lab
    missing_op = a.post("/workers/shutdown", {"group_name": "lab"}, format="json")
    assert missing_op.status_code == 400 and missing_op.json()["msg"].startswith("op")
    none = a.post("/workers/shutdown", {"group_name": "lab", "role": ["Write"], "op": "Force"}, format="json")
    assert none.json() == {"shutdown_count": 0, "group_name": "lab"}
    assert Worker.objects.count() == 3
    done = a.post("/workers/shutdown", {"group_name": "lab", "tags": ["gpu"], "op": "graceful"}, format="json")
    assert done.json() == {"shutdown_count": 1, "group_name": "lab"}
    assert set(Worker.objects.values_list("uuid", flat=True)) == {uuid_lib.UUID(admin_cpu.uuid),
                                                                  uuid_lib.UUID(written.uuid)}
    assert admin_gpu.get("/workers/tasks").status_code == 401


def test_shutdown_by_uuids_reports_what_it_could_not_do(alice, bob, lab, login):
    a, b = login("alice", "pw-alice"), login("bob", "pw-bob")
    mine = register(a)
    shared = register(a, groups_=["lab:admin"])  # bob reads lab: he sees it, may not stop it
    bobs = register(b)
    ghost = str(uuid_lib.uuid4())
    response = b.post("/workers/shutdown/list", {"uuids": [bobs.uuid, shared.uuid, mine.uuid, ghost], "op": "Force"},
                      format="json")
    assert response.json() == {"shutdown_count": 1, "failed_uuids": [shared.uuid, mine.uuid, ghost]}
    assert set(Worker.objects.values_list("uuid", flat=True)) == {uuid_lib.UUID(mine.uuid),
                                                                  uuid_lib.UUID(shared.uuid)}
    for body, field in (({"uuids": [], "op": "Force"}, "uuids"), ({"uuids": ["x"], "op": "Force"}, "uuids"),
                        ({"uuids": [mine.uuid]}, "op")):
        bad = a.post("/workers/shutdown/list", body, format="json")
        assert bad.status_code == 400 and bad.json()["msg"].startswith(field)
    assert Worker.objects.count() == 2


def test_admin_worker_shutdown_is_staff_only_and_served_with_and_without_slash(alice, root, login):
    a, r = login("alice", "pw-alice"), login("root", "pw-root")
    busy, idle = register(a), register(a)
    created = submit(a)
    busy.get("/workers/tasks")
    assert a.delete(f"/admin/workers/{idle.uuid}/").status_code == 403
    assert r.delete(f"/admin/workers/{uuid_lib.uuid4()}/").status_code == 404
    assert r.delete("/admin/workers/not-a-uuid/").json()["msg"] == "Not found"
    assert r.delete(f"/admin/workers/{busy.uuid}/").status_code == 200  # graceful by default
    assert Worker.objects.get(uuid=busy.uuid).state == "GracefulShutdown"
    assert r.delete(f"/admin/workers/{busy.uuid}?op=force").status_code == 200
    assert Job.objects.get(uuid=created["uuid"]).status == Status.READY
    assert r.delete(f"/admin/workers/{idle.uuid}/?op=graceful").status_code == 200
    assert not Worker.objects.exists()


def test_admin_shutdown_drains_the_worker_side(alice, root, login, settings):
    a, r = login("alice", "pw-alice"), login("root", "pw-root")
    busy, idle = register(a), register(a)
    first, second = submit(a), submit(a)
    task = busy.get("/workers/tasks").json()
    settings.DROVER_SHUTDOWN_SECRET = None
    assert r.post("/admin/shutdown", {"secret": "s3cret"}, format="json").status_code == 403  # not enabled
    settings.DROVER_SHUTDOWN_SECRET = "s3cret"
    assert a.post("/admin/shutdown", {"secret": "s3cret"}, format="json").status_code == 403  # staff only
    wrong = r.post("/admin/shutdown", {"secret": "guess"}, format="json")
    assert wrong.status_code == 403 and wrong.json()["msg"].startswith("secret")
    assert r.post("/admin/shutdown", {}, format="json").status_code == 400
    assert Worker.objects.filter(state="Normal").count() == 2 and not Coordinator.objects.exists()

    assert r.post("/admin/shutdown", {"secret": "s3cret"}, format="json").status_code == 200
    assert not Coordinator.objects.get().accepting_workers
    assert idle.get("/workers/tasks").status_code == 401  # idle: gone at once
    assert busy.get("/workers/tasks").status_code == 204  # busy: finishes, takes nothing new
    refused = a.post("/workers", {"tags": [], "labels": [], "groups": []}, format="json")
    assert refused.status_code == 503 and "shut down" in refused.json()["msg"]
    assert Worker.objects.count() == 1
    commit(busy, task["id"])
    assert not Worker.objects.exists()
    assert Job.objects.get(uuid=first["uuid"]).status == Status.COMPLETED
    assert Job.objects.get(uuid=second["uuid"]).status == Status.READY  # waits for workers to return
    Coordinator.objects.update(accepting_workers=True)  # the operator, in the console
    assert register(a).get("/workers/tasks").json()["uuid"] == second["uuid"]


# SECTION routing and the worker's view of tasks


def test_fixed_segments_and_uuids_do_not_collide(alice, login):
    a = login("alice", "pw-alice")
    worker = register(a)
    assert worker.get("/workers/tasks").status_code == 204  # not GET /workers/{uuid}
    assert a.get(f"/workers/{worker.uuid}").json()["info"]["worker_id"] == worker.uuid
    assert a.post("/workers/query", {}, format="json").json()["group_name"] == "alice"
    assert a.post("/workers/shutdown", {"op": "Graceful"}, format="json").json()["shutdown_count"] == 1
    assert worker.post("/workers/heartbeat").status_code == 401  # it was just shut down
    assert a.get("/workers/query").status_code == 405
    for path in ("/workers/not-a-uuid", "/workers/not-a-uuid/tags", "/workers/tasks/not-a-uuid",
                 f"/workers/{worker.uuid}x"):
        response = a.get(path)
        assert response.status_code == 404 and response.json()["msg"] == "Not found", path


def test_a_worker_reads_the_tasks_of_its_groups_only(alice, bob, login):
    """Mitosis shows any task to any worker; Drover keeps a group's tasks (args, envs) to the
    workers that serve the group, as its downloads do."""
    created = submit(login("alice", "pw-alice"))
    own = register(login("alice", "pw-alice"))
    body = own.get(f"/workers/tasks/{created['uuid']}").json()
    assert set(body) == {"info", "artifacts"}
    assert body["info"]["uuid"] == created["uuid"] and body["info"]["state"] == "Ready"
    stranger = register(login("bob", "pw-bob"))
    hidden = stranger.get(f"/workers/tasks/{created['uuid']}")
    assert hidden.status_code == 404 and "not found" in hidden.json()["msg"] and "info" not in hidden.json()
    missing = own.get(f"/workers/tasks/{uuid_lib.uuid4()}")
    assert missing.status_code == 404 and "not found" in missing.json()["msg"]
    assert login("alice", "pw-alice").get(f"/workers/tasks/{created['uuid']}").status_code == 401


def test_upload_op_gives_a_url_for_the_held_task_only(alice, login):
    pytest.importorskip("apps.storage.services", reason="the storage app is not there yet")
    from apps.storage.models import Artifact

    a = login("alice", "pw-alice")
    worker = register(a)
    submit(a)
    task = worker.get("/workers/tasks").json()
    upload = {"Upload": {"content_type": "std-log", "content_length": 10}}
    missing = worker.post("/workers/tasks", {"id": task["id"] + 1000, "op": upload}, format="json")
    assert missing.status_code == 404 and missing.json()["msg"] == f"Task {task['id'] + 1000} not found"
    for bad, field in (({"Upload": {"content_type": "std-log"}}, "op.Upload.content_length"),
                       ({"Upload": {"content_type": "video", "content_length": 1}}, "op.Upload.content_type"),
                       ({"Upload": ["std-log", 1]}, "op.Upload")):
        response = worker.post("/workers/tasks", {"id": task["id"], "op": bad}, format="json")
        assert response.status_code == 400 and response.json()["msg"].startswith(field), response.json()
    assert not Artifact.objects.exists()
    url = worker.post("/workers/tasks", {"id": task["id"], "op": upload}, format="json").json()["url"]
    assert "/storage/" in url or url.startswith("http")  # local storage: a path on Drover
    assert Artifact.objects.get().content_type == "std-log"


def test_console_lists_workers_and_shuts_them_down(alice, root, login, client):
    a = login("alice", "pw-alice")
    busy, _idle = register(a), register(a)
    submit(a)
    busy.get("/workers/tasks")
    client.force_login(root)
    assert client.get("/console/workers/worker/").status_code == 200
    assert client.get("/console/workers/coordinator/").status_code == 200
    response = client.post("/console/workers/worker/", {"action": "shutdown_graceful",
                                                         "_selected_action": [w.pk for w in Worker.objects.all()]})
    assert response.status_code == 302
    assert list(Worker.objects.values_list("uuid", "state")) == [(uuid_lib.UUID(busy.uuid), "GracefulShutdown")]
