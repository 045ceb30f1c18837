"""`manage.py run_worker` in Mitosis mode as real subprocesses against a live Drover: 200 tasks
over two workers with group and tag routing, a SIGKILLed worker's task re-run elsewhere, SIGTERM
giving the task back, the exec timeout, missing resources and programs, graceful shutdown learned
from a 401, resources downloaded and results uploaded, std-log upload, exec states on Redis."""

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from apps.groups import services as groups
from apps.jobs.models import Job, Result
from apps.jobs.states import Status
from apps.storage.backends import object_storage
from apps.storage.models import Artifact, artifact_object_name
from apps.workers.mitosis import expire_workers
from apps.workers.models import Worker
from conftest import md5_list

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def start(live_server, tmp_path, username, *args, name="worker", heartbeat="0.5"):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DROVER_USERNAME": username,
           "DROVER_PASSWORD": f"pw-{username}"}
    # a file: a pipe nobody reads would block a chatty worker (the child keeps its own descriptor)
    with open(tmp_path / f"{name}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "manage.py", "run_worker", "--url", live_server.url, "--poll",
                                 "0.1", "--heartbeat", heartbeat, *args], cwd=BASE_DIR, env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    proc.log_path = tmp_path / f"{name}.log"
    return proc


def output(proc) -> str:
    return proc.log_path.read_text()


def wait_for(condition, proc=None, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}) while waiting for {what}:\n{output(proc)}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stop(proc, sig=signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=30)


