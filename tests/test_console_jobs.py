"""The console's job actions go through the services (and so through the transition table)."""

import pytest

from apps.jobs import services
from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.jobs.tests.factories import jobs, workflow

pytestmark = pytest.mark.django_db


def test_console_cancel_uses_the_transition_table(client, root, alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {"after": ["a"]}, "done": {}})
    services.initialize_workflow(workflow=wf)
    services.transition(job_id=ids["done"], target=Status.RUNNING)
    services.complete_job(job_id=ids["done"], status=Status.COMPLETED, return_code=0)
    client.login(username="root", password="pw-root")
    response = client.post("/console/jobs/job/", {"action": "cancel", "_selected_action": list(ids.values())},
                           follow=True)
    assert response.status_code == 200
    by_name = dict(Job.objects.filter(workflow=wf).values_list("name", "status"))
    assert by_name == {"a": Status.CANCELED, "b": Status.CANCELED, "done": Status.COMPLETED}
    messages = [str(m) for m in response.context["messages"]]
    assert "Canceled 2 job(s)." in messages
    assert any("cannot change from completed to canceled" in m for m in messages)


@pytest.mark.parametrize("path", ["jobs/job", "jobs/result", "jobs/jobdependency", "workflows/workflow",
                                  "workflows/event", "workers/computenode", "files/file", "files/userdata"])
def test_console_lists_load(client, root, alice, path):
    wf = workflow(alice)
    jobs(wf, alice, {"a": {}})
    client.login(username="root", password="pw-root")
    assert client.get(f"/console/{path}/").status_code == 200
