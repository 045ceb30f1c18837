"""Run by tests/torc/test_torc_client_08.py in a venv with torc-client==0.8.0 (one DefaultApi):
argv = base URL, username, password. Prints OK at the end; any failure raises."""

import base64
import sys

from torc.openapi_client import ApiClient, Configuration, DefaultApi
from torc.openapi_client.models.compute_node_model import ComputeNodeModel
from torc.openapi_client.models.compute_nodes_resources import ComputeNodesResources
from torc.openapi_client.models.job_model import JobModel
from torc.openapi_client.models.jobs_model import JobsModel
from torc.openapi_client.models.result_model import ResultModel
from torc.openapi_client.models.workflow_model import WorkflowModel

url, user, password = sys.argv[1:4]
cfg = Configuration(host=f"{url}/torc-service/v1")
api = DefaultApi(ApiClient(cfg, header_name="Authorization",
                           header_value="Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()))

wf = api.create_workflow(WorkflowModel(name="w08", user=user))
assert wf.id and isinstance(wf.timestamp, str), wf
first = api.create_job(JobModel(workflow_id=wf.id, name="first", command="echo 1"))
rest = api.create_jobs(JobsModel(jobs=[JobModel(workflow_id=wf.id, name=f"n{i}", command="echo n",
                                                depends_on_job_ids=[first.id]) for i in range(3)])).jobs
assert len(rest) == 3 and all(j.status == "uninitialized" for j in rest)
api.initialize_jobs(wf.id)
page = api.list_jobs(wf.id, offset=0, limit=2)
assert (page.count, page.total_count, page.has_more) == (2, 4, True), page
status = api.get_workflow_status(wf.id)
assert status.run_id == 0 and status.is_canceled is False, status
node = api.create_compute_node(ComputeNodeModel(workflow_id=wf.id, hostname="h", pid=1, start_time="2025-01-01T00:00:00Z",
                                                num_cpus=4, memory_gb=8.0, num_gpus=0, num_nodes=1,
                                                compute_node_type="local", is_active=True))
claimed = api.claim_jobs_based_on_resources(wf.id, 4, ComputeNodesResources(num_cpus=4, memory_gb=8.0, num_gpus=0,
                                                                             num_nodes=1)).jobs
assert [j.name for j in claimed] == ["first"], claimed


def finish(job):
    api.start_job(job.id, status.run_id, node.id)
    api.complete_job(job.id, "completed", status.run_id, ResultModel(
        job_id=job.id, workflow_id=wf.id, run_id=status.run_id, compute_node_id=node.id, return_code=0,
        exec_time_minutes=0.01, completion_time="2025-01-01T00:00:01.000Z", status="completed"))


finish(claimed[0])
batch = api.claim_next_jobs(wf.id, limit=10).jobs
assert sorted(j.name for j in batch) == ["n0", "n1", "n2"], batch
for job in batch:
    finish(job)
done = api.is_workflow_complete(wf.id)
assert done.is_complete and not done.needs_to_run_completion_script, done
print("OK")
