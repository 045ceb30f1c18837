"""Mitosis workers and tasks on the shared job core: register, fetch through the one claim
service (group role and tag matching, priority), report Finish/Cancel then Commit, heartbeat,
removal putting the task back, and the token boundaries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.groups.models import Group
from apps.jobs.models import Job, Result
from apps.jobs.states import Status
from apps.workers.mitosis import expire_workers
from apps.workers.models import GroupWorker, Worker

pytestmark = pytest.mark.django_db


def submit(client, group="alice", args=("echo", "hi"), **extra):
    body = {"group_name": group, "tags": [], "labels": [], "timeout": "10m", "priority": 0,
            "task_spec": {"args": list(args), "envs": {}, "resources": [], "terminal_output": False, "watch": None}}
    body.update(extra)
    response = client.post("/tasks", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def register(client, tags=(), groups_=(), **extra):
    response = client.post("/workers", {"tags": list(tags), "labels": [], "groups": list(groups_), "lifetime": None,
                                        **extra}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    worker = APIClient()
    worker.credentials(HTTP_AUTHORIZATION="Bearer " + body["token"])
    worker.uuid = body["worker_id"]
    return worker


def test_a_task_from_submit_to_commit(alice, login):
    user = login("alice", "pw-alice")
    worker = register(user)
    assert worker.get("/workers/tasks").status_code == 204
    created = submit(user, args=("echo", "hello world"))
    assert created["task_id"] == 1
    task = worker.get("/workers/tasks").json()
    assert task["uuid"] == created["uuid"] and task["timeout"] == "10m"
    assert task["spec"]["args"] == ["echo", "hello world"]
    job = Job.objects.get(uuid=created["uuid"])
    assert (job.status, job.claimed_by) == (Status.RUNNING, f"worker:{worker.uuid}")
    assert job.command == "echo 'hello world'"
    assert user.get(f"/tasks/{created['uuid']}").json()["info"]["state"] == "Running"

    early = worker.post("/workers/tasks", {"id": task["id"], "op": {"Commit": {"exit_status": 0, "msg": None}}},
                        format="json")
    assert early.status_code == 400 and "can not be marked as done" in early.json()["msg"]
    assert worker.post("/workers/tasks", {"id": task["id"], "op": "Finish"}, format="json").json() == {"url": None}
    assert user.get(f"/tasks/{created['uuid']}").json()["info"]["state"] == "Finished"
    done = worker.post("/workers/tasks", {"id": task["id"], "op": {"Commit": {"exit_status": 256, "msg": None}}},
                       format="json")
    assert done.status_code == 200
    info = user.get(f"/tasks/{created['uuid']}").json()["info"]
    assert info["state"] == "Finished" and info["result"] == {"exit_status": 256, "msg": None}
    assert info["reporter_uuid"] == worker.uuid
    job.refresh_from_db()
    assert (job.status, job.exit_code) == (Status.FAILED, 256)
    assert Result.objects.get(job=job).return_code == 256
    # a report on a task the worker no longer holds is a 404, as in Mitosis
    again = worker.post("/workers/tasks", {"id": task["id"], "op": "Finish"}, format="json")
    assert again.status_code == 404


def test_cancel_then_commit_cancels(alice, login):
    user = login("alice", "pw-alice")
    worker = register(user)
    created = submit(user)
    task = worker.get("/workers/tasks").json()
    worker.post("/workers/tasks", {"id": task["id"], "op": "Cancel"}, format="json")
    worker.post("/workers/tasks", {"id": task["id"], "op": {"Commit": {"exit_status": 0, "msg": "ExecTimeout"}}},
                format="json")
    assert Job.objects.get(uuid=created["uuid"]).status == Status.CANCELED
    assert user.get(f"/tasks/{created['uuid']}").json()["info"]["state"] == "Cancelled"


def test_matching_by_group_role_tags_and_priority(alice, bob, login):
    groups.group_create(creator=alice, name="lab")
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    a = login("alice", "pw-alice")
    low = submit(a, group="lab", priority=1)
    gpu = submit(a, group="lab", tags=["gpu"], priority=9)
    high = submit(a, group="lab", priority=5)
    plain = register(login("bob", "pw-bob"), groups_=["lab"])
    reader = register(login("bob", "pw-bob"), tags=["gpu"], groups_=["lab:Read"])
    assert reader.get("/workers/tasks").status_code == 204  # a Read role gets no tasks
    assert plain.get("/workers/tasks").json()["uuid"] == high["uuid"]  # gpu task needs a gpu worker
    assert plain.get("/workers/tasks").json()["uuid"] == low["uuid"]
    assert plain.get("/workers/tasks").status_code == 204
    gpu_worker = register(a, tags=["gpu", "cuda"], groups_=["lab:write"])
    assert gpu_worker.get("/workers/tasks").json()["uuid"] == gpu["uuid"]
    roles = dict(GroupWorker.objects.filter(worker__uuid=gpu_worker.uuid).values_list("group__name", "role"))
    assert roles == {"lab": 2, "alice": 3}


def test_tasks_need_write_role_in_the_group(alice, bob, login):
    groups.group_set_roles(actor=alice, group_name="alice", relations={"bob": "Read"})
    b = login("bob", "pw-bob")
    body = {"group_name": "alice", "tags": [], "labels": [], "timeout": "1h", "priority": 0,
            "task_spec": {"args": ["true"]}}
    refused = b.post("/tasks", body, format="json")
    assert refused.status_code == 403 and not Job.objects.exists()
    missing = b.post("/tasks", {**body, "group_name": "nope"}, format="json")
    assert missing.status_code == 404
    bad = b.post("/tasks", {**body, "timeout": "soon"}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("timeout:")
    assert not Job.objects.exists()


def test_batch_submit_reports_each_item(alice, login):
    a = login("alice", "pw-alice")
    good = {"group_name": "alice", "timeout": "5m", "task_spec": {"args": ["true"]}}
    response = a.post("/tasks/submit", {"tasks": [good, {**good, "group_name": "nope"}, {**good, "timeout": "5"},
                                                  good]}, format="json")
    results = response.json()["results"]
    assert [list(r) for r in results] == [["Ok"], ["Err"], ["Err"], ["Ok"]]
    assert results[1]["Err"]["msg"] == "tasks.1: group_name: User or group with name nope not found"
    assert "tasks.2: timeout" in results[2]["Err"]["msg"]
    # refused items are checked before a number is given: no gaps
    assert [r["Ok"]["task_id"] for r in (results[0], results[3])] == [1, 2]
    assert Job.objects.count() == 2


def test_user_cancel_only_before_a_worker_takes_it(alice, login):
    a = login("alice", "pw-alice")
    first, second = submit(a), submit(a)
    worker = register(a)
    taken = worker.get("/workers/tasks").json()["uuid"]
    assert taken == first["uuid"]
    assert a.delete(f"/tasks/{first['uuid']}").status_code == 404
    assert a.delete(f"/tasks/{second['uuid']}").status_code == 200
    assert Job.objects.get(uuid=second["uuid"]).status == Status.CANCELED
    assert a.get(f"/tasks/{second['uuid']}").json()["info"]["result"] == {"exit_status": 0, "msg": "UserCancellation"}


def test_unregister_and_silent_workers_give_their_task_back(alice, login, settings):
    a = login("alice", "pw-alice")
    one, two = submit(a), submit(a)
    w1, w2 = register(a), register(a)
    w1.get("/workers/tasks")
    w2.get("/workers/tasks")
    w1.post("/workers/tasks", {"id": Job.objects.get(uuid=one["uuid"]).pk, "op": "Finish"}, format="json")
    assert w1.delete("/workers").status_code == 200
    job = Job.objects.get(uuid=one["uuid"])
    assert (job.status, job.attempt, job.claimed_by) == (Status.READY, 2, "")
    assert "mitosis_report" not in job.spec  # the uncommitted Finish is forgotten
    assert w1.get("/workers/tasks").status_code == 401  # its token died with it

    assert w2.post("/workers/heartbeat").json() is None
    Worker.objects.filter(uuid=w2.uuid).update(last_heartbeat=timezone.now() - timedelta(seconds=601))
    assert expire_workers() == 1
    assert Job.objects.get(uuid=two["uuid"]).status == Status.READY
    assert w2.post("/workers/heartbeat").status_code == 401


def test_heartbeat_removes_a_worker_whose_task_overran(alice, login):
    a = login("alice", "pw-alice")
    created = submit(a, timeout="1m")
    worker = register(a)
    worker.get("/workers/tasks")
    Job.objects.filter(uuid=created["uuid"]).update(started_at=timezone.now() - timedelta(seconds=121))
    assert worker.post("/workers/heartbeat").status_code == 200
    assert not Worker.objects.filter(uuid=worker.uuid).exists()
    assert Job.objects.get(uuid=created["uuid"]).status == Status.READY


def test_token_boundaries(alice, login):
    user = login("alice", "pw-alice")
    worker = register(user)
    assert worker.get("/auth").status_code == 401  # a worker token is not a user token
    assert worker.post("/tasks", {}, format="json").status_code == 401
    assert worker.post("/workers", {"tags": [], "groups": []}, format="json").status_code == 403
    assert user.get("/workers/tasks").status_code == 401  # a user token is not a worker token
    assert user.post("/workers/heartbeat").status_code == 401
    assert user.delete("/workers").status_code == 403
    assert APIClient().get("/workers/tasks").status_code == 401


def test_other_users_do_not_see_a_groups_tasks(alice, bob, login):
    created = submit(login("alice", "pw-alice"))
    assert login("bob", "pw-bob").get(f"/tasks/{created['uuid']}").status_code == 404


def test_a_fetch_claims_and_starts_in_one_statement(alice, login, django_assert_max_num_queries):
    """The fetched task is running at once (no separate claim and start), with its start time,
    its lease and one claim event."""
    from apps.workflows.models import Event

    user = login("alice", "pw-alice")
    worker = register(user)
    created = submit(user)
    # worker token, savepoint, worker row, claim (+ its event apart on SQLite), task, release
    with django_assert_max_num_queries(7 if connection.vendor == "sqlite" else 6):
        task = worker.get("/workers/tasks").json()
    job = Job.objects.get(uuid=created["uuid"])
    assert task["uuid"] == created["uuid"]
    assert job.status == Status.RUNNING and job.started_at is not None and job.lease_expires_at is not None
    event = Event.objects.filter(category="jobs_claimed").latest("id")
    assert event.data["job_ids"] == [job.pk] and event.data["started"] is True


def statements(call) -> tuple[int, object]:
    """(SQL statements but savepoints, the response): the test's own transaction makes each
    service's atomic block a savepoint, which a server's request does not run."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return sum(not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT")) for q in queries.captured_queries), response


