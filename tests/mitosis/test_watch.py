"""Mitosis watches on the shared dependency core: a watcher is Pending (blocked on an edge) until
the watched task ends, then released or canceled by graph.release_dependents following Mitosis'
reach matrix; the whole chain runs through the real worker protocol."""

import uuid as uuid_lib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.groups import services as groups
from apps.jobs.models import Job, JobDependency
from apps.jobs.services.watch import CANCELLED_REACHES, FINISHED_REACHES, TASK_EXEC_STATES, reached
from apps.jobs.states import Status

from .test_tasks import fetch, register, report, run, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def a(alice, login):
    return login("alice", "pw-alice")


@pytest.fixture
def b(bob, login):
    return login("bob", "pw-bob")


def state(client, uuid) -> str:
    return client.get(f"/tasks/{uuid}").json()["info"]["state"]


def result(uuid):
    return Job.objects.get(uuid=uuid).spec.get("result")


def test_a_chain_of_three_is_released_in_order_through_the_worker_protocol(a):
    first = submit(a, args=("step", "1"))
    second = submit(a, args=("step", "2"), watch=[first, "ExecFinished"])
    third = submit(a, args=("step", "3"), priority=9, watch=[second, "TaskCommitted"])
    edges = JobDependency.objects.filter(job__uuid__in=[second, third]).order_by("job_id")
    assert list(edges.values_list("depends_on__uuid", "watch")) == [
        (uuid_lib.UUID(first), "ExecFinished"), (uuid_lib.UUID(second), "TaskCommitted")]
    assert [state(a, u) for u in (first, second, third)] == ["Ready", "Pending", "Pending"]
    worker = register(a)

    task = fetch(worker)
    assert task["uuid"] == first
    assert fetch(register(a)) is None  # the watchers are not ready: nothing for another worker
    report(worker, task["id"], "Finish")
    assert state(a, second) == "Pending"  # Finish alone is not the end: the worker has not committed
    # a non-zero exit status is still Finished for Mitosis: the watcher goes on (Torc would cancel)
    report(worker, task["id"], {"Commit": {"exit_status": 256, "msg": None}})
    assert Job.objects.get(uuid=first).status == Status.FAILED
    assert [state(a, u) for u in (first, second, third)] == ["Finished", "Ready", "Pending"]

    task = run(worker)
    # settled by Drover: the worker gets no watch to wait on again; the task's owner still sees it
    assert task["uuid"] == second and task["spec"]["watch"] is None
    assert a.get(f"/tasks/{second}").json()["info"]["spec"]["watch"] == [first, "ExecFinished"]
    assert [state(a, u) for u in (second, third)] == ["Finished", "Ready"]
    assert run(worker)["uuid"] == third
    assert [Status(j.status) for j in Job.objects.order_by("id")] == [Status.FAILED, Status.COMPLETED,
                                                                      Status.COMPLETED]


def test_a_watched_task_that_already_ended(a):
    done = submit(a)
    run(register(a))
    reached_now = submit(a, watch=[done, "UploadResultFinished"])
    assert state(a, reached_now) == "Ready"
    never = submit(a, watch=[done, "ExecTimeout"])  # a Finished task never timed out
    assert state(a, never) == "Cancelled"
    assert result(never) == {"exit_status": 0, "msg": "WatchTimeout"}
    assert Job.objects.get(uuid=never).exit_code == 0


def test_cancellation_follows_mitosis_matrix_and_cascades(a):
    upstream = submit(a)
    committed = submit(a, watch=[upstream, "TaskCommitted"])  # reached by any end
    finished = submit(a, watch=[upstream, "ExecFinished"])  # not by a user cancellation
    after_timeout = submit(a, watch=[finished, "WatchTimeout"])  # reached by the WatchTimeout above
    after_exec = submit(a, watch=[finished, "ExecSpawned"])  # not
    assert a.delete(f"/tasks/{upstream}").status_code == 200
    assert result(upstream) == {"exit_status": 0, "msg": "UserCancellation"}
    assert {u: state(a, u) for u in (committed, finished, after_timeout, after_exec)} == {
        committed: "Ready", finished: "Cancelled", after_timeout: "Ready", after_exec: "Cancelled"}
    assert result(finished) == result(after_exec) == {"exit_status": 0, "msg": "WatchTimeout"}
    assert result(committed) is None


def test_a_worker_cancel_reaches_its_own_states(a):
    upstream = submit(a)
    on_timeout = submit(a, watch=[upstream, "ExecTimeout"])
    on_finish = submit(a, watch=[upstream, "ExecFinished"])
    run(register(a), exit_status=15, op="Cancel", msg="ExecTimeout")
    assert state(a, upstream) == "Cancelled" and result(upstream) == {"exit_status": 15, "msg": "ExecTimeout"}
    assert (state(a, on_timeout), state(a, on_finish)) == ("Ready", "Cancelled")


def test_the_reach_rule():
    assert reached("ExecFinished", Status.FAILED, None) and reached("TaskCommitted", Status.COMPLETED, None)
    assert not reached("ExecTimeout", Status.COMPLETED, None) and not reached("WorkerExited", Status.COMPLETED, None)
    assert reached("TaskCommitted", Status.CANCELED, "UserCancellation")
    assert not reached("UploadResult", Status.CANCELED, "UserCancellation")
    assert reached("FetchResourceNotFound", Status.CANCELED, "ResourceNotFound")
    assert not reached("TaskCommitted", Status.CANCELED, None)  # a cancel without a Mitosis result
    assert not reached("TaskCommitted", Status.RUNNING, None) and not reached("Unknown", Status.COMPLETED, None)
    assert FINISHED_REACHES <= set(TASK_EXEC_STATES)
    assert all(targets <= set(TASK_EXEC_STATES) for targets in CANCELLED_REACHES.values())


