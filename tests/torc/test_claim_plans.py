"""PostgreSQL: a claim walks the workflow's ready index in claim order and stops at its limit,
also right after a large initialization, when autovacuum has not yet seen the ready jobs.
With statistics that still counted no ready job, the planner read another partial index and
sorted every ready job of the workflow on each claim (20 ms a claim at 20,000 ready jobs)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.services import workflow_ops
from apps.jobs.states import Status
from apps.workflows.services import workflow_create

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL plans")]
N = 1200


def initialized_workflow(owner, name: str) -> int:
    workflow = workflow_create(owner=owner, name=name)
    jobs.jobs_create(workflow=workflow, owner=owner, items=[{"name": f"{name}{i}", "command": "true"}
                                                            for i in range(N)])
    workflow.refresh_from_db()
    assert jobs.initialize_workflow(workflow=workflow)["ready"] == N
    return workflow.pk


def claim_plans(workflow_id: int) -> list[str]:
    """EXPLAIN of the statements that read candidates for a claim by resources."""
    node = jobs.NodeResources(num_cpus=8, memory_bytes=8 * 1024**3, num_gpus=0, num_nodes=1)
    with CaptureQueriesContext(connection) as queries:
        claimed = jobs.claim_by_resources(workflow_id=workflow_id, node=node, limit=8, claimer="t", sort_method="none")
    assert len(claimed) == 8
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            if query["sql"].startswith("WITH fit"):
                cursor.execute("EXPLAIN " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


@pytest.fixture
def stale_statistics(alice, monkeypatch):
    """The last ANALYZE saw a table without a single ready job; initialization refreshes
    statistics before placing jobs, as it does for workflows of ANALYZE_AFTER jobs or more."""
    monkeypatch.setattr(workflow_ops, "ANALYZE_AFTER", N // 2)
    done = initialized_workflow(alice, "done")
    Job.objects.filter(workflow_id=done).update(status=Status.COMPLETED)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Job._meta.db_table}")


def ready_estimate(workflow_id: int) -> float:
    """The planner's row estimate for the workflow's ready jobs."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT id FROM drover_job WHERE workflow_id = %s AND status = %s",
                       [workflow_id, int(Status.READY)])
        return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]


def test_a_claim_after_a_large_initialization_reads_the_ready_index_in_order(alice, stale_statistics):
    workflow_id = initialized_workflow(alice, "fresh")
    assert ready_estimate(workflow_id) >= N / 2
    plans = claim_plans(workflow_id)
    assert len(plans) == 1
    assert "job_ready_by_workflow" in plans[0] and "Sort" not in plans[0], plans[0]


def test_without_the_refresh_the_planner_expects_no_ready_job(alice, stale_statistics, monkeypatch):
    """What the refresh after placing prevents (and that the test above can fail): at 20,000
    jobs, this estimate made the claim sort them all."""
    monkeypatch.setattr(workflow_ops, "ANALYZE_AFTER_PLACING", 10 * N)
    assert ready_estimate(initialized_workflow(alice, "fresh")) < N / 10
