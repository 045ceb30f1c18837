"""Mitosis task states on Redis, for clients that watch a group's work without polling.

After the transaction that changed them commits, each changed task's state is published as
JSON {"uuid", "task_id", "group", "state"} on the channel `drover:group:<group name>`. (The
Mitosis protocol's own `task:<uuid>` keys and channels carry the worker's execution states and
are written by workers, as in Mitosis.) Without REDIS_URL nothing is published; with Redis down
the API keeps working: one warning, then no attempt for RETRY_AFTER seconds."""

import json
import logging
import threading
import time
import uuid as uuid_lib

from django.conf import settings
from django.db import connection, transaction

from apps.groups.models import Group

from ..models import Job
from ..states import REPORT_KEY, mitosis_state

logger = logging.getLogger("drover.publish")
RETRY_AFTER = 5.0

_lock = threading.Lock()
_client = None
_down_until = 0.0


def group_channel(group_name: str) -> str:
    return f"drover:group:{group_name}"


def tasks_changed(job_ids) -> None:
    """Publish these tasks' states once the current transaction commits (at once outside one)."""
    ids = [int(pk) for pk in job_ids]
    if ids and settings.REDIS_URL:
        transaction.on_commit(lambda: _publish(ids))


def _redis():
    global _client
    with _lock:
        if _client is None:
            import redis

            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
        return _client


def _rows_sql(n: int) -> str:
    """The few values a message needs, by raw SQL: on every task change, building the ORM query
    cost more than running it."""
    job, group = Job._meta.db_table, Group._meta.db_table
    if connection.vendor == "postgresql":
        task_id, reported = "j.spec->>'task_id'", f"j.spec->>'{REPORT_KEY}'"
    else:
        task_id, reported = "json_extract(j.spec, '$.task_id')", f"json_extract(j.spec, '$.{REPORT_KEY}')"
    marks = ", ".join(["%s"] * n)
    return (f"SELECT j.uuid, {task_id}, {reported}, j.status, g.name FROM {job} j JOIN {group} g ON g.id = j.group_id "
            f"WHERE j.id IN ({marks}) AND j.workflow_id IS NULL")


def _publish(ids: list[int]) -> None:
    global _down_until
    if time.monotonic() < _down_until:
        return
    with connection.cursor() as cursor:
        cursor.execute(_rows_sql(len(ids)), ids)
        rows = cursor.fetchall()
    messages = [(group_channel(group), json.dumps({
        "uuid": str(uuid_lib.UUID(str(uuid))), "task_id": int(task_id) if task_id is not None else None,
        "group": group, "state": mitosis_state(status, reported)})) for uuid, task_id, reported, status, group in rows]
    if not messages:
        return
    import redis

    try:
        pipe = _redis().pipeline(transaction=False)
        for channel, message in messages:
            pipe.publish(channel, message)
        pipe.execute()
    except redis.RedisError as exc:
        _down_until = time.monotonic() + RETRY_AFTER
        logger.warning("Redis unavailable (%s): task states not published for the next %.0f s", exc, RETRY_AFTER)