def test_every_target_against_every_end_through_the_database(a):
    """The SQL rule (release_dependents) and the Python rule (reached) agree for every target."""
    ends = {"finished": ("Finish", 0, None), "failed": ("Finish", 256, None),
            **{msg: ("Cancel", 1, msg) for msg in CANCELLED_REACHES}}
    watchers = {}
    for end in ends:
        upstream = submit(a, priority=10)  # taken before any released watcher
        watchers[end] = (upstream, {target: submit(a, watch=[upstream, target]) for target in TASK_EXEC_STATES})
    worker = register(a)
    for end, (op, exit_status, msg) in ends.items():
        assert run(worker, exit_status=exit_status, op=op, msg=msg)["uuid"] == watchers[end][0]
        ended = Job.objects.get(uuid=watchers[end][0])
        for target, uuid in watchers[end][1].items():
            expected = reached(target, ended.status, msg)
            assert Job.objects.get(uuid=uuid).status == (Status.READY if expected else Status.CANCELED), (end, target)
    assert Job.objects.filter(status=Status.READY).count() == sum(
        len(FINISHED_REACHES) for _ in range(2)) + sum(len(t) for t in CANCELLED_REACHES.values())


def test_many_watchers_are_released_in_a_bounded_number_of_queries(a):
    counts = {}
    for n in (1, 30):
        upstream = submit(a)
        for _ in range(n):
            submit(a, watch=[upstream, "ExecFinished"])
        for _ in range(n):
            submit(a, watch=[upstream, "ExecTimeout"])
        worker = register(a)
        task = fetch(worker)
        report(worker, task["id"], "Finish")
        with CaptureQueriesContext(connection) as queries:
            report(worker, task["id"], {"Commit": {"exit_status": 0, "msg": None}})
        counts[n] = len(queries)
        assert Job.objects.filter(dependency_edges__depends_on__uuid=upstream, status=Status.READY).count() == n
        assert Job.objects.filter(dependency_edges__depends_on__uuid=upstream, status=Status.CANCELED).count() == n
        Job.objects.filter(status=Status.READY).update(status=Status.DISABLED)  # out of the next round's way
    assert counts[1] == counts[30], counts


def test_watchers_can_be_cancelled_and_changed_while_pending(a):
    upstream = submit(a)
    watcher = submit(a, watch=[upstream, "ExecFinished"])
    assert a.put(f"/tasks/{watcher}", {"priority": 3}, format="json").status_code == 200
    assert a.post("/tasks/cancel/list", {"uuids": [watcher]}, format="json").json()["cancelled_count"] == 1
    run(register(a))  # the watched task ends: nothing happens to a cancelled watcher
    assert state(a, watcher) == "Cancelled" and result(watcher)["msg"] == "UserCancellation"


@pytest.mark.parametrize("watch, status, message", [
    ("missing", 404, "task_spec.watch: Task with uuid {missing} not found"),
    (["not-a-uuid", "ExecFinished"], 400, "task_spec.watch: 'not-a-uuid' is not a valid task uuid"),
    (["{upstream}", "Finished"], 400, "task_spec.watch: 'Finished' is not a TaskExecState"),
    (["{upstream}"], 400, "task_spec.watch: must be [task uuid, TaskExecState]"),
    (["{upstream}", "ExecFinished", "x"], 400, "task_spec.watch: must be"),
    ("{upstream}", 400, "task_spec.watch: must be"),
    ([1, "ExecFinished"], 400, "task_spec.watch: 1 is not a valid task uuid"),
])
def test_bad_watch_input_creates_nothing(a, alice, watch, status, message):
    upstream, missing = submit(a), str(uuid_lib.uuid4())
    if watch == "missing":
        watch = [missing, "ExecFinished"]
    elif isinstance(watch, str):
        watch = watch.format(upstream=upstream)
    else:
        watch = [w.format(upstream=upstream) if isinstance(w, str) else w for w in watch]
    response = a.post("/tasks", {"group_name": "alice", "tags": [], "labels": [], "timeout": "1m", "priority": 0,
                                 "task_spec": {"args": ["true"], "watch": watch}}, format="json")
    assert response.status_code == status
    assert response.json()["msg"].startswith(message.format(missing=missing)), response.json()
    assert Job.objects.count() == 1 and not JobDependency.objects.exists()
    alice_group = groups.group_get("alice")
    assert alice_group.task_count == 1  # no task number consumed


def test_tasks_of_groups_the_user_cannot_read_cannot_be_watched(a, b, alice):
    hidden = submit(a)
    body = {"group_name": "bob", "tags": [], "labels": [], "timeout": "1m", "priority": 0,
            "task_spec": {"args": ["true"], "watch": [hidden, "ExecFinished"]}}
    refused = b.post("/tasks", body, format="json")
    assert refused.status_code == 404 and refused.json()["msg"] == f"task_spec.watch: Task with uuid {hidden} not found"
    assert Job.objects.count() == 1
    groups.group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    assert b.post("/tasks", body, format="json").status_code == 200
    assert Job.objects.get(owner__username="bob").status == Status.BLOCKED
