"""torc-client 0.35.0 from PyPI, unchanged, against a live Drover: the calls a Torc runner makes.

Authentication goes in ApiClient's default header (torc-client itself sends none)."""

import base64
import datetime as dt

import pytest
from torc.api import DefaultApi
from torc.openapi_client import ApiClient, Configuration
from torc.openapi_client.exceptions import ApiException
from torc.openapi_client.models.compute_node_model import ComputeNodeModel
from torc.openapi_client.models.compute_nodes_resources import ComputeNodesResources
from torc.openapi_client.models.job_model import JobModel
from torc.openapi_client.models.jobs_model import JobsModel
from torc.openapi_client.models.resource_requirements_model import ResourceRequirementsModel
from torc.openapi_client.models.result_model import ResultModel
from torc.openapi_client.models.workflow_model import WorkflowModel

from apps.jobs.models import Job, Result

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, make_user):
    make_user("alice", "pw-alice")
    cfg = Configuration(host=f"{live_server.url}/torc-service/v1")
    token = base64.b64encode(b"alice:pw-alice").decode()
    return DefaultApi(ApiClient(cfg, header_name="Authorization", header_value=f"Basic {token}"))


def result(job, run_id, node_id, code=0, status="completed"):
    return ResultModel(job_id=job.id, workflow_id=job.workflow_id, run_id=run_id, compute_node_id=node_id,
                       return_code=code, exec_time_minutes=0.1, status=status,
                       completion_time=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def test_torc_client_runs_a_dag(api):
    wf = api.create_workflow(WorkflowModel(name="client-dag", user="alice", description="via torc-client"))
    assert wf.id and wf.name == "client-dag" and isinstance(wf.timestamp, str)
    assert api.ping().status == "ok"
    assert api.get_version().version

    small = api.create_resource_requirements(ResourceRequirementsModel(workflow_id=wf.id, name="small", num_cpus=1,
                                                                       memory="1g", runtime="PT10M"))
    big = api.create_resource_requirements(ResourceRequirementsModel(workflow_id=wf.id, name="big", num_cpus=8,
                                                                     memory="64g", runtime="PT2H"))
    first = api.create_job(JobModel(workflow_id=wf.id, name="prepare", command="echo prep",
                                    resource_requirements_id=small.id))
    created = api.create_jobs(JobsModel(jobs=[
        JobModel(workflow_id=wf.id, name=f"work{i}", command=f"echo {i}", depends_on_job_ids=[first.id],
                 resource_requirements_id=small.id)
        for i in range(5)
    ] + [JobModel(workflow_id=wf.id, name="huge", command="echo huge", resource_requirements_id=big.id)]))
    assert [j.name for j in created.jobs] == [f"work{i}" for i in range(5)] + ["huge"]
    assert all(j.status == "uninitialized" for j in created.jobs)
    api.create_job(JobModel(workflow_id=wf.id, name="collect", command="echo done",
                                   depends_on_job_ids=[j.id for j in created.jobs[:5]]))

    api.initialize_jobs(wf.id)
    page = api.list_jobs(wf.id, offset=0, limit=3)
    assert (page.count, page.total_count, page.has_more, page.max_limit) == (3, 8, True, 10000)
    rest = api.list_jobs(wf.id, offset=3, limit=10)
    assert (rest.count, rest.has_more) == (5, False)
    statuses = {j.name: j.status for j in page.items + rest.items}
    assert statuses["prepare"] == "ready" and statuses["huge"] == "ready"
    assert statuses["work0"] == "blocked" and statuses["collect"] == "blocked"

    run_id = api.get_workflow(wf.id).run_id
    assert run_id == 0
    status = api.get_workflow_status(wf.id)
    assert status.jobs_by_status.ready == 2 and status.jobs_by_status.blocked == 6 and not status.is_complete

    node = api.create_compute_node(ComputeNodeModel(
        workflow_id=wf.id, hostname="node-1", pid=4242, start_time="2025-01-01T00:00:00Z", num_cpus=4,
        memory_gb=16.0, num_gpus=0, num_nodes=1, compute_node_type="local", is_active=True))

    # A 4-cpu/16 GB node cannot take "huge" (8 cpus, 64 GB): only "prepare" fits.
    resources = ComputeNodesResources(id=node.id, num_cpus=4, memory_gb=16.0, num_gpus=0, num_nodes=1)
    claimed = api.claim_jobs_based_on_resources(wf.id, 4, resources).jobs
    assert [j.name for j in claimed] == ["prepare"] and claimed[0].status == "pending"

    started = api.start_job(claimed[0].id, run_id, node.id)
    assert started.status == "running"
    done = api.complete_job(claimed[0].id, "completed", run_id, result(claimed[0], run_id, node.id))
    assert done.status == "completed"

    # The five workers are released at once; claim them in two batches by count.
    batch = api.claim_next_jobs(wf.id, limit=3).jobs
    batch += api.claim_next_jobs(wf.id, limit=10).jobs
    names = sorted(j.name for j in batch)
    assert names == sorted([f"work{i}" for i in range(5)] + ["huge"])
    for job in batch:
        api.start_job(job.id, run_id, node.id)
        code = 1 if job.name == "huge" else 0
        api.complete_job(job.id, "failed" if code else "completed", run_id,
                         result(job, run_id, node.id, code, "failed" if code else "completed"))

    final = api.claim_next_jobs(wf.id, limit=5).jobs
    assert [j.name for j in final] == ["collect"]
    api.start_job(final[0].id, run_id, node.id)
    api.complete_job(final[0].id, "completed", run_id, result(final[0], run_id, node.id))
    complete = api.is_workflow_complete(wf.id)
    assert complete.is_complete and not complete.is_canceled
    assert Result.objects.filter(workflow_id=wf.id).count() == 8
    assert set(Job.objects.filter(workflow_id=wf.id).values_list("status", flat=True)) == {5, 6}

    # Errors arrive as ApiException with Torc's error body.
    with pytest.raises(ApiException) as caught:
        api.complete_job(final[0].id, "completed", run_id, result(final[0], run_id, node.id))
    assert caught.value.status == 422 and "already complete" in caught.value.body
    with pytest.raises(ApiException) as caught:
        api.start_job(final[0].id, run_id + 7, node.id)
    assert caught.value.status == 422 and "run_id" in caught.value.body


def test_torc_client_sees_only_its_users_workflows(api, live_server, make_user):
    make_user("mallory", "pw-m")
    cfg = Configuration(host=f"{live_server.url}/torc-service/v1")
    other = DefaultApi(ApiClient(cfg, header_name="Authorization",
                                 header_value="Basic " + base64.b64encode(b"mallory:pw-m").decode()))
    wf = api.create_workflow(WorkflowModel(name="private", user="alice"))
    assert other.list_workflows().total_count == 0
    with pytest.raises(ApiException) as caught:
        other.get_workflow(wf.id)
    assert caught.value.status == 404
    anonymous = DefaultApi(ApiClient(cfg))
    with pytest.raises(ApiException) as caught:
        anonymous.list_workflows()
    assert caught.value.status == 401
