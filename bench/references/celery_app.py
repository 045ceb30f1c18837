"""The Celery reference's own tiny app (no Django, nothing of Drover): one no-op task. The
worker is a real `celery worker` subprocess started by celery_ref; broker and result backend
are the bench's Redis database (BENCH_CELERY_URL), the queue is per run (BENCH_CELERY_QUEUE)."""

import os

from celery import Celery

app = Celery("bench_ref")


def configure(url: str, queue: str) -> None:
    app.conf.update(
        broker_url=url, result_backend=url, task_default_queue=queue,
        task_acks_late=True,  # as Drover's own Celery settings: a task is acknowledged when done
        worker_prefetch_multiplier=4,  # Celery's default, stated for the record
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_expires=900,  # results (the "recorded" part) leave the bench's Redis database soon after
        worker_hijack_root_logger=False, broker_connection_retry_on_startup=True,
    )


configure(os.environ.get("BENCH_CELERY_URL", "redis://127.0.0.1:56999/4"),
          os.environ.get("BENCH_CELERY_QUEUE", "bench-ref"))


@app.task(name="bench.noop")
def noop(i: int) -> None:
    """No work: what is measured is dispatch, execution bookkeeping and the stored result."""
