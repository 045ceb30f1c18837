"""The embedded scheduler: without Redis there is no celery beat, so `manage.py serve` runs the
same CELERY_BEAT_SCHEDULE in a thread, calling the same Celery task functions in-process."""

import logging
import threading
import time
from datetime import timedelta

from django.db import close_old_connections
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger("drover.scheduler")


def interval_seconds(name: str, schedule) -> float:
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, (int, float)) and schedule > 0:
        return float(schedule)
    raise ValueError(
        f"CELERY_BEAT_SCHEDULE[{name!r}]: the embedded scheduler runs fixed intervals only "
        "(seconds or timedelta); use Redis and celery beat for crontab schedules"
    )


# Tasks that run jobs' commands: a Celery worker's work, never the server's (this thread lives in
# the server process). Without a broker, jobs routed to the built-in pool wait for one.
RUNS_JOBS = frozenset({"drover.jobs.dispatch_pool"})


class EmbeddedScheduler(threading.Thread):
    def __init__(self, schedule: dict, *, tick: float = 0.5):
        super().__init__(name="drover-scheduler", daemon=True)
        self.entries = [
            (name, entry["task"], interval_seconds(name, entry["schedule"]), tuple(entry.get("args", ())),
             dict(entry.get("kwargs", {})))
            for name, entry in schedule.items() if entry["task"] not in RUNS_JOBS
        ]
        if len(self.entries) < len(schedule):
            logger.info("the built-in pool is off without Redis: jobs with queue \"celery\" wait for Celery "
                        "workers (set REDIS_URL, run `celery -A config worker`); use `manage.py run_worker`")
        self.tick = tick
        self.stopping = threading.Event()
        self.runs: dict[str, int] = {name: 0 for name, *_ in self.entries}

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        from config.celery import app

        autodiscover_modules("tasks")  # each app's tasks.py registers its tasks (as a worker's would)
        due = {name: time.monotonic() for name, *_ in self.entries}
        while not self.stopping.is_set():
            for name, task_name, interval, args, kwargs in self.entries:
                if time.monotonic() < due[name]:
                    continue
                due[name] = time.monotonic() + interval
                try:
                    app.tasks[task_name].apply(args=args, kwargs=kwargs, throw=True)
                    self.runs[name] += 1
                except Exception:  # noqa: BLE001 - one failing task must not stop the others
                    logger.exception("scheduled task %s (%s) failed", name, task_name)
                finally:
                    close_old_connections()
            self.stopping.wait(self.tick)
