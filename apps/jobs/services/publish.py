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

from django.conf import settings
from django.db import transaction

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


def _publish(ids: list[int]) -> None:
    global _down_until
    if time.monotonic() < _down_until:
        return
    rows = (Job.objects.filter(pk__in=ids, workflow__isnull=True, group__isnull=False)
            .values_list("uuid", "spec", "status", "group__name"))
    messages = [(group_channel(group), json.dumps({
        "uuid": str(uuid), "task_id": (spec or {}).get("task_id"), "group": group,
        "state": mitosis_state(status, (spec or {}).get(REPORT_KEY))})) for uuid, spec, status, group in rows]
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
