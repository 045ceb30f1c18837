"""Drover's own Redis channel per group: a client subscribed with redis-py sees each task's
state, in order, once the change commits; with Redis down the API keeps working."""

import json
import logging
import os
import time

import pytest

from apps.jobs.models import Job
from apps.jobs.services import publish
from tests.mitosis.test_worker_protocol import register, submit

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def channel(settings):
    if not REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL (CI does)")
    import redis

    settings.REDIS_URL = REDIS_URL
    publish._down_until = 0.0
    client = redis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(publish.group_channel("alice"))
    yield pubsub
    pubsub.close()
    client.close()


def received(pubsub, n: int, timeout: float = 5.0) -> list[dict]:
    messages, deadline = [], time.monotonic() + timeout
    while len(messages) < n and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            messages.append(json.loads(message["data"]))
    return messages


def test_a_task_run_is_seen_on_the_group_channel(alice, login, channel, django_capture_on_commit_callbacks):
    user = login("alice", "pw-alice")
    worker = register(user)
    with django_capture_on_commit_callbacks(execute=True):
        created = submit(user)
    with django_capture_on_commit_callbacks(execute=True):
        task = worker.get("/workers/tasks").json()
    with django_capture_on_commit_callbacks(execute=True):
        worker.post("/workers/tasks", {"id": task["id"], "op": "Finish"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        worker.post("/workers/tasks", {"id": task["id"], "op": {"Commit": {"exit_status": 0, "msg": None}}},
                    format="json")
    states = [m["state"] for m in received(channel, 4)]
    assert states == ["Ready", "Running", "Finished", "Finished"]
    message = received(channel, 1, timeout=0.2) or None
    assert message is None  # nothing more
    assert Job.objects.get(uuid=created["uuid"]).spec["task_id"] == created["task_id"]


def test_a_cancelled_task_is_seen_with_its_number(alice, login, channel, django_capture_on_commit_callbacks):
    user = login("alice", "pw-alice")
    with django_capture_on_commit_callbacks(execute=True):
        created = submit(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert user.delete(f"/tasks/{created['uuid']}").status_code == 200
    assert received(channel, 2) == [
        {"uuid": created["uuid"], "task_id": created["task_id"], "group": "alice", "state": state}
        for state in ("Ready", "Cancelled")]


def test_redis_down_does_not_stop_the_api(alice, login, settings, caplog, django_capture_on_commit_callbacks):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    publish._down_until = 0.0
    publish._client = None
    user = login("alice", "pw-alice")
    try:
        with caplog.at_level(logging.WARNING, logger="drover.publish"):
            with django_capture_on_commit_callbacks(execute=True):
                first = submit(user)
            with django_capture_on_commit_callbacks(execute=True):
                second = submit(user)
    finally:
        publish._client = None
        publish._down_until = 0.0
    assert Job.objects.filter(uuid__in=[first["uuid"], second["uuid"]]).count() == 2
    warnings = [r for r in caplog.records if r.name == "drover.publish"]
    assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()  # then quiet for a while
