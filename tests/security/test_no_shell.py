"""Commands, args and env of jobs are run only by workers, never by the server's request code,
and never through a shell unless the job asks for one (issue 7, hardening).

- Statically: process-starting calls appear in one module, apps/workers/runner.py, never with
  shell=True; the runner is imported only by the two run_worker modes and the built-in Celery
  pool, and the pool only by its Celery tasks.
- At run time: a Mitosis task's args reach the program as they are (shell syntax in them is
  text), through the runner and through a real `manage.py run_worker`. A Torc command is a shell
  line by Torc's definition (its runner runs `bash -c "<invocation_script> <command>"`), so
  Drover runs it the same way. The server's periodic tasks run no job, except a job its owner
  routed to the built-in pool (queue "celery"), which runs wherever Celery runs its tasks.
"""

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.workers import runner
from conftest import basic_header, md5_list

BASE_DIR = Path(__file__).resolve().parents[2]
SOURCES = [p for top in ("apps", "config") for p in sorted((BASE_DIR / top).rglob("*.py"))
           if "tests" not in p.relative_to(BASE_DIR).parts]

# SECTION static


SPAWNING_MODULES = {"subprocess", "pty", "popen2", "commands"}
SPAWNING_OS = ("system", "popen", "exec", "spawn", "posix_spawn", "fork", "forkpty")
SPAWNING_ASYNCIO = ("create_subprocess_exec", "create_subprocess_shell")
RUNTIME_MODULES = {"apps/workers/runner.py"}  # starts every job's process, in workers only


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BASE_DIR).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, tree: ast.AST) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved; `from x import y`
    counts both x and x.y, since y may be a module)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
    return found


def spawning_uses(tree: ast.AST) -> list[str]:
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            uses += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in SPAWNING_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in SPAWNING_MODULES:
                uses.append(f"from {node.module} import ...")
            elif node.module == "os":
                uses += [f"from os import {a.name}" for a in node.names if a.name.startswith(SPAWNING_OS)]
            elif node.module == "asyncio":
                uses += [f"from asyncio import {a.name}" for a in node.names if a.name in SPAWNING_ASYNCIO]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "os" and node.attr.startswith(SPAWNING_OS):
                uses.append(f"os.{node.attr}")
            elif node.value.id == "asyncio" and node.attr in SPAWNING_ASYNCIO:
                uses.append(f"asyncio.{node.attr}")
    return uses


def shell_true_calls(tree: ast.AST) -> list[int]:
    """Lines of calls passing shell= anything but a literal False."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                                                   and kw.value.value is False)]


def parsed():
    for path in SOURCES:
        yield path, ast.parse(path.read_text(), filename=str(path))


def test_the_scan_sees_the_code():
    assert len(SOURCES) > 100 and BASE_DIR / "apps/workers/runner.py" in SOURCES
    assert not any("tests" in p.relative_to(BASE_DIR).parts for p in SOURCES)


def test_processes_are_started_only_by_the_worker_runtime():
    found = {str(path.relative_to(BASE_DIR)): uses for path, tree in parsed() if (uses := spawning_uses(tree))}
    assert set(found) == RUNTIME_MODULES, found


def test_no_call_asks_for_a_shell():
    found = {str(path.relative_to(BASE_DIR)): lines for path, tree in parsed() if (lines := shell_true_calls(tree))}
    assert found == {}


def importers(module: str) -> set[str]:
    return {module_name(path) for path, tree in parsed() if module in imported_modules(path, tree)}


def test_the_runner_is_reached_only_from_workers_and_the_pool():
    assert importers("apps.workers.runner") == {"apps.workers.torc_worker", "apps.workers.mitosis_worker",
                                                "apps.workers.pool"}
    assert importers("apps.workers.torc_worker") == importers("apps.workers.mitosis_worker") == {
        "apps.workers.management.commands.run_worker"}
    assert importers("apps.workers.pool") == {"apps.jobs.tasks"}  # Celery tasks, not request code


# SECTION the runner


METACHARACTERS = ["$(touch {m}/dollar)", "`touch {m}/backtick`", "; touch {m}/semicolon", "| touch {m}/pipe",
                  "&& touch {m}/and", "> {m}/redirect", "$HOME", "*", "'quoted'", '"double"', "a\\b", "~"]


def test_mitosis_args_reach_the_program_as_they_are(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    args = [a.format(m=marks) for a in METACHARACTERS]
    outcome = runner.run(job_id=0, argv=["printf", "%s\\n", *args], cwd=str(tmp_path), timeout_s=30)
    assert outcome.return_code == 0, outcome.stderr
    assert outcome.stdout == "".join(f"{a}\n" for a in args)
    assert list(marks.iterdir()) == []


def test_a_mitosis_program_name_is_not_a_shell_line(tmp_path):
    with pytest.raises(FileNotFoundError):
        runner.spawn(job_id=0, argv=[f"true; touch {tmp_path}/ran"], cwd=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_torc_commands_run_through_bash_as_torcs_runner_runs_them(tmp_path):
    outcome = runner.run(job_id=0, command="echo $((6 * 7)) | tr 4 x", cwd=str(tmp_path), timeout_s=30)
    assert (outcome.return_code, outcome.stdout) == (0, "x2\n")
    outcome = runner.run(job_id=0, command="printenv GREETING", invocation_script="env GREETING=hello",
                         cwd=str(tmp_path), timeout_s=30)
    assert (outcome.return_code, outcome.stdout) == (0, "hello\n")


SECRETS = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY", "DROVER_PASSWORD", "DROVER_TOKEN",
           "DROVER_API_KEY", "DROVER_JWT_SIGNING_KEY", "GITHUB_TOKEN", "MY_DB_PASSWORD")


def test_a_job_does_not_see_the_secrets_of_the_process_that_runs_it(tmp_path, monkeypatch):
    for name in SECRETS:
        monkeypatch.setenv(name, f"secret-{name.lower()}")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")  # what a worker on a cluster passes on: the job may need it
    outcome = runner.run(job_id=0, argv=["env"], env={"JOB_OWN": "kept"}, cwd=str(tmp_path), timeout_s=30)
    assert "JOB_OWN=kept" in outcome.stdout and "SLURM_JOB_ID=4242" in outcome.stdout
    assert "secret-" not in outcome.stdout


def test_a_pool_job_inherits_only_the_basics(tmp_path, monkeypatch):
    """The pool runs in a Celery worker next to the server: its environment is the server's."""
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SENTRY_DSN", "https://key@sentry.example/1")
    outcome = runner.run(job_id=0, argv=["env"], env={"JOB_OWN": "kept"}, cwd=str(tmp_path), timeout_s=30,
                         inherit="pool")
    names = {line.split("=", 1)[0] for line in outcome.stdout.splitlines()}
    assert "JOB_OWN" in names and "PATH" in names
    assert names - {"JOB_OWN", "PWD", "SHLVL", "_"} <= runner.POOL_INHERITS | {n for n in names if n.startswith("LC_")}


