"""A user's task quota: how many of their tasks may wait (Pending or Ready) at once. Off by
default (Mitosis has none); refusals are 403 {"msg"} and change nothing; room comes back as tasks
start running or are cancelled."""

import pytest

from apps.groups.models import Group, User
from apps.jobs.models import Job
from apps.jobs.states import Status

from .test_tasks import fetch, register, submit

pytestmark = pytest.mark.django_db

TASK = {"group_name": "alice", "timeout": "5m", "task_spec": {"args": ["true"]}}


@pytest.fixture
def a(alice, login):
    return login("alice", "pw-alice")


def set_quota(username: str, quota: int | None) -> None:
    User.objects.filter(username=username).update(task_quota=quota)


def test_no_quota_by_default(a):
    for _ in range(12):
        submit(a)
    assert Job.objects.filter(status=Status.READY).count() == 12


def test_a_submit_over_the_quota_is_refused_and_changes_nothing(a):
    set_quota("alice", 2)
    submit(a), submit(a)
    response = a.post("/tasks", TASK, format="json")
    assert response.status_code == 403
    assert response.json()["msg"] == ("Task quota exceeded: alice may have at most 2 tasks waiting (Pending or "
                                      "Ready); wait for some to run or cancel some")
    assert Job.objects.count() == 2 and Group.objects.get(name="alice").task_count == 2


def test_a_batch_takes_the_room_left_in_order(a):
    set_quota("alice", 3)
    submit(a)
    response = a.post("/tasks/submit", {"tasks": [TASK, {**TASK, "group_name": "nope"}, TASK, TASK, TASK]},
                      format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [next(iter(r)) for r in results] == ["Ok", "Err", "Ok", "Err", "Err"]
    assert results[3]["Err"]["msg"].startswith("tasks.3: Task quota exceeded: alice may have at most 3")
    assert [r["Ok"]["task_id"] for r in (results[0], results[2])] == [2, 3]  # refused ones take no number
    assert Job.objects.count() == 3 and Group.objects.get(name="alice").task_count == 3


def test_running_and_cancelled_tasks_free_their_place(a):
    set_quota("alice", 2)
    first, second = submit(a), submit(a)
    assert a.post("/tasks", TASK, format="json").status_code == 403
    worker = register(a)
    assert fetch(worker)["uuid"] == first  # running: no longer waiting
    third = submit(a)
    assert a.post("/tasks", TASK, format="json").status_code == 403
    assert a.delete(f"/tasks/{second}").status_code == 200
    submit(a)
    assert Job.objects.filter(status__in=(Status.READY, Status.BLOCKED)).count() == 2
    assert Job.objects.get(uuid=third).status == Status.READY


def test_pending_tasks_count_as_waiting(a):
    set_quota("alice", 2)
    upstream = submit(a)
    watcher = a.post("/tasks", {**TASK, "task_spec": {"args": ["true"], "watch": [upstream, "ExecFinished"]}},
                     format="json")
    assert watcher.status_code == 200 and Job.objects.get(uuid=watcher.json()["uuid"]).status == Status.BLOCKED
    assert a.post("/tasks", TASK, format="json").status_code == 403


def test_the_default_applies_unless_the_user_has_their_own(a, bob, login, settings):
    settings.DROVER_DEFAULT_TASK_QUOTA = 1
    submit(a)
    assert a.post("/tasks", TASK, format="json").status_code == 403
    set_quota("alice", 0)  # 0: no limit for alice, whatever the default
    submit(a), submit(a)
    b = login("bob", "pw-bob")
    submit(b, group="bob")
    assert b.post("/tasks", {**TASK, "group_name": "bob"}, format="json").status_code == 403
    assert Job.objects.filter(owner__username="alice").count() == 3
    assert Job.objects.filter(owner__username="bob").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_cannot_both_take_the_last_places(alice):
    """Six threads, each its own connection and transaction and its own group (so no group lock
    orders them), each submitting 2 tasks against a quota of 5: the user's row lock lets exactly
    5 through (without it, counts read at the same moment let more in)."""
    import threading

    from django.db import connection, connections

    from apps.groups import services as groups
    from apps.jobs.services.tasks import tasks_submit

    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers: PostgreSQL (DATABASE_URL=postgres://...)")
    user = User.objects.get(username="alice")
    names = ["alice"] + [groups.group_create(creator=user, name=f"lab{i}").name for i in range(5)]
    set_quota("alice", 5)
    user.refresh_from_db()
    barrier, outcomes = threading.Barrier(len(names)), []

    def submit_two(group: str):
        item = {"group_name": group, "tags": [], "labels": [], "timeout_s": 60, "priority": 0,
                "spec": {"args": ["true"], "envs": {}, "resources": [], "terminal_output": False, "watch": None}}
        try:
            barrier.wait(timeout=30)
            outcomes.extend(tasks_submit(user=user, items=[item, item]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit_two, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(isinstance(o, Job) for o in outcomes) == 5 and len(outcomes) == 12
    assert Job.objects.filter(owner=user).count() == 5