def test_a_workers_fetch_finish_and_commit_cost_a_few_statements(alice, login):
    """The three requests a Mitosis task costs a worker, on a task nothing depends on. Fetch:
    the worker's row and groups, then one statement that claims, starts and returns the task
    (with its event; SQLite logs it apart). Finish: one UPDATE. Commit: the worker and the task
    under lock, the result, the job, the event; no release statements, since nothing waits on
    it. Worker tokens are checked against the cached worker."""
    user = login("alice", "pw-alice")
    worker = register(user)
    worker.post("/workers/heartbeat")  # authentication caches the worker
    created = submit(user, args=("echo", "x"))
    fetched, response = statements(lambda: worker.get("/workers/tasks"))
    task = response.json()
    assert task["uuid"] == created["uuid"] and task["spec"]["args"] == ["echo", "x"] and task["timeout"] == "10m"
    finished, _ = statements(lambda: worker.post("/workers/tasks", {"id": task["id"], "op": "Finish"}, format="json"))
    committed, _ = statements(lambda: worker.post("/workers/tasks", {
        "id": task["id"], "op": {"Commit": {"exit_status": 0, "msg": None}}}, format="json"))
    assert (fetched, finished, committed) == ((2, 1, 5) if connection.vendor == "postgresql" else (3, 1, 5))
    job = Job.objects.get(uuid=created["uuid"])
    assert (job.status, job.exit_code, job.claimed_by) == (Status.COMPLETED, 0, "")
    assert job.spec["result"] == {"exit_status": 0, "msg": None}
    assert Result.objects.filter(job=job, return_code=0, status=Status.COMPLETED).count() == 1