def client(username):
    api = APIClient()
    token = api.post("/login", {"username": username, "md5_password": md5_list(f"pw-{username}"), "retain": True},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def task(group, args, *, tags=(), timeout="10m", **spec):
    return {"group_name": group, "tags": list(tags), "labels": [], "timeout": timeout, "priority": 0,
            "task_spec": {"args": list(args), "envs": spec.pop("envs", {}), "resources": spec.pop("resources", []),
                          "terminal_output": spec.pop("terminal_output", False), "watch": None}}


def submit(api, *tasks) -> list[str]:
    results = api.post("/tasks/submit", {"tasks": list(tasks)}, format="json").json()["results"]
    assert all("Ok" in r for r in results), results
    return [r["Ok"]["uuid"] for r in results]


def job(uuid) -> Job:
    return Job.objects.get(uuid=uuid)


def test_two_workers_run_200_tasks_where_groups_and_tags_allow(live_server, alice, bob, tmp_path):
    groups.group_create(creator=alice, name="lab")
    groups.group_set_roles(actor=alice, group_name="lab", relations={"bob": "Write"})
    a, b = client("alice"), client("bob")
    gpu_box = start(live_server, tmp_path, "alice", "--group", "lab", "--tag", "gpu", "--concurrency", "2",
                    name="gpu", heartbeat="2")
    plain = start(live_server, tmp_path, "bob", "--group", "lab", name="plain", heartbeat="2")
    wait_for(lambda: Worker.objects.count() == 3, gpu_box, what="3 registered workers")
    gpu_uuids = {str(u) for u in Worker.objects.filter(creator=alice).values_list("uuid", flat=True)}
    plain_uuid = str(Worker.objects.get(creator=bob).uuid)

    ok = ["sh", "-c", 'test -d "$MITO_RESULT_DIR" && test -n "$MITO_TASK_UUID"']
    personal = submit(a, *[task("alice", ok) for _ in range(60)])  # only alice's worker serves "alice"
    tagged = submit(a, *[task("lab", ok, tags=["gpu"]) for _ in range(60)])  # needs the gpu tag
    failing = submit(b, *[task("lab", ["sh", "-c", "exit 3"]) for _ in range(5)])
    anywhere = submit(b, *[task("lab", ok) for _ in range(75)])
    every = personal + tagged + failing + anywhere
    assert len(every) == 200

    done = lambda: Job.objects.filter(uuid__in=every, status__in=[Status.COMPLETED, Status.FAILED]).count() == 200
    wait_for(done, gpu_box, timeout=90, what="200 finished tasks")
    assert stop(gpu_box) == 0 and stop(plain) == 0, output(gpu_box) + output(plain)

    rows = {str(j.uuid): j for j in Job.objects.filter(uuid__in=every)}
    reporter = {u: rows[u].spec["reporter_uuid"] for u in every}
    assert all(reporter[u] in gpu_uuids for u in personal + tagged)
    assert all(reporter[u] in gpu_uuids | {plain_uuid} for u in failing + anywhere)
    assert plain_uuid in {reporter[u] for u in failing + anywhere}, "bob's worker ran no task"
    assert all(rows[u].status == Status.COMPLETED and rows[u].spec["result"] == {"exit_status": 0, "msg": None}
               for u in personal + tagged + anywhere)
    assert all(rows[u].status == Status.FAILED and rows[u].exit_code == 3 << 8 for u in failing)  # raw wait status
    assert all(rows[u].attempt == 1 for u in every)
    per_job = Result.objects.filter(job__uuid__in=every).values_list("job_id", flat=True)
    assert len(per_job) == 200 and len(set(per_job)) == 200  # each finished exactly once
    assert not Worker.objects.exists()  # both unregistered on SIGTERM


def test_a_killed_workers_task_is_run_again_by_another(live_server, alice, tmp_path, settings):
    settings.DROVER_WORKER_TIMEOUT = 3
    marker = tmp_path / "first-run.pid"
    script = f'if [ -e {marker} ]; then echo second; else echo $$ > {marker}; exec sleep 60; fi'
    [uuid] = submit(client("alice"), task("alice", ["sh", "-c", script]))
    first = start(live_server, tmp_path, "alice", name="first")
    wait_for(lambda: job(uuid).status == Status.RUNNING and marker.exists(), first, what="the first run")
    holder = job(uuid).claimed_by
    second = start(live_server, tmp_path, "alice", name="second")
    wait_for(lambda: Worker.objects.count() == 2, second, what="the second worker")
    stop(first, signal.SIGKILL)
    try:
        # the server's periodic expiry, run here: the killed worker stops heartbeating
        wait_for(lambda: expire_workers() is not None and job(uuid).status == Status.COMPLETED, second,
                 what="the second run")
    finally:
        os.kill(int(marker.read_text()), signal.SIGKILL)  # the orphan of the killed worker
    done = job(uuid)
    assert (done.attempt, done.spec["result"]) == (2, {"exit_status": 0, "msg": None})
    assert done.spec["reporter_uuid"] != holder.removeprefix("worker:")
    assert Result.objects.filter(job=done).count() == 1
    assert stop(second) == 0


def test_sigterm_gives_the_task_back(live_server, alice, tmp_path):
    pid_file = tmp_path / "task.pid"
    [uuid] = submit(client("alice"), task("alice", ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]))
    proc = start(live_server, tmp_path, "alice")
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), proc, what="the task to start")
    assert stop(proc) == 0, output(proc)
    back = job(uuid)
    assert (back.status, back.attempt, back.claimed_by) == (Status.READY, 2, "")
    assert not Result.objects.filter(job=back).exists() and not Worker.objects.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # the task's process was stopped too


def test_timeout_missing_resources_and_programs(live_server, alice, tmp_path):
    api = client("alice")
    missing = {"remote_file": {"Attachment": {"key": "nope/in.bin"}}, "local_path": "in.bin"}
    uuids = slow, unfetchable, unknown = submit(api, task("alice", ["sleep", "30"], timeout="1s"),
                                                task("alice", ["true"], resources=[missing]),
                                                task("alice", ["no-such-program-drover"]))
    proc = start(live_server, tmp_path, "alice")
    terminal = [Status.CANCELED, Status.COMPLETED, Status.FAILED]
    wait_for(lambda: Job.objects.filter(uuid__in=uuids, status__in=terminal).count() == 3, proc,
             what="three tasks committed")
    assert stop(proc) == 0
    killed, skipped = job(slow), job(unfetchable)
    assert (killed.status, killed.spec["result"]) == (Status.CANCELED, {"exit_status": 15, "msg": "ExecTimeout"})
    assert (skipped.status, skipped.spec["result"]) == (Status.CANCELED, {"exit_status": 0, "msg": "ResourceNotFound"})
    assert (job(unknown).status, job(unknown).exit_code) == (Status.FAILED, 127 << 8)  # as /usr/bin/env would
    assert api.get(f"/tasks/{slow}").json()["info"]["state"] == "Cancelled"


