"""Leases: a claim not renewed in time goes back to ready (attempt + 1) or, after the last
attempt, fails and releases its dependents; a heartbeat renews every lease the holder has."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.jobs import services
from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.jobs.tests.factories import jobs, statuses, workflow
from apps.workers import services as workers
from apps.workflows.models import Event

pytestmark = pytest.mark.django_db


def expire(job_ids):
    Job.objects.filter(pk__in=job_ids).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    return workers.expire_leases()


def test_expired_claim_goes_back_to_ready_with_next_attempt(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {}})
    services.initialize_workflow(workflow=wf)
    claimed = services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="w1", limit=2)
    assert expire([ids["a"]]) == {"requeued": 1, "failed": 0}
    a, b = Job.objects.get(pk=ids["a"]), Job.objects.get(pk=ids["b"])
    assert (a.status, a.attempt, a.claimed_by, a.lease_expires_at) == (Status.READY, 2, "", None)
    assert (b.status, b.claimed_by) == (Status.PENDING, "w1")  # its lease still runs
    assert set(claimed) == set(ids.values())
    event = Event.objects.get(category="leases_expired")
    assert event.data["job_ids"] == [ids["a"]] and event.data["requeued"] == 1


def test_last_attempt_fails_and_cancels_downstream(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {"max_attempts": 2}, "b": {"after": ["a"]}})
    services.initialize_workflow(workflow=wf)
    for expected in ({"requeued": 1, "failed": 0}, {"requeued": 0, "failed": 1, "unblocked": 0, "canceled": 1}):
        services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="w", limit=1)
        services.start_job(job_id=ids["a"])
        assert expire([ids["a"]]) == expected
    assert statuses(ids) == {"a": "failed", "b": "canceled"}
    assert Job.objects.get(pk=ids["a"]).attempt == 2


def test_heartbeat_renews_every_lease_of_the_holder(alice):
    wf = workflow(alice)
    jobs(wf, alice, {"a": {}, "b": {}, "c": {}})
    services.initialize_workflow(workflow=wf)
    services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="w1", limit=2)
    soon = timezone.now() + timedelta(seconds=5)
    Job.objects.filter(claimed_by="w1").update(lease_expires_at=soon)
    assert workers.heartbeat(claimer="w1") == 2
    assert all(lease > soon + timedelta(seconds=60) for lease in
               Job.objects.filter(claimed_by="w1").values_list("lease_expires_at", flat=True))
    assert workers.expire_leases() == {"requeued": 0, "failed": 0}


def test_compute_node_update_is_a_heartbeat(alice, api):
    from conftest import basic_header

    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}})
    services.initialize_workflow(workflow=wf)
    api.credentials(HTTP_AUTHORIZATION=basic_header("alice", "pw-alice"))
    node = api.post("/torc-service/v1/compute_nodes", {"workflow_id": wf.pk, "hostname": "h", "num_cpus": 2,
                                                       "memory": "4g"}, format="json").json()
    body = {"id": node["id"], "num_cpus": 2, "memory_gb": 4, "num_gpus": 0, "num_nodes": 1}
    claimed = api.post(f"/torc-service/v1/workflows/{wf.pk}/claim_jobs_based_on_resources/2", body,
                       format="json").json()["jobs"]
    assert [j["id"] for j in claimed] == [ids["a"]]
    Job.objects.filter(pk=ids["a"]).update(lease_expires_at=timezone.now() + timedelta(seconds=1))
    response = api.put(f"/torc-service/v1/compute_nodes/{node['id']}",
                       {"workflow_id": wf.pk, "hostname": "h", "num_cpus": 2, "memory_gb": 4, "is_active": True},
                       format="json")
    assert response.status_code == 200
    assert Job.objects.get(pk=ids["a"]).lease_expires_at > timezone.now() + timedelta(seconds=60)
