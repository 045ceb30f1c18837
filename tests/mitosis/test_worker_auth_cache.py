"""Worker-token authentication remembers the worker (apps.core.authcache): a repeated token costs
no worker query, and a worker removed or shut down is refused (or given nothing) at once, even
when another server process still remembers it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core import authcache
from apps.core.authentication import worker_key
from apps.groups import services as groups
from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.workers.mitosis import expire_workers
from apps.workers.models import Worker

from .test_tasks import fetch, register, report, submit

pytestmark = pytest.mark.django_db
WORKER_LOOKUP = 'FROM "drover_worker" INNER JOIN'  # the authentication's query (worker and creator)


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.DROVER_AUTH_CACHE_SECONDS = 5
    authcache.clear()
    yield
    authcache.clear()


@pytest.fixture
def a(alice, login):
    return login("alice", "pw-alice")


def heartbeat(worker) -> tuple[int, int, int]:
    """(status, worker look-ups, all queries) of one heartbeat."""
    with CaptureQueriesContext(connection) as ctx:
        response = worker.post("/workers/heartbeat")
    lookups = sum(WORKER_LOOKUP in q["sql"] for q in ctx.captured_queries)
    return response.status_code, lookups, len(ctx.captured_queries)


def snapshot(worker) -> Worker:
    return Worker.objects.select_related("creator").get(uuid=worker.uuid)


def remember(row: Worker) -> None:
    """What another server process may still hold: the worker as it was before a change."""
    authcache.put(worker_key(row.uuid), (row.creator, row))


def test_a_repeated_worker_token_costs_no_worker_query(a):
    worker = register(a)
    status, lookups, first = heartbeat(worker)
    assert (status, lookups) == (200, 1)
    status, lookups, second = heartbeat(worker)
    assert (status, lookups, second) == (200, 0, first - 1)
    assert Worker.objects.get(uuid=worker.uuid).last_heartbeat > timezone.now() - timedelta(seconds=5)


def test_nothing_is_remembered_when_turned_off(a, settings):
    settings.DROVER_AUTH_CACHE_SECONDS = 0
    worker = register(a)
    heartbeat(worker)
    assert heartbeat(worker)[1] == 1


def test_memory_is_per_worker(a):
    one, two = register(a), register(a)
    heartbeat(one)
    assert heartbeat(two)[1] == 1  # another worker's token is not the remembered one
    assert heartbeat(one)[1] == 0


def test_an_unregistered_worker_is_refused_at_once(a):
    worker = register(a)
    heartbeat(worker)
    assert worker.delete("/workers").status_code == 200
    assert not Worker.objects.filter(uuid=worker.uuid).exists()
    response = worker.get("/workers/tasks")
    assert response.status_code == 401 and "worker not registered" in response.json()["msg"]


@pytest.mark.parametrize("path", ["/workers/{uuid}?op=force", "/admin/workers/{uuid}?op=force"])
def test_a_force_shutdown_is_refused_at_once(a, root, login, path):
    created = submit(a)
    worker = register(a)
    assert fetch(worker)["uuid"] == created
    heartbeat(worker)
    actor = login("root", "pw-root") if path.startswith("/admin") else a
    assert actor.delete(path.format(uuid=worker.uuid)).status_code == 200
    assert worker.post("/workers/heartbeat").status_code == 401
    assert worker.get("/workers/tasks").status_code == 401
    assert Job.objects.get(uuid=created).status == Status.READY


def test_a_worker_removed_for_silence_is_refused_at_once(a, settings):
    worker = register(a)
    heartbeat(worker)
    Worker.objects.filter(uuid=worker.uuid).update(last_heartbeat=timezone.now() - timedelta(seconds=601))
    assert expire_workers() == 1
    assert worker.post("/workers/heartbeat").status_code == 401


def test_a_worker_deleted_in_the_console_is_refused_at_once(a):
    worker = register(a)
    heartbeat(worker)
    Worker.objects.get(uuid=worker.uuid).delete()
    assert worker.post("/workers/heartbeat").status_code == 401


def test_a_locked_creator_is_refused_at_once(a):
    worker = register(a)
    heartbeat(worker)
    groups.user_set_state(username="alice", state="Locked")
    assert worker.post("/workers/heartbeat").status_code == 401


def test_a_graceful_shutdown_gets_no_new_task(a):
    first, second = submit(a), submit(a)
    worker = register(a)
    task = fetch(worker)
    assert task["uuid"] == first
    heartbeat(worker)
    assert a.delete(f"/workers/{worker.uuid}?op=graceful").status_code == 200
    assert Worker.objects.get(uuid=worker.uuid).state == "GracefulShutdown"
    assert heartbeat(worker)[:2] == (200, 1)  # forgotten when its state changed
    assert fetch(worker) is None
    report(worker, task["id"], "Finish")
    report(worker, task["id"], {"Commit": {"exit_status": 0, "msg": None}})
    assert worker.post("/workers/heartbeat").status_code == 401
    assert Job.objects.get(uuid=second).status == Status.READY


def test_a_stale_remembered_worker_shutting_down_gets_no_new_task(a):
    """Another process remembers the worker as Normal: fetch reads the row under lock, and an idle
    worker's heartbeat removes it as a graceful shutdown must."""
    first, second = submit(a), submit(a)
    worker = register(a)
    task = fetch(worker)
    before = snapshot(worker)
    a.delete(f"/workers/{worker.uuid}?op=graceful")
    remember(before)
    assert authcache.get(worker_key(worker.uuid))[1].state == "Normal"
    assert fetch(worker) is None
    assert heartbeat(worker)[:2] == (200, 0)
    assert Worker.objects.get(uuid=worker.uuid).state == "GracefulShutdown"  # busy: it stays until its commit
    Job.objects.filter(uuid=first).update(status=Status.READY, claimed_by="")  # e.g. its lease expired
    assert heartbeat(worker)[:2] == (200, 0)
    assert not Worker.objects.filter(uuid=worker.uuid).exists()
    assert Job.objects.get(uuid=second).status == Status.READY and task["uuid"] == first


def test_a_stale_remembered_removed_worker_gets_nothing(a):
    created = submit(a)
    worker = register(a)
    row = snapshot(worker)
    Worker.objects.filter(pk=row.pk).delete()
    remember(row)  # another process still has it
    assert fetch(worker) is None
    assert worker.post("/workers/heartbeat").status_code == 200  # changes nothing
    assert not Worker.objects.filter(uuid=worker.uuid).exists()
    job = Job.objects.get(uuid=created)
    assert (job.status, job.claimed_by) == (Status.READY, "")
