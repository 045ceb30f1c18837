import time

import pytest
from celery import shared_task

from apps.core.scheduler import EmbeddedScheduler, interval_seconds

CALLS = []


@shared_task(name="drover.tests.record")
def record(value):
    CALLS.append(value)


def test_embedded_scheduler_runs_beat_schedule_in_process():
    CALLS.clear()
    thread = EmbeddedScheduler({"rec": {"task": "drover.tests.record", "schedule": 0.05, "args": ("x",)}}, tick=0.01)
    thread.start()
    deadline = time.monotonic() + 5
    while len(CALLS) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.stop()
    thread.join(timeout=2)
    assert CALLS[:3] == ["x", "x", "x"]
    assert not thread.is_alive()


def test_failing_task_does_not_stop_the_others(caplog):
    CALLS.clear()
    thread = EmbeddedScheduler({
        "boom": {"task": "drover.tests.record", "schedule": 0.05, "args": (), "kwargs": {"unexpected": 1}},
        "ok": {"task": "drover.tests.record", "schedule": 0.05, "args": ("ok",)},
    }, tick=0.01)
    thread.start()
    deadline = time.monotonic() + 5
    while CALLS.count("ok") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.stop()
    thread.join(timeout=2)
    assert CALLS.count("ok") >= 2
    assert "scheduled task boom" in caplog.text


def test_crontab_schedules_are_refused_with_advice():
    with pytest.raises(ValueError, match="celery beat"):
        interval_seconds("nightly", "0 3 * * *")


def test_every_beat_schedule_entry_names_a_registered_task(settings):
    from django.utils.module_loading import autodiscover_modules

    from config.celery import app

    autodiscover_modules("tasks")
    missing = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]
    assert missing == []
    assert settings.CELERY_BEAT_SCHEDULE  # the apps do add periodic tasks
