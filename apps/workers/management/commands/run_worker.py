import os

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import parse_memory
from apps.workers.http import JsonClient, auth_headers
from apps.workers.mitosis_worker import MitosisWorker, WorkerError
from apps.workers.torc_worker import TorcWorker


class Command(BaseCommand):
    requires_system_checks = []  # a worker host only talks HTTP; it has no database to check
    help = ("Run jobs on this host over HTTP. Torc mode (--workflow ID): claim a workflow's jobs by free "
            "resources, run them, report, exit when the workflow is complete; credentials DROVER_API_KEY, "
            "DROVER_TOKEN, or DROVER_USERNAME/DROVER_PASSWORD. Mitosis mode (default without --workflow): "
            "register as Mitosis worker(s) for --group/--tag/--label, fetch tasks, run them, upload their "
            "output, commit; stop when the coordinator removes the worker or on SIGTERM (the task goes back "
            "to ready); credentials --token or --username/--password (or DROVER_TOKEN, DROVER_USERNAME, "
            "DROVER_PASSWORD). On SIGTERM both modes put unfinished work back.")

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Drover's base URL, e.g. http://127.0.0.1:8000")
        parser.add_argument("--dialect", choices=["torc", "mitosis"], default=None,
                            help="default: torc with --workflow, mitosis otherwise")
        parser.add_argument("--poll", type=float, default=None,
                            help="seconds between claims/fetches when idle (Torc 1, Mitosis 10)")
        parser.add_argument("--heartbeat", type=float, default=None,
                            help="seconds between heartbeats (Torc 30, Mitosis 300 as the real worker)")
        torc = parser.add_argument_group("Torc mode")
        torc.add_argument("--workflow", type=int, help="Torc workflow id")
        torc.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
        torc.add_argument("--memory", default="8g", help="memory for jobs, Torc style: 512m, 8g")
        torc.add_argument("--gpus", type=int, default=0)
        torc.add_argument("--max-idle", type=float, default=None,
                          help="leave after this many seconds without a job to run")
        torc.add_argument("--once", action="store_true", help="claim once, run what was claimed, exit")
        mitosis = parser.add_argument_group("Mitosis mode")
        mitosis.add_argument("--token", default=os.environ.get("DROVER_TOKEN"), help="a user token (from /login)")
        mitosis.add_argument("--username", default=os.environ.get("DROVER_USERNAME"))
        mitosis.add_argument("--password", default=os.environ.get("DROVER_PASSWORD"))
        mitosis.add_argument("--group", action="append", default=[], dest="groups",
                             help='a group to serve, "name" (Write) or "name:Admin"; repeat for more')
        mitosis.add_argument("--tag", action="append", default=[], dest="tags", help="repeat for more")
        mitosis.add_argument("--label", action="append", default=[], dest="labels", help="repeat for more")
        mitosis.add_argument("--concurrency", type=int, default=1,
                             help="tasks run at once: this many Mitosis workers are registered")
        mitosis.add_argument("--lifetime", default=None, help='worker token lifetime, e.g. "7days"')
        mitosis.add_argument("--work-dir", default=None, help="cache for task files (default: a temp dir)")

    def handle(self, *args, url, dialect, workflow, poll, heartbeat, **options):
        dialect = dialect or ("torc" if workflow is not None else "mitosis")
        if dialect == "torc":
            if workflow is None:
                raise CommandError("Torc mode needs --workflow ID")
            return self.torc(url, workflow, poll=1.0 if poll is None else poll,
                             heartbeat=30.0 if heartbeat is None else heartbeat, **options)
        return self.mitosis(url, poll=10.0 if poll is None else poll,
                            heartbeat=300.0 if heartbeat is None else heartbeat, **options)

    def mitosis(self, url, *, poll, heartbeat, token, username, password, groups, tags, labels, concurrency,
                lifetime, work_dir, **options):
        if not token and not (username and password):
            raise CommandError("No credentials: give --token (a user token from POST /login) or --username and "
                               "--password (or set DROVER_TOKEN, or DROVER_USERNAME and DROVER_PASSWORD).")
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        try:
            JsonClient(url, {})
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        worker = MitosisWorker(url=url, token=token, username=username, password=password, tags=tags,
                               labels=labels, groups=groups, concurrency=concurrency, heartbeat_every=heartbeat,
                               poll=poll, lifetime=lifetime, work_dir=work_dir,
                               out=lambda line: self.stdout.write(line))
        try:
            worker.run()
        except WorkerError as exc:
            raise CommandError(str(exc)) from None

    def torc(self, url, workflow, *, poll, heartbeat, cpus, memory, gpus, max_idle, once, **options):
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
