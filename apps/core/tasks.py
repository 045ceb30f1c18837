from celery import shared_task


@shared_task(name="drover.core.ping", acks_late=True, time_limit=10)
def ping() -> str:
    """A no-op the embedded scheduler and Celery workers can be checked with."""
    return "pong"
