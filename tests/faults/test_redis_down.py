"""Redis stopped under a running server (a subprocess whose REDIS_URL is a private redis-server,
so its cache, its Celery broker and the Mitosis pub/sub are all on it): logins, the APIs and
claiming keep working; publishing task states degrades with one logged warning and resumes
when Redis returns."""

import json
import shutil
import time

import pytest
import redis

from apps.groups import services as groups
from apps.jobs.services import initialize_workflow
from apps.workflows.spec import workflow_from_spec
from conftest import md5_list

from ._procs import Server, current_db_env, http, server_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH")]
CHANNEL = "drover:group:alice"
WARNING = "Redis unavailable"
TASK = {"group_name": "alice", "tags": [], "labels": [], "timeout": "10m", "priority": 0,
        "task_spec": {"args": ["true"]}}


@pytest.fixture
def running(alice, private_redis, tmp_path):
    server = Server(server_env(current_db_env(), REDIS_URL=private_redis.url), tmp_path)
    try:
        yield server.start()
    finally:
        server.kill()


def subscribe(url: str):
    pubsub = redis.Redis.from_url(url, socket_timeout=5).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    return pubsub


def next_state(pubsub, timeout: float = 10) -> dict | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message:
            return json.loads(message["data"])
    return None


def login(base: str) -> dict:
    status, body = http(base, "POST", "/login", {"username": "alice", "md5_password": md5_list("pw-alice")})
    assert status == 200, body
    return {"Authorization": "Bearer " + body["token"]}


def submit(base: str, user: dict) -> str:
    status, body = http(base, "POST", "/tasks", TASK, headers=user)
    assert status == 200, body
    return body["uuid"]


def test_logins_work_while_redis_is_down(private_redis, running):
    assert login(running.base)
    private_redis.stop()
    status, body = http(running.base, "POST", "/token/", {"username": "alice", "password": "pw-alice"})
    assert status == 200 and body["access"], body
    assert login(running.base)


def test_api_and_claiming_work_and_pub_sub_degrades_while_redis_is_down(alice, private_redis, running):
    base = running.base
    user = login(base)  # before the outage: logging in needs Redis (see above)
    pubsub = subscribe(private_redis.url)
    first = submit(base, user)
    assert next_state(pubsub) == {"uuid": first, "task_id": 1, "group": "alice", "state": "Ready"}
    pubsub.close()

    private_redis.stop()
    later = [submit(base, user) for _ in range(3)]
    status, worker = http(base, "POST", "/workers", {"tags": [], "labels": [], "groups": [], "lifetime": None},
                          headers=user)
    assert status == 200, worker
    worker_auth = {"Authorization": "Bearer " + worker["token"]}
    status, task = http(base, "GET", "/workers/tasks", headers=worker_auth)
    assert status == 200 and task["uuid"] == first, task
    for op in ("Finish", {"Commit": {"exit_status": 0, "msg": None}}):
        status, body = http(base, "POST", "/workers/tasks", {"id": task["id"], "op": op}, headers=worker_auth)
        assert status == 200, body
    status, info = http(base, "GET", f"/tasks/{first}", headers=user)
    assert status == 200 and info["info"]["state"] == "Finished", info
    _, key = groups.api_key_create(user=alice)
    wf, ids = workflow_from_spec(owner=alice, spec={"name": "no-redis", "jobs": [{"name": "j", "command": "true"}]})
    initialize_workflow(workflow=wf)
    status, claimed = http(base, "POST", f"/torc-service/v1/workflows/{wf.pk}/claim_next_jobs?limit=5",
                           headers={"X-API-Key": key})
    assert status == 200 and [job["id"] for job in claimed["jobs"]] == [ids["j"]], claimed
    assert running.output().count(WARNING) == 1, running.output()[-3000:]  # one warning, not one per change

    private_redis.start()  # same port
    pubsub = subscribe(private_redis.url)

    def published():  # the server tries again RETRY_AFTER (5 s) after the failure
        uuid = submit(base, user)
        state = next_state(pubsub, timeout=1)
        return state if state and state["uuid"] == uuid else None

    state = wait_for(published, timeout=30, what="task states to be published again", interval=0.5)
    assert state["state"] == "Ready" and state["uuid"] not in later
    pubsub.close()
    assert "Traceback" not in running.output(), running.output()[-5000:]