# SECTION the server


@pytest.mark.django_db
def test_the_servers_periodic_tasks_run_no_job(alice, login, tmp_path, settings, django_capture_on_commit_callbacks):
    """Every task the embedded scheduler of `manage.py serve` runs in the server process (no
    Redis): jobs for HTTP workers stay ready, and so does a job routed to the built-in pool
    ("queue": "celery"): only a Celery worker runs it."""
    from apps.core.scheduler import EmbeddedScheduler

    from django.utils.module_loading import autodiscover_modules

    from config.celery import app

    torc = APIClient()
    torc.credentials(HTTP_AUTHORIZATION=basic_header("alice", "pw-alice"))
    for name, queue in (("http", None), ("pooled", "celery")):
        spec = {"name": name, "jobs": [{"name": "j", "command": f"touch {tmp_path}/{name}"}]}
        if queue:
            spec["queue"] = queue
        workflow = torc.post("/torc-service/v1/workflow_specifications", spec, format="json").json()["id"]
        assert torc.post(f"/torc-service/v1/workflows/{workflow}/initialize_jobs", {}, format="json").status_code == 200
    mitosis = login("alice", "pw-alice")
    task = {"group_name": "alice", "tags": [], "labels": [], "timeout": "10m", "priority": 0,
            "task_spec": {"args": ["touch", f"{tmp_path}/task"], "envs": {}, "resources": [],
                          "terminal_output": False, "watch": None}}
    assert mitosis.post("/tasks", task, format="json").status_code == 200

    autodiscover_modules("tasks")
    with django_capture_on_commit_callbacks(execute=True):
        for _, task_name, _, args, kwargs in EmbeddedScheduler(settings.CELERY_BEAT_SCHEDULE).entries:
            app.tasks[task_name].apply(args=args, kwargs=kwargs, throw=True)
    assert list(tmp_path.iterdir()) == []
    assert Job.objects.get(workflow__name="http").status == Status.READY
    assert Job.objects.get(workflow__isnull=True).status == Status.READY
    assert Job.objects.get(workflow__name="pooled").status == Status.READY  # waits for a Celery worker


# SECTION a real Mitosis worker


def start_worker(live_server, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DROVER_USERNAME": "alice",
           "DROVER_PASSWORD": "pw-alice"}
    with open(tmp_path / "worker.log", "w") as log:
        return subprocess.Popen([sys.executable, "manage.py", "run_worker", "--url", live_server.url, "--poll", "0.1",
                                 "--heartbeat", "0.5", "--work-dir", str(tmp_path / "work")], cwd=BASE_DIR, env=env,
                                stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_worker_passes_mitosis_args_and_envs_as_data(live_server, alice, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    literal = marks / "literal $(id) `id` ; | & * $HOME"
    out = tmp_path / "inject.txt"
    specs = [
        ["true", *[a.format(m=marks) for a in METACHARACTERS]],
        ["touch", str(literal)],
        # a shell the task asks for itself: env values are still data inside it
        ["sh", "-c", 'printf %s "$INJECT" > "$OUT"'],
    ]
    api = APIClient()
    token = api.post("/login", {"username": "alice", "md5_password": md5_list("pw-alice")}, format="json").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token['token']}")
    tasks = [{"group_name": "alice", "tags": [], "labels": [], "timeout": "1m", "priority": 0,
              "task_spec": {"args": args, "envs": {"INJECT": f"$(touch {marks}/env)", "OUT": str(out)},
                            "resources": [], "terminal_output": False, "watch": None}} for args in specs]
    results = api.post("/tasks/submit", {"tasks": tasks}, format="json").json()["results"]
    uuids = [r["Ok"]["uuid"] for r in results]

    worker = start_worker(live_server, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while Job.objects.filter(uuid__in=uuids, status=Status.COMPLETED).count() < len(uuids):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert sorted(p.name for p in marks.iterdir()) == [literal.name]
    assert out.read_text() == f"$(touch {marks}/env)"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "FILE:/etc/hostname"])
def test_a_worker_opens_only_web_urls_for_resources_and_uploads(tmp_path, url):
    """Storage URLs come from the coordinator; urllib would also open file:// and ftp://."""
    import urllib.error

    from apps.workers import http

    with pytest.raises(urllib.error.URLError, match="not an http"):
        http.download(url, str(tmp_path / "got"))
    (tmp_path / "up").write_bytes(b"x")
    with pytest.raises(urllib.error.URLError, match="not an http"):
        http.upload(url, str(tmp_path / "up"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["up"]
