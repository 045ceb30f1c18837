"""DAG semantics on the service layer: placement, unblocking, failure cascades, cycles,
implicit file dependencies and reinitialization after an input changes."""

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.exceptions import Conflict, FieldValidationError
from apps.jobs import services
from apps.jobs.models import Job
from apps.jobs.states import Status
from apps.workflows.models import Event

from .factories import file, jobs, statuses, workflow

pytestmark = pytest.mark.django_db


def finish(job_id, *, code=0, status=Status.COMPLETED):
    services.transition(job_id=job_id, target=Status.PENDING)
    services.start_job(job_id=job_id)
    return services.complete_job(job_id=job_id, status=status, return_code=code)


def test_diamond(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["a"]}, "d": {"after": ["b", "c"]}})
    summary = services.initialize_workflow(workflow=wf)
    assert summary["ready"] == 1 and summary["blocked"] == 3
    assert statuses(ids) == {"a": "ready", "b": "blocked", "c": "blocked", "d": "blocked"}
    assert Job.objects.get(pk=ids["d"]).unfinished_deps == 2
    finish(ids["a"])
    assert statuses(ids) == {"a": "completed", "b": "ready", "c": "ready", "d": "blocked"}
    finish(ids["b"])
    assert statuses(ids)["d"] == "blocked" and Job.objects.get(pk=ids["d"]).unfinished_deps == 1
    finish(ids["c"])
    assert statuses(ids)["d"] == "ready"


def test_fan_out_and_fan_in_of_1000_in_set_based_statements(alice):
    wf = workflow(alice)
    root = services.job_create(workflow=wf, owner=alice, data={"name": "root", "command": "true"})
    middle = services.jobs_create(workflow=wf, owner=alice,
                                  items=[{"name": f"m{i}", "depends_on_job_ids": [root]} for i in range(1000)])
    sink = services.job_create(workflow=wf, owner=alice, data={"name": "sink", "depends_on_job_ids": middle})
    services.initialize_workflow(workflow=wf)
    assert Job.objects.get(pk=sink).unfinished_deps == 1000
    services.transition(job_id=root, target=Status.RUNNING)
    with CaptureQueriesContext(connection) as queries:
        services.complete_job(job_id=root, status=Status.COMPLETED, return_code=0)
    assert len(queries) < 20  # independent of the 1000 dependents
    assert Job.objects.filter(pk__in=middle, status=Status.READY).count() == 1000
    claimed = services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="t", limit=1000)
    assert len(claimed) == 1000
    for job_id in claimed[:999]:
        services.start_job(job_id=job_id)
        services.complete_job(job_id=job_id, status=Status.COMPLETED, return_code=0)
    assert Job.objects.get(pk=sink).status == Status.BLOCKED
    services.start_job(job_id=claimed[999])
    services.complete_job(job_id=claimed[999], status=Status.COMPLETED, return_code=0)
    sink_job = Job.objects.get(pk=sink)
    assert (sink_job.status, sink_job.unfinished_deps) == (Status.READY, 0)


def test_cycle_is_rejected_and_named(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"]}})
    a = Job.objects.get(pk=ids["a"])
    with pytest.raises(FieldValidationError) as caught:
        services.job_update(job=a, data={"depends_on_job_ids": [ids["c"]]})
    message = str(caught.value)
    assert message.startswith("depends_on_job_ids: the dependency graph has a cycle")
    assert all(f"{name} (#{ids[name]})" in message for name in "abc")
    assert list(Job.objects.get(pk=ids["a"]).dependency_edges.all()) == []  # rolled back


def test_find_cycle_small_cases():
    assert services.find_cycle([(2, 1), (3, 2)]) is None
    cycle = services.find_cycle([(2, 1), (3, 2), (1, 3), (4, 1)])
    assert sorted(cycle) == [1, 2, 3]
    assert services.find_cycle([(1, 1)]) == [1]


def test_failure_cancels_downstream_unless_the_job_opts_out(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {
        "a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"]},
        "tolerant": {"after": ["a"], "cancel_on_blocking_job_failure": False},
        "after_tolerant": {"after": ["tolerant"]},
    })
    services.initialize_workflow(workflow=wf)
    finish(ids["a"], code=1, status=Status.FAILED)
    assert statuses(ids) == {"a": "failed", "b": "canceled", "c": "canceled", "tolerant": "ready",
                             "after_tolerant": "blocked"}
    event = Event.objects.filter(category="job_failed").latest("id")
    assert event.data["canceled"] == 2 and event.data["unblocked"] == 1


