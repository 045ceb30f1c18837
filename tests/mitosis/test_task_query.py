"""POST /tasks/query: each filter of the seed's TasksQueryReq alone and combined, comparisons,
count, limit/offset, the exact TaskQueryInfo shape, who sees which group, and a query budget
that does not grow with the number of tasks."""

import uuid as uuid_lib

import pytest

from apps.groups import services as groups
from apps.jobs.models import Job
from apps.jobs.services.task_query import filter_tasks

from .test_tasks import fetch, register, report, run, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def a(alice, login):
    return login("alice", "pw-alice")


@pytest.fixture
def b(bob, login):
    return login("bob", "pw-bob")

INFO_KEYS = {"uuid", "reporter_uuid", "creator_username", "group_name", "task_id", "tags", "labels", "created_at",
             "updated_at", "state", "timeout", "priority", "spec", "result", "upstream_task_uuid",
             "downstream_task_uuid"}


def query(client, status=200, **body):
    response = client.post("/tasks/query", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


def uuids(body) -> list[str]:
    return [task["uuid"] for task in body["tasks"]]


@pytest.fixture
def lab(alice, bob, a, b):
    """Tasks of group "lab" in every state, by alice and bob, with tags, labels and priorities."""
    groups.group_create(creator=alice, name="lab")
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    t = {
        "ok": submit(a, group="lab", tags=["gpu", "cuda"], labels=["exp1"], priority=1),
        "bad": submit(a, group="lab", tags=["gpu"], labels=["exp1", "exp2"], priority=2),
        "cancelled": submit(b, group="lab", labels=["exp2"], priority=3),
        "running": submit(b, group="lab", priority=4),
        "finishing": submit(a, group="lab", priority=5),
        "ready": submit(b, group="lab", tags=["cpu"], priority=6),
        "exec_timeout": submit(a, group="lab", priority=7),
    }
    t["pending"] = submit(a, group="lab", priority=8, watch=[t["ready"], "ExecFinished"])
    assert a.delete(f"/tasks/{t['cancelled']}").status_code == 200
    worker = register(a, tags=["gpu", "cuda"], groups_=["lab"])
    # highest priority first: exec_timeout (7), finishing (5), running (4), then ok/bad by priority
    assert run(worker, exit_status=15, op="Cancel", msg="ExecTimeout")["uuid"] == t["exec_timeout"]
    assert fetch(worker)["uuid"] == t["finishing"]
    report(worker, Job.objects.get(uuid=t["finishing"]).pk, "Finish")  # Finished, not yet committed
    other = register(a, tags=["gpu", "cuda"], groups_=["lab"])
    assert fetch(other)["uuid"] == t["running"]
    third = register(a, tags=["gpu", "cuda"], groups_=["lab"])
    assert run(third, exit_status=256)["uuid"] == t["bad"]
    assert run(third, exit_status=0)["uuid"] == t["ok"]
    submit(a, tags=["gpu"])  # alice's own group: never in a query on "lab"
    t["reporter"] = third.uuid
    return t


def test_states(a, lab):
    expected = {
        "Pending": {lab["pending"]}, "Ready": {lab["ready"]}, "Running": {lab["running"]},
        "Finished": {lab["ok"], lab["bad"], lab["finishing"]},
        "Cancelled": {lab["cancelled"], lab["exec_timeout"]}, "Unknown": set(),
    }
    for state, wanted in expected.items():
        body = query(a, group_name="lab", states=[state])
        assert set(uuids(body)) == wanted, state
        assert {task["state"] for task in body["tasks"]} <= {state}
    both = query(a, group_name="lab", states=["Ready", "Pending", "Ready"])
    assert set(uuids(both)) == {lab["ready"], lab["pending"]}


def test_tags_and_labels_need_all_creators_any(a, lab):
    assert set(uuids(query(a, group_name="lab", tags=["gpu"]))) == {lab["ok"], lab["bad"]}
    assert uuids(query(a, group_name="lab", tags=["gpu", "cuda"])) == [lab["ok"]]
    assert uuids(query(a, group_name="lab", tags=["gpu", "nope"])) == []
    assert set(uuids(query(a, group_name="lab", labels=["exp2"]))) == {lab["bad"], lab["cancelled"]}
    assert uuids(query(a, group_name="lab", labels=["exp1", "exp2"])) == [lab["bad"]]
    by_bob = query(a, group_name="lab", creator_usernames=["bob"])
    assert set(uuids(by_bob)) == {lab["cancelled"], lab["running"], lab["ready"]}
    assert len(uuids(query(a, group_name="lab", creator_usernames=["bob", "alice"]))) == 8
    assert uuids(query(a, group_name="lab", creator_usernames=["carol"])) == []


def test_exit_status_and_priority_comparisons(a, lab):
    ended = {lab["ok"]: 0, lab["bad"]: 256, lab["exec_timeout"]: 15, lab["cancelled"]: 0}
    cases = {"0": {0}, "=0": {0}, "!=0": {256, 15}, ">=1": {256, 15}, "<16": {0, 15}, "> 15": {256}}
    for comparison, codes in cases.items():
        body = query(a, group_name="lab", exit_status=comparison)
        assert set(uuids(body)) == {u for u, code in ended.items() if code in codes}, comparison
    # integers, not Mitosis' text comparison ("256" < "3" as text)
    assert set(uuids(query(a, group_name="lab", exit_status=">3"))) == {lab["bad"], lab["exec_timeout"]}
    assert set(uuids(query(a, group_name="lab", priority=">5"))) == {lab["ready"], lab["exec_timeout"],
                                                                      lab["pending"]}
    assert uuids(query(a, group_name="lab", priority="2")) == [lab["bad"]]
    assert set(uuids(query(a, group_name="lab", priority="<=2", tags=["gpu"]))) == {lab["ok"], lab["bad"]}


def test_reporter_uuid(a, lab):
    body = query(a, group_name="lab", reporter_uuid=lab["reporter"])
    assert set(uuids(body)) == {lab["ok"], lab["bad"]}
    assert {task["reporter_uuid"] for task in body["tasks"]} == {lab["reporter"]}
    assert uuids(query(a, group_name="lab", reporter_uuid=str(uuid_lib.uuid4()))) == []


def test_count_limit_offset(a, lab):
    everything = uuids(query(a, group_name="lab"))
    assert len(everything) == 8 and everything == sorted(everything, key=lambda u: Job.objects.get(uuid=u).pk)
    assert query(a, group_name="lab", count=True) == {"count": 8, "tasks": [], "group_name": "lab"}
    # count is the number matching, whatever the page (Mitosis would apply the offset to it)
    assert query(a, group_name="lab", count=True, limit=2, offset=3, tags=["gpu"])["count"] == 2
    page = query(a, group_name="lab", limit=3, offset=2)
    assert (page["count"], uuids(page)) == (3, everything[2:5])
    assert uuids(query(a, group_name="lab", offset=6)) == everything[6:]
    assert query(a, group_name="lab", limit=0)["tasks"] == []
    assert uuids(query(a, group_name="lab", offset=100)) == []


def test_every_field_of_task_query_info(a, lab):
    body = query(a, group_name="lab", states=["Finished"], tags=["cuda"])
    assert set(body) == {"count", "tasks", "group_name"} and body["count"] == 1
    (info,) = body["tasks"]
    assert set(info) == INFO_KEYS
    assert info["uuid"] == lab["ok"] and info["state"] == "Finished" and info["group_name"] == "lab"
    assert info["result"] == {"exit_status": 0, "msg": None} and info["reporter_uuid"] == lab["reporter"]
    assert isinstance(info["task_id"], int) and info["timeout"] == 600 and info["priority"] == 1
    assert info["spec"] == {"args": ["echo", "hi"], "envs": {}, "resources": [], "terminal_output": False,
                            "watch": None}
    assert info["upstream_task_uuid"] is None and info["downstream_task_uuid"] is None
    assert a.get(f"/tasks/{lab['ok']}").json()["info"] == info  # GET and query agree


def test_the_default_group_is_the_callers_own(a, b, lab):
    mine = query(a)
    assert mine["group_name"] == "alice" and mine["count"] == 1
    assert query(b, count=True) == {"count": 0, "tasks": [], "group_name": "bob"}


def test_other_groups_are_invisible(a, alice, b, lab, make_user, login):
    make_user("carol", "pw-carol")
    carol = login("carol", "pw-carol")
    for name in ("lab", "alice", "nope"):
        refused = query(carol, status=400, group_name=name)
        assert refused["msg"] == f"group_name: Group with name {name} not found or user is not in the group"
    groups.group_set_roles(actor=alice, group_name="lab", relations={"carol": "Read"})
    assert query(carol, group_name="lab", count=True)["count"] == 8  # Read is enough to look


def test_staff_query_any_group(lab, root, login):
    assert query(login("root", "pw-root"), group_name="lab", count=True)["count"] == 8


@pytest.mark.parametrize("body, message", [
    ({"tags": []}, "tags: Tags cannot be empty if specified"),
    ({"labels": []}, "labels: Labels cannot be empty if specified"),
    ({"creator_usernames": []}, "creator_usernames: Creator username cannot be empty if specified"),
    ({"states": []}, "states: State cannot be empty if specified"),
    ({"states": ["Done"]}, "states.0:"),
    ({"exit_status": "!=x"}, "exit_status: '!=x' is not a comparison"),
    ({"exit_status": "=>1"}, "exit_status:"),
    ({"priority": "high"}, "priority:"),
    ({"limit": -1}, "limit:"),
    ({"offset": "x"}, "offset:"),
    ({"limit": 2**63}, "limit:"),
    ({"reporter_uuid": "nope"}, "reporter_uuid:"),
    ({"tags": "gpu"}, "tags:"),
    ({"count": "maybe"}, "count:"),
])
def test_bad_filters_are_400_naming_the_field(a, body, message):
    refused = query(a, status=400, **body)
    assert refused["msg"].startswith(message), refused


def test_query_count_does_not_grow_with_tasks(a, django_assert_num_queries):
    submit(a)
    # user, group with the caller's role, tasks with owner and group joined
    with django_assert_num_queries(3):
        assert query(a)["count"] == 1
    for _ in range(20):
        submit(a, tags=["x"])
    with django_assert_num_queries(3):
        assert query(a)["count"] == 21
    with django_assert_num_queries(3):
        assert query(a, count=True, tags=["x"])["count"] == 20


def test_filter_tasks_is_a_queryset_for_other_operations(alice, lab):
    tasks = filter_tasks(alice, {"group_name": "lab", "states": ["Finished"], "exit_status": "!=0"})
    assert list(tasks.values_list("uuid", flat=True)) == [uuid_lib.UUID(lab["bad"])]
    assert tasks.query.select_related == {"owner": {}, "group": {}}
