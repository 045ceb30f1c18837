"""`make run`: the HTTP service and, without Redis, the embedded scheduler, in one process."""

import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.core.scheduler import EmbeddedScheduler


class Command(BaseCommand):
    help = "Serve Drover over HTTP with the embedded scheduler (when REDIS_URL is not set)."

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport", nargs="?",
            default=f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}",
        )
        parser.add_argument("--scheduler", choices=["auto", "on", "off"], default="auto",
                            help="auto: embedded scheduler only when REDIS_URL is unset (celery beat runs it otherwise)")

    def handle(self, *args, addrport, scheduler, **options):
        run_scheduler = scheduler == "on" or (scheduler == "auto" and not settings.REDIS_URL)
        if run_scheduler:
            thread = EmbeddedScheduler(settings.CELERY_BEAT_SCHEDULE)
            thread.start()
            self.stdout.write(f"Embedded scheduler running {len(thread.entries)} periodic task(s); jobs run by "
                              "`manage.py run_worker` (the built-in pool needs Redis and Celery workers)")
        call_command("runserver", addrport, use_reloader=False, use_threading=True, skip_checks=False)
