"""GET /workers/tasks with no task for the worker: the seed's 204 by default, or the real
coordinator's 200 `null` (DROVER_MITOSIS_IDLE_FETCH=null, or X-Mitosis-Idle per request), which an
unchanged `mito worker` needs: it reads an empty 204 body as a broken answer and stops."""

import time

import pytest

from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.workers.models import Worker

from .test_tasks import register, submit
from .test_worker_runtime import client, output, start, stop, task, wait_for
from .test_worker_runtime import job as task_job
from .test_worker_runtime import submit as runtime_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker(alice, login):
    return register(login("alice", "pw-alice"))


def test_idle_is_204_with_no_body_by_default(worker):
    response = worker.get("/workers/tasks")
    assert (response.status_code, response.content) == (204, b"")


def test_idle_is_200_null_when_the_setting_says_so(worker, settings):
    settings.DROVER_MITOSIS_IDLE_FETCH = "null"
    response = worker.get("/workers/tasks")
    assert (response.status_code, response.content, response["Content-Type"]) == (200, b"null", "application/json")


@pytest.mark.parametrize(("setting", "header", "expected"), [("204", "null", (200, b"null")),
                                                             ("null", "204", (204, b""))])
def test_the_header_decides_for_one_request(worker, settings, setting, header, expected):
    settings.DROVER_MITOSIS_IDLE_FETCH = setting
    response = worker.get("/workers/tasks", HTTP_X_MITOSIS_IDLE=header)
    assert (response.status_code, response.content) == expected


def test_a_task_is_a_task_whatever_the_idle_form(alice, login, worker, settings):
    settings.DROVER_MITOSIS_IDLE_FETCH = "null"
    uuid = submit(login("alice", "pw-alice"))
    response = worker.get("/workers/tasks")
    assert response.status_code == 200 and response.json()["uuid"] == uuid
    assert Job.objects.get(uuid=uuid).status == Status.RUNNING


def test_a_bad_idle_form_is_refused_before_anything_is_claimed(alice, login, worker):
    uuid = submit(login("alice", "pw-alice"))
    response = worker.get("/workers/tasks", HTTP_X_MITOSIS_IDLE="never")
    assert response.status_code == 400 and response.json()["msg"].startswith("X-Mitosis-Idle:")
    assert Job.objects.get(uuid=uuid).status == Status.READY


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_drovers_own_worker_reads_either_form(live_server, alice, tmp_path, settings):
    settings.DROVER_MITOSIS_IDLE_FETCH = "null"
    proc = start(live_server, tmp_path, "alice")
    try:
        wait_for(Worker.objects.exists, proc, what="the worker to register")
        time.sleep(0.5)  # idle polls every 0.1 s, each answered 200 null
        [uuid] = runtime_submit(client("alice"), task("alice", ["true"]))
        wait_for(lambda: task_job(uuid).status == Status.COMPLETED, proc, what="the task to finish")
    finally:
        assert stop(proc) == 0, output(proc)