def test_a_graceful_shutdown_lets_the_task_finish_then_the_worker_exits(live_server, alice, tmp_path):
    api = client("alice")
    started = tmp_path / "started"
    first, second = submit(api, task("alice", ["sh", "-c", f"touch {started}; sleep 1"]), task("alice", ["true"]))
    proc = start(live_server, tmp_path, "alice")
    wait_for(started.exists, proc, what="the first task")
    worker_uuid = Worker.objects.get().uuid
    assert api.delete(f"/workers/{worker_uuid}?op=graceful").status_code == 200
    assert proc.wait(timeout=30) == 0, output(proc)  # it learns from the 401 after its commit
    assert "removed by the coordinator" in output(proc)
    assert job(first).status == Status.COMPLETED and job(second).status == Status.READY
    assert not Worker.objects.exists()


def test_resources_are_downloaded_and_results_uploaded(live_server, alice, tmp_path):
    api = client("alice")
    answer = api.post("/groups/alice/attachments", {"key": "data/in.txt", "content_length": 6}, format="json").json()
    url = urlsplit(answer["url"])
    put = api.generic("PUT", f"{url.path}?{url.query}", b"hello\n", content_type="application/octet-stream")
    assert put.status_code == 200, put.content
    [first] = submit(api, task("alice", ["sh", "-c", 'echo fromA > "$MITO_RESULT_DIR/out.txt"']))
    proc = start(live_server, tmp_path, "alice")
    wait_for(lambda: job(first).status == Status.COMPLETED, proc, what="the first task")
    resources = [{"remote_file": {"Attachment": {"key": "data/in.txt"}}, "local_path": "in.txt"},
                 {"remote_file": {"Artifact": {"uuid": first, "content_type": "result"}},
                  "local_path": "prev/result.tar.gz"}]
    check = ('test "$(cat "$MITO_RESOURCE_DIR/in.txt")" = hello && '
             'tar -xzOf "$MITO_RESOURCE_DIR/prev/result.tar.gz" result/out.txt | grep -qx fromA')
    [second] = submit(api, task("alice", ["sh", "-c", check], resources=resources))
    wait_for(lambda: job(second).status in (Status.COMPLETED, Status.FAILED, Status.CANCELED), proc,
             what="the second task")
    assert stop(proc) == 0
    assert job(second).spec["result"] == {"exit_status": 0, "msg": None}, output(proc)
    assert list(Artifact.objects.filter(job__uuid=first).values_list("content_type", flat=True)) == ["result"]


def test_terminal_output_is_uploaded_as_std_log(live_server, alice, tmp_path):
    [uuid] = submit(client("alice"), task("alice", ["sh", "-c", "echo out; echo err >&2"], terminal_output=True))
    proc = start(live_server, tmp_path, "alice")
    wait_for(lambda: job(uuid).status == Status.COMPLETED, proc, what="the task")
    assert stop(proc) == 0
    artifact = Artifact.objects.get(job__uuid=uuid)
    assert artifact.content_type == "std-log" and artifact.size > 0
    with object_storage().open(artifact_object_name(uuid, "std-log"), "rb") as handle:
        data = handle.read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert tar.extractfile("std-log/stdout.log").read() == b"out\n"
        assert tar.extractfile("std-log/stderr.log").read() == b"err\n"


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL")
def test_exec_states_are_published_on_redis(live_server, alice, tmp_path, settings):
    import redis

    settings.DROVER_PUBLIC_REDIS_URL = REDIS_URL
    connection = redis.Redis.from_url(REDIS_URL)
    [uuid] = submit(client("alice"), task("alice", ["true"]))
    proc = start(live_server, tmp_path, "alice")
    wait_for(lambda: job(uuid).status == Status.COMPLETED, proc, what="the task")
    wait_for(lambda: connection.get(f"task:{uuid}") == b"19", proc, what="TaskCommitted on Redis")
    assert stop(proc) == 0
