import os

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import parse_memory
from apps.workers.http import JsonClient, auth_headers
from apps.workers.torc_worker import TorcWorker


class Command(BaseCommand):
    requires_system_checks = []  # a worker host only talks HTTP; it has no database to check
    help = ("Run jobs of a Torc workflow on this host: claim by free resources over HTTP, run each command, "
            "report results, heartbeat; exit when the workflow is complete or on SIGTERM (unfinished jobs go "
            "back to ready). Credentials: DROVER_API_KEY, DROVER_TOKEN, or DROVER_USERNAME/DROVER_PASSWORD.")

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Drover's base URL, e.g. http://127.0.0.1:8000")
        parser.add_argument("--workflow", type=int, required=True, help="Torc workflow id")
        parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--memory", default="8g", help="memory for jobs, Torc style: 512m, 8g")
        parser.add_argument("--gpus", type=int, default=0)
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between claims when idle")
        parser.add_argument("--heartbeat", type=float, default=30.0, help="seconds between heartbeats")
        parser.add_argument("--max-idle", type=float, default=None,
                            help="leave after this many seconds without a job to run")
        parser.add_argument("--once", action="store_true", help="claim once, run what was claimed, exit")

    def handle(self, *args, url, workflow, cpus, memory, gpus, poll, heartbeat, max_idle, once, **options):
        try:
            memory_bytes = parse_memory(memory, field="--memory")
        except FieldValidationError as exc:
            raise CommandError(str(exc)) from None
        headers = auth_headers(api_key=os.environ.get("DROVER_API_KEY"), token=os.environ.get("DROVER_TOKEN"),
                               username=os.environ.get("DROVER_USERNAME"),
                               password=os.environ.get("DROVER_PASSWORD"))
        if not headers:
            raise CommandError("No credentials: set DROVER_API_KEY (python manage.py create_api_key USER prints "
                               "one), DROVER_TOKEN, or DROVER_USERNAME and DROVER_PASSWORD.")
        try:
            client = JsonClient(url.rstrip("/") + "/torc-service/v1", headers)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        worker = TorcWorker(client, workflow, cpus=cpus, memory_bytes=memory_bytes, gpus=gpus, poll=poll,
                            heartbeat_every=heartbeat, once=once, max_idle=max_idle,
                            out=lambda line: self.stdout.write(line))
        worker.run()
