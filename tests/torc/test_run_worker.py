"""`manage.py run_worker` as a real subprocess against a live Drover: it runs a DAG with real
commands, reports exit codes and output, cancels downstream of a failure, and on SIGTERM puts
its unfinished job back."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.groups import services as groups
from apps.jobs.models import Job, Result
from apps.jobs.states import Status
from apps.workers.models import ComputeNode
from apps.workflows.spec import workflow_from_spec

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def worker(live_server, alice, workflow_id, *extra):
    _, key = groups.api_key_create(user=alice)
    env = {**os.environ, "DROVER_API_KEY": key, "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--url", live_server.url, "--workflow", str(workflow_id),
         "--cpus", "2", "--memory", "2g", "--poll", "0.1", *extra],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def statuses(wf):
    return {name: Status(s).label for name, s in Job.objects.filter(workflow=wf).values_list("name", "status")}


def test_worker_runs_a_dag_with_real_commands(live_server, alice, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    wf, ids = workflow_from_spec(owner=alice, spec={
        "name": "dag",
        "jobs": [
            {"name": "a", "command": f"echo A > {out}/a && echo to-stdout"},
            {"name": "b", "command": f"cat {out}/a > {out}/b", "depends_on": ["a"]},
            {"name": "c", "command": f"echo C > {out}/c", "depends_on": ["a"]},
            {"name": "d", "command": f"cat {out}/b {out}/c > {out}/d", "depends_on": ["b", "c"]},
            {"name": "bad", "command": "echo oops >&2; exit 3"},
            {"name": "after_bad", "command": f"touch {out}/never", "depends_on": ["bad"]},
        ],
    })
    from apps.jobs.services import initialize_workflow

    initialize_workflow(workflow=wf)
    proc = worker(live_server, alice, wf.pk)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert statuses(wf) == {"a": "completed", "b": "completed", "c": "completed", "d": "completed",
                            "bad": "failed", "after_bad": "canceled"}
    assert (out / "d").read_text() == "A\nC\n"
    assert not (out / "never").exists()
    results = {r.job.name: r for r in Result.objects.filter(workflow=wf).select_related("job")}
    assert results["a"].stdout == "to-stdout\n" and results["a"].return_code == 0
    assert results["bad"].return_code == 3 and results["bad"].stderr == "oops\n"
    assert set(results) == {"a", "b", "c", "d", "bad"}
    node = ComputeNode.objects.get(workflow=wf)
    assert not node.is_active and node.num_cpus == 2
    assert "worker: done, 4 completed, 1 failed" in output


def test_worker_gives_its_job_back_on_sigterm(live_server, alice):
    wf, ids = workflow_from_spec(owner=alice, spec={"name": "slow", "jobs": [{"name": "s", "command": "sleep 60"}]})
    from apps.jobs.services import initialize_workflow

    initialize_workflow(workflow=wf)
    proc = worker(live_server, alice, wf.pk)
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=ids["s"]).status != Status.RUNNING:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.poll() else "slow"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    job = Job.objects.get(pk=ids["s"])
    assert (job.status, job.claimed_by, job.exit_code) == (Status.READY, "", None)
    assert not Result.objects.filter(job=job).exists()
    assert not ComputeNode.objects.get(workflow=wf).is_active


def test_worker_without_credentials_says_what_to_do():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROVER_")}
    out = subprocess.run([sys.executable, "manage.py", "run_worker", "--url", "http://127.0.0.1:9", "--workflow", "1"],
                         cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "create_api_key" in out.stderr


def test_short_jobs_are_reported_in_batches_without_start_job(live_server, alice):
    """Jobs done within START_AFTER go pending -> completed and their results travel together in
    batch_complete_jobs requests; a job running longer is marked running while it runs."""
    from apps.jobs.services import initialize_workflow
    from apps.workflows.models import Event

    spec = {"name": "many", "jobs": [{"name": f"q{i}", "command": "true"} for i in range(12)]
            + [{"name": "long", "command": "sleep 2.5"}]}
    wf, ids = workflow_from_spec(owner=alice, spec=spec)
    initialize_workflow(workflow=wf)
    proc = worker(live_server, alice, wf.pk, "--cpus", "4")
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=ids["long"]).status != Status.RUNNING:  # announced after START_AFTER
        assert time.monotonic() < deadline and proc.poll() is None, "long never marked running"
        time.sleep(0.05)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert set(statuses(wf).values()) == {"completed"}
    assert Result.objects.filter(workflow=wf).count() == 13
    started = {e.data["job_id"] for e in Event.objects.filter(workflow=wf, category="job_running")}
    assert started == {ids["long"]}  # the quick ones were never announced
    batches = list(Event.objects.filter(workflow=wf, category="jobs_completed").values_list("data", flat=True))
    assert sum(len(b["job_ids"]) for b in batches) == 13
    assert len(batches) < 13  # results travelled together