def test_nonzero_return_code_counts_as_failure(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {"after": ["a"]}})
    services.initialize_workflow(workflow=wf)
    finish(ids["a"], code=3, status=Status.COMPLETED)
    assert statuses(ids)["b"] == "canceled"


def test_retry_brings_canceled_downstream_back(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {"after": ["a"]}})
    services.initialize_workflow(workflow=wf)
    finish(ids["a"], code=1, status=Status.FAILED)
    job = services.retry_job(job_id=ids["a"])
    assert job.attempt == 2
    assert statuses(ids) == {"a": "ready", "b": "blocked"}


def test_reverting_a_complete_job_resets_its_downstream(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}, "b": {"after": ["a"]}, "c": {"after": ["b"]}, "x": {}})
    services.initialize_workflow(workflow=wf)
    finish(ids["a"])
    finish(ids["b"])
    services.transition(job_id=ids["a"], target=Status.UNINITIALIZED)
    services.initialize_workflow(workflow=wf)
    assert statuses(ids) == {"a": "ready", "b": "blocked", "c": "blocked", "x": "ready"}


def test_invalid_transition_is_409_naming_allowed_targets(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {}})
    services.initialize_workflow(workflow=wf)
    finish(ids["a"])
    with pytest.raises(Conflict) as caught:
        services.transition(job_id=ids["a"], target=Status.RUNNING)
    assert "cannot change from completed to running; allowed from completed: uninitialized" in str(caught.value)


def test_implicit_dependencies_from_files_and_user_data(alice, tmp_path):
    from apps.files.models import UserData

    wf = workflow(alice)
    raw = tmp_path / "raw.csv"
    raw.write_text("x")
    f_raw, f_mid = file(wf, "raw", raw), file(wf, "mid", tmp_path / "mid.csv")
    ud = UserData.objects.create(workflow=wf, name="cfg", data={"k": 1})
    ids = jobs(wf, alice, {
        "make_mid": {"input_file_ids": [f_raw.pk], "output_file_ids": [f_mid.pk]},
        "use_mid": {"input_file_ids": [f_mid.pk], "output_user_data_ids": [ud.pk]},
        "use_cfg": {"input_user_data_ids": [ud.pk]},
    })
    summary = services.initialize_workflow(workflow=wf)
    assert summary["implicit_dependencies"] == 2
    assert statuses(ids) == {"make_mid": "ready", "use_mid": "blocked", "use_cfg": "blocked"}
    f_raw.refresh_from_db()
    assert f_raw.st_mtime == os.stat(raw).st_mtime
    finish(ids["make_mid"])
    assert statuses(ids)["use_mid"] == "ready"


def test_missing_input_files_are_listed_unless_ignored(alice, tmp_path):
    wf = workflow(alice)
    gone = file(wf, "gone", tmp_path / "gone.csv")
    ids = jobs(wf, alice, {"a": {"input_file_ids": [gone.pk]}})
    with pytest.raises(FieldValidationError) as caught:
        services.initialize_workflow(workflow=wf)
    assert f"gone ({tmp_path / 'gone.csv'})" in str(caught.value)
    assert statuses(ids) == {"a": "uninitialized"}  # nothing half-done
    services.initialize_workflow(workflow=wf, ignore_missing_data=True)
    assert statuses(ids) == {"a": "ready"}


def test_reinitialization_after_an_input_file_changes(alice, tmp_path):
    wf = workflow(alice)
    data = tmp_path / "in.csv"
    data.write_text("1")
    f_in = file(wf, "in", data)
    ids = jobs(wf, alice, {"read": {"input_file_ids": [f_in.pk]}, "after": {"after": ["read"]}, "other": {}})
    services.initialize_workflow(workflow=wf)
    for name in ("read", "after", "other"):
        finish(ids[name])
    assert services.process_changed_job_inputs(workflow=wf, dry_run=True) == []
    stamp = os.stat(data).st_mtime + 10
    os.utime(data, (stamp, stamp))
    assert services.process_changed_job_inputs(workflow=wf, dry_run=True) == ["read"]
    assert statuses(ids) == {"read": "completed", "after": "completed", "other": "completed"}  # dry run
    wf.refresh_from_db()
    assert services.process_changed_job_inputs(workflow=wf) == ["read"]
    assert statuses(ids) == {"read": "ready", "after": "blocked", "other": "completed"}