def test_a_worker_of_several_groups_gets_their_tasks_in_priority_order(alice, login):
    groups.group_create(creator=alice, name="lab")
    a = login("alice", "pw-alice")
    order = [submit(a, group=g, priority=p)["uuid"] for g, p in (("lab", 1), ("alice", 7), ("lab", 9), ("alice", 3))]
    worker = register(a, groups_=["lab"])  # serves lab and its creator's group, alice
    fetched = [worker.get("/workers/tasks").json()["uuid"] for _ in range(4)]
    assert fetched == [order[2], order[1], order[3], order[0]]
    assert worker.get("/workers/tasks").status_code == 204


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="a PostgreSQL plan")
def test_a_fetch_reads_a_few_index_entries_per_group_not_every_ready_task(alice):
    """Each group's best tasks come from its ready index: the fetch does not grow with the
    queue (it once sorted every ready task of the worker's groups)."""
    from apps.jobs import services as jobs

    lab = groups.group_create(creator=alice, name="lab")
    mine = Group.objects.get(name="alice")
    Job.objects.bulk_create(Job(owner=alice, group=g, status=Status.READY, priority=i % 10, tags=[], name=f"t{i}")
                            for g in (lab, mine) for i in range(300))
    with connection.cursor() as cursor:  # statistics that count the ready tasks, as autovacuum's
        cursor.execute(f"ANALYZE {Job._meta.db_table}")
    scope = jobs.Scope(group_ids=(lab.pk, mine.pk), tags=())
    with CaptureQueriesContext(connection) as queries:
        assert len(jobs.claim(scope=scope, claimer="t", limit=1, start=True)) == 1
    claim_sql = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("WITH picked"))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + claim_sql)
        plan = cursor.fetchone()[0][0]["Plan"]

    def scans(node):
        yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    read = [n for n in scans(plan) if n.get("Relation Name") == "drover_job" and "Actual Rows" in n
            and n["Node Type"] != "ModifyTable" and n.get("Index Name") != "drover_job_pkey"]
    assert read and all(n["Actual Rows"] <= 2 for n in read), [(n["Node Type"], n.get("Index Name"),
                                                                n["Actual Rows"]) for n in read]
