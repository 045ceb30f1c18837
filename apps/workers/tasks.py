from celery import shared_task


@shared_task(name="drover.workers.expire_leases", acks_late=True, time_limit=300, soft_time_limit=240)
def expire_leases() -> dict:
    from .services import expire_leases as run

    return run()


@shared_task(name="drover.workers.expire_workers", acks_late=True, time_limit=300, soft_time_limit=240)
def expire_workers() -> int:
    from .mitosis import expire_workers as run

    return run()