def test_changed_command_is_detected_by_hash(alice):
    wf = workflow(alice)
    ids = jobs(wf, alice, {"a": {"command": "echo 1"}, "b": {"command": "echo 2"}})
    services.initialize_workflow(workflow=wf)
    Job.objects.filter(pk=ids["b"]).update(command="echo 3")
    wf.refresh_from_db()
    assert services.process_changed_job_inputs(workflow=wf) == ["b"]
    assert statuses(ids) == {"a": "ready", "b": "ready"}


def test_claim_never_hands_a_job_twice_and_orders_by_priority(alice):
    wf = workflow(alice)
    ids = services.jobs_create(workflow=wf, owner=alice, items=[{"name": f"j{i}", "priority": i % 3}
                                                               for i in range(30)])
    services.initialize_workflow(workflow=wf)
    first = services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="w1", limit=10)
    second = services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="w2", limit=100)
    assert not set(first) & set(second) and len(first) + len(second) == 30
    assert set(Job.objects.filter(pk__in=first).values_list("priority", flat=True)) == {2}
    assert Job.objects.filter(claimed_by="w1", status=Status.PENDING).count() == 10
    assert services.claim(scope=services.Scope(workflow_id=wf.pk), claimer="w3", limit=5) == []
    events = list(Event.objects.filter(workflow=wf, category="jobs_claimed").order_by("id").values_list("data",
                                                                                                       flat=True))
    assert events == [{"claimer": "w1", "count": 10, "job_ids": sorted(first), "started": False},
                      {"claimer": "w2", "count": 20, "job_ids": sorted(second), "started": False}]  # none for an empty claim
    assert sorted(first + second) == sorted(ids)


def test_claim_by_resources_packs_greedily(alice):
    from apps.workflows.models import ResourceRequirements

    wf = workflow(alice)
    big = ResourceRequirements.objects.create(workflow=wf, name="big", num_cpus=8, memory_bytes=8 * 1024**3)
    small = ResourceRequirements.objects.create(workflow=wf, name="small", num_cpus=2, memory_bytes=1024**3)
    gpu = ResourceRequirements.objects.create(workflow=wf, name="gpu", num_cpus=1, num_gpus=1)
    services.jobs_create(workflow=wf, owner=alice, items=[
        {"name": "big1", "resource_requirements_id": big.pk}, {"name": "big2", "resource_requirements_id": big.pk},
        {"name": "s1", "resource_requirements_id": small.pk}, {"name": "s2", "resource_requirements_id": small.pk},
        {"name": "g", "resource_requirements_id": gpu.pk},
    ])
    services.initialize_workflow(workflow=wf)
    node = services.NodeResources(num_cpus=12, memory_bytes=16 * 1024**3, num_gpus=0, num_nodes=1)
    got = services.claim_by_resources(workflow_id=wf.pk, node=node, limit=10, claimer="n1")
    names = set(Job.objects.filter(pk__in=got).values_list("name", flat=True))
    assert names in ({"big1", "s1", "s2"}, {"big2", "s1", "s2"})  # 8 + 2 + 2 cpus; no gpu on the node


def test_completion_cost_does_not_grow_with_dependents(alice):
    """Fan-out of 5000: completion is a handful of statements, not one per dependent."""
    wf = workflow(alice)
    root = services.job_create(workflow=wf, owner=alice, data={"name": "root"})
    services.jobs_create(workflow=wf, owner=alice, items=[{"name": f"k{i}", "depends_on_job_ids": [root]}
                                                          for i in range(5000)])
    services.initialize_workflow(workflow=wf)
    services.transition(job_id=root, target=Status.RUNNING)
    with CaptureQueriesContext(connection) as queries:
        services.complete_job(job_id=root, status=Status.COMPLETED, return_code=0)
    assert len(queries) < 20
    assert Job.objects.filter(workflow=wf, status=Status.READY).count() == 5000
