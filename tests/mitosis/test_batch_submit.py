"""POST /tasks/submit is set-based: items are checked one by one (a bad item gets its own error
and takes no number), then one transaction numbers a block of task_ids per group, inserts the
jobs at once and logs one event, whatever the batch size."""

import math
import uuid as uuid_lib

import pytest
from django.db import connection
from django.db.models import AutoField
from django.test.utils import CaptureQueriesContext

from apps.groups import services as groups
from apps.groups.models import Group
from apps.jobs.models import Job, JobDependency
from apps.jobs.services import publish
from apps.jobs.services.tasks import INSERT_BATCH
from apps.jobs.states import Status
from apps.workflows.models import Event

from .test_group_channel import REDIS_URL, received
from .test_tasks import register, run, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def a(alice, login):
    return login("alice", "pw-alice")


@pytest.fixture
def lab(alice, bob):
    """alice administers "lab"; bob may only read it."""
    groups.group_create(creator=alice, name="lab")
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Read"})
    return "lab"


def item(group="alice", args=("true",), **spec):
    return {"group_name": group, "timeout": "5m",
            "task_spec": {"args": list(args), "envs": {}, "resources": [], "terminal_output": False, "watch": None,
                          **spec}}


def batch(client, items) -> list[dict]:
    response = client.post("/tasks/submit", {"tasks": items}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def task_ids(results) -> list[int]:
    return [r["Ok"]["task_id"] for r in results]


def job_insert_statements(n: int) -> int:
    """INSERTs bulk_create needs for n jobs: one, except that Django splits them on SQLite
    (at 999 parameters a statement)."""
    fields = [f for f in Job._meta.concrete_fields if not isinstance(f, AutoField)]
    size = min(INSERT_BATCH, connection.ops.bulk_batch_size(fields, [None] * n) or n)
    return math.ceil(n / size)


def test_a_batch_of_50_costs_the_queries_of_a_batch_of_1(a):
    counted = {}
    for n in (1, 50):
        with CaptureQueriesContext(connection) as ctx:
            results = batch(a, [item(args=("echo", str(i))) for i in range(n)])
        assert all("Ok" in r for r in results)
        counted[n] = len(ctx.captured_queries)
    assert counted[50] == counted[1] - 1 + job_insert_statements(50)
    if connection.vendor == "postgresql":
        assert counted[50] == counted[1]
    assert Job.objects.count() == 51


def test_task_ids_are_consecutive_and_unique_per_group(a, lab):
    first = batch(a, [item("alice"), item("lab"), item("alice"), item("lab"), item("lab")])
    assert task_ids(first) == [1, 1, 2, 2, 3]
    second = batch(a, [item("lab"), item("alice")])
    assert task_ids(second) == [4, 3]
    assert submit(a, group="lab")  # the single submit continues the same numbering
    numbers = {}
    for name, spec in Job.objects.values_list("group__name", "spec"):
        numbers.setdefault(name, []).append(spec["task_id"])
    assert {k: sorted(v) for k, v in numbers.items()} == {"alice": [1, 2, 3], "lab": [1, 2, 3, 4, 5]}
    assert dict(Group.objects.filter(name__in=["alice", "lab"]).values_list("name", "task_count")) == {
        "alice": 3, "lab": 5}
    job = Job.objects.get(uuid=first[3]["Ok"]["uuid"])
    assert (job.name, job.status, job.ready_at is not None) == ("lab#2", Status.READY, True)


def test_items_keep_their_own_values(a):
    body = {"group_name": "alice", "tags": ["b", "a", "a"], "labels": ["x"], "timeout": "1h 30m", "priority": 7,
            "task_spec": {"args": ["echo", "hello world"], "envs": {"K": "v"}, "resources": [],
                          "terminal_output": True, "watch": None}}
    [result] = batch(a, [body])
    job = Job.objects.get(uuid=result["Ok"]["uuid"])
    assert (job.tags, job.labels, job.timeout_s, job.priority, job.command, job.env) == (
        ["a", "b"], ["x"], 5400, 7, "echo 'hello world'", {"K": "v"})
    assert job.spec["terminal_output"] is True and job.owner.username == "alice" and job.workflow_id is None
    info = a.get(f"/tasks/{result['Ok']['uuid']}").json()["info"]
    assert (info["task_id"], info["state"], info["timeout"]) == (1, "Ready", 5400)


def test_mixed_good_and_bad_items(a, lab):
    resource = {"remote_file": {"Attachment": {"key": "k"}}, "local_path": "/etc/passwd"}
    items = [
        item(),
        {**item(), "timeout": "soon"},
        item("nope"),
        item(resources=[resource]),
        item("lab"),
        item(watch=[str(uuid_lib.uuid4()), "TaskCommitted"]),
        item(),
    ]
    results = batch(a, items)
    assert [next(iter(r)) for r in results] == ["Ok", "Err", "Err", "Err", "Ok", "Err", "Ok"]
    msgs = {i: r["Err"]["msg"] for i, r in enumerate(results) if "Err" in r}
    assert msgs[1].startswith("tasks.1: timeout")
    assert msgs[2] == "tasks.2: group_name: User or group with name nope not found"
    assert msgs[3] == "tasks.3: task_spec.resources.local_path: Resource local path is absolute or contains `..`"
    assert msgs[5].startswith("tasks.5: task_spec.watch: Task with uuid") and msgs[5].endswith("not found")
    assert task_ids(r for r in results if "Ok" in r) == [1, 1, 2]  # refused items took no number
    assert Job.objects.count() == 3
    assert Group.objects.get(name="alice").task_count == 2


@pytest.mark.parametrize(("bad", "msg"), [
    ("not an object", "tasks.1: Invalid data. Expected a dictionary, but got str."),
    (None, "tasks.1: No data provided"),
    ({"group_name": "alice", "timeout": "5m"}, "tasks.1: task_spec: This field is required."),
    ({**item(), "timeout": 5}, "tasks.1: timeout: must be a string, not a number"),
    ({**item(), "priority": "9"}, "tasks.1: priority: must be an integer, not a string"),
])
def test_an_item_breaking_the_schema_refuses_the_whole_batch(a, bad, msg):
    """As Mitosis' typed body does (serde: 422): the schema is the request's, not an item's."""
    response = a.post("/tasks/submit", {"tasks": [item(), bad, item()]}, format="json")
    assert response.status_code == 400 and response.json()["msg"] == msg
    assert not Job.objects.exists() and Group.objects.get(name="alice").task_count == 0


def test_a_batch_of_only_bad_items_changes_nothing(a):
    results = batch(a, [item("nope"), {**item(), "timeout": "5"}])
    assert all("Err" in r for r in results)
    assert not Job.objects.exists() and Group.objects.get(name="alice").task_count == 0
    assert not Event.objects.filter(category="tasks_submitted").exists()


def test_a_read_only_group_is_refused_per_item(a, bob, lab, login):
    b = login("bob", "pw-bob")
    results = batch(b, [item("lab"), item("bob"), item("alice"), item("lab")])
    assert results[0] == {"Err": {"msg": "tasks.0: Group lab needs the Write role"}}
    assert results[1]["Ok"]["task_id"] == 1
    assert results[2] == {"Err": {"msg": "tasks.2: Group alice needs the Write role"}}
    assert results[3] == {"Err": {"msg": "tasks.3: Group lab needs the Write role"}}
    assert list(Job.objects.values_list("group__name", "owner__username")) == [("bob", "bob")]
    assert Group.objects.get(name="lab").task_count == 0


def test_staff_submits_to_any_group(a, lab, root, login):
    results = batch(login("root", "pw-root"), [item("lab"), item("alice")])
    assert task_ids(results) == [1, 1]
    assert set(Job.objects.values_list("owner__username", flat=True)) == {"root"}


def test_one_event_for_the_batch(a, lab):
    results = batch(a, [item("alice"), item("lab"), item("nope")])
    [event] = Event.objects.filter(category="tasks_submitted")
    ids = sorted(Job.objects.values_list("pk", flat=True))
    assert event.data == {"count": 2, "groups": ["alice", "lab"], "job_ids": ids}
    assert len(results) == 3


def test_watching_items_wait_or_settle_in_the_batch(a):
    done = submit(a)
    run_task = submit(a)
    worker = register(a)
    assert run(worker)["uuid"] == done  # done is Finished now; run_task stays Ready
    results = batch(a, [item(), item(watch=[run_task, "TaskCommitted"]), item(watch=[done, "TaskCommitted"]),
                        item(watch=[done, "TaskCommitted"]), item()])
    assert task_ids(results) == [3, 4, 5, 6, 7]
    jobs = [Job.objects.get(uuid=r["Ok"]["uuid"]) for r in results]
    assert [Status(j.status) for j in jobs] == [Status.READY, Status.BLOCKED, Status.READY, Status.READY,
                                                Status.READY]
    assert jobs[1].unfinished_deps == 1 and jobs[2].unfinished_deps == 0
    edges = JobDependency.objects.filter(job__in=jobs).order_by("job_id")
    assert list(edges.values_list("job_id", "depends_on__uuid")) == [
        (jobs[1].pk, uuid_lib.UUID(run_task)), (jobs[2].pk, uuid_lib.UUID(done)), (jobs[3].pk, uuid_lib.UUID(done))]
    assert a.get(f"/tasks/{results[1]['Ok']['uuid']}").json()["info"]["state"] == "Pending"
    run(worker)  # run_task commits: its watcher is released
    assert Job.objects.get(pk=jobs[1].pk).status == Status.READY


def test_the_list_itself_is_checked(a):
    for body, msg in (({}, "tasks: required, a list of tasks"), ({"tasks": []}, "tasks: Tasks list cannot be empty"),
                      ({"tasks": {"a": 1}}, "tasks: required, a list of tasks")):
        response = a.post("/tasks/submit", body, format="json")
        assert response.status_code == 400 and response.json()["msg"] == msg
    assert not Job.objects.exists()



@pytest.mark.redis
def test_states_are_published_once_for_the_batch(a, lab, settings, django_capture_on_commit_callbacks):
    if not REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL (CI does)")
    import redis

    settings.REDIS_URL = REDIS_URL
    publish._down_until = 0.0
    client = redis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(publish.group_channel("alice"), publish.group_channel("lab"))
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            results = batch(a, [item("alice"), item("nope"), item("lab"), item("alice")])
        assert len(callbacks) == 1  # one publication for the whole batch
        messages = received(pubsub, 3)
        assert received(pubsub, 1, timeout=0.2) == []
    finally:
        pubsub.close()
        client.close()
    expected = [{"uuid": r["Ok"]["uuid"], "task_id": r["Ok"]["task_id"], "group": g, "state": "Ready"}
                for r, g in zip(results, ["alice", None, "lab", "alice"]) if "Ok" in r]
    assert sorted(messages, key=lambda m: (m["group"], m["task_id"])) == sorted(
        expected, key=lambda m: (m["group"], m["task_id"]))
