"""Mitosis task artifacts on the local storage backend: user upload URL, the worker's Upload
(services.artifact_upload_url), quota, downloads (single, by filter, by uuids), deletes (single,
by filter, by uuids, admin), artifacts_for (GET /tasks/{uuid}), the workers' resource downloads
and who may do what; routing of /tasks/download|delete/... against /tasks/{uuid}/..."""

import uuid as uuid_lib

import pytest

from apps.core.exceptions import FieldValidationError, NotFound, QuotaExceeded
from apps.groups.models import Group
from apps.jobs.models import Job
from apps.storage import services
from apps.storage.models import Artifact, Attachment

from .conftest_storage import age, join, local_get, local_store, put_bytes, register, submit  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(alice, login, local_store):
    return login("alice", "pw-alice")


def used(group="alice") -> int:
    return Group.objects.get(name=group).storage_used


def upload(client, task, content_type="result", data=b"tar-bytes"):
    response = client.post(f"/tasks/{task}/artifacts", {"content_type": content_type, "content_length": len(data)},
                           format="json")
    assert response.status_code == 200, response.content
    assert put_bytes(client, response.json()["url"], data).status_code == 200
    return response.json()


def held_task(user, priority=0, worker_of=None, groups=()):
    """A task submitted by alice and fetched by a worker (alice's, or `worker_of`'s):
    (task uuid, job id, Worker row); the worker's client is in held_task.client."""
    task = submit(user, priority=priority)
    worker_client, worker = register(worker_of or user, groups=groups)
    fetched = worker_client.get("/workers/tasks")
    assert fetched.status_code == 200 and fetched.json()["uuid"] == task, fetched.content
    held_task.client = worker_client
    return task, fetched.json()["id"], worker


def test_user_upload_then_download(user, local_store):
    task = submit(user)
    response = user.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": 9}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "exist"} and body["exist"] is False
    row = Artifact.objects.get(job__uuid=task)
    assert (row.content_type, row.size) == ("result", 9) and used() == 9
    assert put_bytes(user, body["url"], b"tar-bytes").status_code == 200
    assert local_store.open(f"artifacts/{task}/result.tar.gz").read() == b"tar-bytes"

    download = user.get(f"/tasks/{task}/download/artifacts/result")
    assert download.status_code == 302 and download.json() == {"url": download["Location"], "size": 9}
    fetched, content = local_get(user, download["Location"])
    assert content == b"tar-bytes" and 'filename="result.tar.gz"' in fetched["Content-Disposition"]
    again = upload(user, task, data=b"bigger-tar-bytes")
    assert again["exist"] is True and Artifact.objects.get(job__uuid=task).size == 16 and used() == 16


def test_content_type_aliases_and_bad_values(user):
    task = submit(user)
    for alias, canonical in [("Result", "result"), ("exec", "exec-log"), ("ExecLog", "exec-log"),
                             ("terminal", "std-log"), ("STD", "std-log")]:
        response = user.post(f"/tasks/{task}/artifacts", {"content_type": alias, "content_length": 1}, format="json")
        assert response.status_code == 200, (alias, response.content)
        assert Artifact.objects.filter(job__uuid=task, content_type=canonical).exists()
    bad = user.post(f"/tasks/{task}/artifacts", {"content_type": "core-dump", "content_length": 1}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("content_type: ")
    negative = user.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": -3}, format="json")
    assert negative.status_code == 400 and negative.json()["msg"].startswith("content_length: ")
    path = user.get(f"/tasks/{task}/download/artifacts/core-dump")
    assert path.status_code == 400 and path.json()["msg"].startswith("content_type: ")
    assert user.get(f"/tasks/{task}/download/artifacts/Exec").status_code == 302
    assert Artifact.objects.count() == 3 and used() == 3


def test_quota_refusal_changes_nothing(user):
    task = submit(user)
    Group.objects.filter(name="alice").update(storage_quota=10)
    response = user.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": 11}, format="json")
    assert response.status_code == 403 and response.json()["msg"] == "Resource quota exceeded"
    assert not Artifact.objects.exists() and used() == 0


def test_worker_upload_op_service(user, local_store):
    task, job_id, worker = held_task(user)
    url = services.artifact_upload_url(worker=worker, job_id=job_id, content_type="std-log", content_length=4)
    assert url.startswith("/storage/upload/")
    assert put_bytes(user, url, b"logs").status_code == 200
    assert local_store.open(f"artifacts/{task}/std-log.tar.gz").read() == b"logs"
    assert Artifact.objects.get(job_id=job_id).size == 4 and used() == 4
    # after Finish the worker still holds the task and may upload
    Job.objects.filter(pk=job_id).update(spec={**Job.objects.get(pk=job_id).spec, "mitosis_report": "Finish"})
    assert services.artifact_upload_url(worker=worker, job_id=job_id, content_type="Result", content_length=2)
    assert sorted(Artifact.objects.values_list("content_type", flat=True)) == ["result", "std-log"]

    Group.objects.filter(name="alice").update(storage_quota=7)
    with pytest.raises(QuotaExceeded, match="Resource quota exceeded"):
        services.artifact_upload_url(worker=worker, job_id=job_id, content_type="exec-log", content_length=2)
    with pytest.raises(FieldValidationError, match="op.Upload.content_type"):
        services.artifact_upload_url(worker=worker, job_id=job_id, content_type="nope", content_length=2)
    with pytest.raises(FieldValidationError, match="op.Upload.content_length"):
        services.artifact_upload_url(worker=worker, job_id=job_id, content_type="result", content_length=-1)
    with pytest.raises(NotFound, match=f"Task {job_id + 1000} not found"):
        services.artifact_upload_url(worker=worker, job_id=job_id + 1000, content_type="result", content_length=1)
    assert Artifact.objects.count() == 2 and used() == 6


def test_worker_upload_refused_for_a_task_it_does_not_hold(user):
    _, job_id, worker = held_task(user)
    other_task = submit(user)
    _, other_worker = register(user)
    with pytest.raises(NotFound):
        services.artifact_upload_url(worker=other_worker, job_id=job_id, content_type="result", content_length=1)
    other_id = Job.objects.get(uuid=other_task).pk
    with pytest.raises(NotFound):  # ready, not held by anyone
        services.artifact_upload_url(worker=worker, job_id=other_id, content_type="result", content_length=1)
    assert not Artifact.objects.exists()


def test_artifacts_for_gives_the_seed_list(user):
    task = submit(user)
    upload(user, task, "std-log", b"ab")
    upload(user, task, "result", b"abc")
    job = Job.objects.get(uuid=task)
    items = services.artifacts_for(job)
    assert [(i["content_type"], i["size"]) for i in items] == [("result", 3), ("std-log", 2)]
    assert set(items[0]) == {"content_type", "size", "created_at", "updated_at"}
    assert items[0]["created_at"].endswith(" +00:00:00")
    assert services.artifacts_for(Job.objects.get(uuid=submit(user))) == []


def test_other_users_tasks_are_invisible_and_read_members_cannot_write(user, bob, login):
    task = submit(user)
    upload(user, task)
    age(Artifact.objects.all())
    other = login("bob", "pw-bob")
    for response in (
        other.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": 1}, format="json"),
        other.get(f"/tasks/{task}/download/artifacts/result"),
        other.delete(f"/tasks/{task}/artifacts/result"),
    ):
        assert response.status_code == 404, response.content
    unseen = other.post("/tasks/download/artifacts/list", {"uuids": [task], "content_type": "result"}, format="json")
    assert unseen.json() == {"downloads": []}
    kept = other.post("/tasks/delete/artifacts/list", {"uuids": [task], "content_type": "result"}, format="json")
    assert kept.json() == {"deleted_count": 0, "failed_uuids": [task]}
    join("alice", bob, "Read")
    assert other.get(f"/tasks/{task}/download/artifacts/result").status_code == 302
    for response in (
        other.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": 1}, format="json"),
        other.delete(f"/tasks/{task}/artifacts/result"),
        other.post("/tasks/delete/artifacts", {"group_name": "alice", "content_type": "result"}, format="json"),
    ):
        assert response.status_code == 403, response.content
    assert Artifact.objects.count() == 1 and used() == 9


def test_delete_waits_an_hour_then_frees_space_and_the_object(user, local_store, django_capture_on_commit_callbacks):
    task = submit(user)
    upload(user, task)
    early = user.delete(f"/tasks/{task}/artifacts/result")
    assert early.status_code == 400 and "last hour" in early.json()["msg"]
    age(Artifact.objects.all())
    with django_capture_on_commit_callbacks(execute=True):
        assert user.delete(f"/tasks/{task}/artifacts/result").status_code == 200
    assert not Artifact.objects.exists() and used() == 0
    assert not local_store.exists(f"artifacts/{task}/result.tar.gz")
    missing = user.delete(f"/tasks/{task}/artifacts/result")
    assert missing.status_code == 404
    assert missing.json()["msg"] == f"Artifact with uuid {task} and content type result.tar.gz not found"


def test_admin_delete(user, root, login, local_store, django_capture_on_commit_callbacks):
    task = submit(user)
    upload(user, task)
    assert user.delete(f"/admin/tasks/{task}/artifacts/result").status_code == 403
    admin = login("root", "pw-root")
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.delete(f"/admin/tasks/{task}/artifacts/result").status_code == 200
    assert not Artifact.objects.exists() and used() == 0
    assert not local_store.exists(f"artifacts/{task}/result.tar.gz")
    assert admin.delete(f"/admin/tasks/{task}/artifacts/result").status_code == 404
    assert admin.delete(f"/admin/tasks/{uuid_lib.uuid4()}/artifacts/result").status_code == 404


def test_batch_download_by_filter_and_by_uuids(user, bob, login):
    gpu = submit(user, tags=["gpu"], labels=["exp1"])
    cpu = submit(user, tags=["cpu"], labels=["exp1"])
    bare = submit(user, tags=["gpu"])
    upload(user, gpu, data=b"g")
    upload(user, cpu, data=b"cc")
    upload(user, bare, "std-log", b"s")
    by_tags = user.post("/tasks/download/artifacts", {"tags": ["gpu"], "content_type": "result"}, format="json").json()
    assert [(d["uuid"], d["size"]) for d in by_tags["downloads"]] == [(gpu, 1)]
    assert set(by_tags["downloads"][0]) == {"uuid", "url", "size"}
    assert local_get(user, by_tags["downloads"][0]["url"])[1] == b"g"
    by_labels = user.post("/tasks/download/artifacts", {"labels": ["exp1"], "states": ["Ready"],
                                                        "content_type": "result", "group_name": "alice"},
                          format="json").json()
    assert sorted(d["uuid"] for d in by_labels["downloads"]) == sorted([gpu, cpu])
    none = user.post("/tasks/download/artifacts", {"states": ["Finished"], "content_type": "result"}, format="json")
    assert none.json() == {"downloads": []}
    by_uuids = user.post("/tasks/download/artifacts/list", {"uuids": [cpu, bare, str(uuid_lib.uuid4())],
                                                            "content_type": "result"}, format="json").json()
    assert [d["uuid"] for d in by_uuids["downloads"]] == [cpu]
    empty = user.post("/tasks/download/artifacts/list", {"uuids": [], "content_type": "result"}, format="json")
    assert empty.status_code == 400 and empty.json()["msg"] == "uuids: UUIDs list cannot be empty"
    bad = user.post("/tasks/download/artifacts/list", {"uuids": ["nope"], "content_type": "result"}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("uuids")
    no_type = user.post("/tasks/download/artifacts", {"tags": ["gpu"]}, format="json")
    assert no_type.status_code == 400 and no_type.json()["msg"].startswith("content_type")
    empty_tags = user.post("/tasks/download/artifacts", {"tags": [], "content_type": "result"}, format="json")
    assert empty_tags.status_code == 400 and "tags" in empty_tags.json()["msg"]
    login("bob", "pw-bob")
    other_group = user.post("/tasks/download/artifacts", {"group_name": "bob", "content_type": "result"},
                            format="json")
    assert other_group.status_code in (400, 404) and "msg" in other_group.json()


def test_batch_delete_by_filter_and_by_uuids(user, local_store, django_capture_on_commit_callbacks):
    old_a, old_b, young = submit(user, tags=["t"]), submit(user, tags=["t"]), submit(user, tags=["t"])
    for task in (old_a, old_b, young):
        upload(user, task)
    age(Artifact.objects.exclude(job__uuid=young))
    with django_capture_on_commit_callbacks(execute=True):
        by_filter = user.post("/tasks/delete/artifacts", {"tags": ["t"], "content_type": "result"}, format="json")
    assert by_filter.status_code == 200 and by_filter.json() == {"deleted_count": 2}
    assert list(Artifact.objects.values_list("job__uuid", flat=True)) == [uuid_lib.UUID(young)]
    assert used() == 9 and not local_store.exists(f"artifacts/{old_a}/result.tar.gz")
    other = submit(user)
    upload(user, other)
    age(Artifact.objects.filter(job__uuid=other))
    missing = str(uuid_lib.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        by_uuids = user.post("/tasks/delete/artifacts/list", {"uuids": [other, young, missing],
                                                              "content_type": "result"}, format="json")
    assert by_uuids.json() == {"deleted_count": 1, "failed_uuids": [young, missing]}
    assert used() == 9 and not local_store.exists(f"artifacts/{other}/result.tar.gz")
    assert local_store.exists(f"artifacts/{young}/result.tar.gz")


def test_batch_query_counts_do_not_grow_with_tasks(user, django_assert_max_num_queries):
    tasks = [submit(user, tags=["n"]) for _ in range(20)]
    for task in tasks:
        user.post(f"/tasks/{task}/artifacts", {"content_type": "result", "content_length": 1}, format="json")
    with django_assert_max_num_queries(5):
        body = user.post("/tasks/download/artifacts", {"tags": ["n"], "content_type": "result"}, format="json").json()
    assert len(body["downloads"]) == 20
    with django_assert_max_num_queries(5):
        body = user.post("/tasks/download/artifacts/list", {"uuids": tasks, "content_type": "result"},
                         format="json").json()
    assert len(body["downloads"]) == 20
    age(Artifact.objects.all())
    with django_assert_max_num_queries(12):
        assert user.post("/tasks/delete/artifacts/list", {"uuids": tasks[:10], "content_type": "result"},
                         format="json").json()["deleted_count"] == 10
    with django_assert_max_num_queries(12):
        assert user.post("/tasks/delete/artifacts", {"tags": ["n"], "content_type": "result"},
                         format="json").json()["deleted_count"] == 10
    assert used() == 0


# SECTION worker downloads


def test_worker_downloads_resources_of_groups_it_serves(user, bob, login):
    upstream = submit(user)
    upload(user, upstream, data=b"upstream-result")
    user.post("/groups/alice/attachments", {"key": "data/in.bin", "content_length": 3}, format="json")
    task, _, worker = held_task(user, priority=5)  # artifacts: for the worker running a task
    worker_client = held_task.client
    artifact = worker_client.get(f"/workers/tasks/{upstream}/artifacts/result")
    assert artifact.status_code == 302 and artifact.json()["size"] == 15
    assert local_get(worker_client, artifact["Location"])[1] == b"upstream-result"
    attachment = worker_client.get(f"/workers/tasks/{task}/attachments/data/in.bin")
    assert attachment.status_code == 302 and attachment.json()["size"] == 3
    missing = worker_client.get(f"/workers/tasks/{task}/attachments/data/none")
    assert missing.status_code == 404 and missing.json()["msg"] == "Attachment of group alice and key data/none not found"
    bad_key = worker_client.get(f"/workers/tasks/{task}/attachments/a//b")
    assert bad_key.status_code == 400 and bad_key.json()["msg"].startswith("key: ")
    no_artifact = worker_client.get(f"/workers/tasks/{task}/artifacts/result")
    assert no_artifact.status_code == 404

    # bob's worker serves only bob's group: alice's tasks do not exist for it
    bob_client = login("bob", "pw-bob")
    bob_worker = register(bob_client)[0]
    assert bob_worker.get(f"/workers/tasks/{upstream}/artifacts/result").status_code == 404
    assert bob_worker.get(f"/workers/tasks/{task}/attachments/data/in.bin").status_code == 404
    # a worker that only has the Read role in alice's group gets no tasks from it, nor resources
    join("alice", bob, "Write")
    reader = register(bob_client, groups=["alice:read"])[0]
    assert reader.get(f"/workers/tasks/{upstream}/artifacts/result").status_code == 404
    idle_writer = register(bob_client, groups=["alice:write"])[0]  # runs nothing: reads no artifact
    assert idle_writer.get(f"/workers/tasks/{upstream}/artifacts/result").status_code == 404
    held_task(user, priority=9, worker_of=bob_client, groups=["alice:write"])  # runs alice's task: may
    assert held_task.client.get(f"/workers/tasks/{upstream}/artifacts/result").status_code == 302
    # user tokens are not worker tokens
    assert user.get(f"/workers/tasks/{upstream}/artifacts/result").status_code == 401
    assert worker is not None and Attachment.objects.count() == 1


def test_worker_download_query_counts(user, django_assert_max_num_queries):
    task, _, _ = held_task(user)
    upload(user, task)
    worker_client = held_task.client
    with django_assert_max_num_queries(4):
        assert worker_client.get(f"/workers/tasks/{task}/artifacts/result").status_code == 302


# SECTION routing


def test_routing_pairs(user):
    task = submit(user)
    upload(user, task)
    assert user.post("/tasks/download/artifacts", {"content_type": "result"}, format="json").status_code == 200
    assert user.post(f"/tasks/{task}/artifacts", {"content_type": "std-log", "content_length": 1},
                     format="json").status_code == 200
    assert user.post("/tasks/delete/artifacts/list", {"uuids": [task], "content_type": "result"},
                     format="json").status_code == 200
    assert user.get("/tasks/download/artifacts").status_code == 405  # the batch route, not a uuid
    assert user.get("/tasks/download/artifacts/result").status_code == 404
    malformed = user.get("/tasks/not-a-uuid/download/artifacts/result")
    assert malformed.status_code == 404 and "msg" in malformed.json()
    assert user.post("/tasks/not-a-uuid/artifacts", {}, format="json").status_code == 404
    unknown = user.get(f"/tasks/{uuid_lib.uuid4()}/download/artifacts/result")
    assert unknown.status_code == 404
    assert user.delete(f"/tasks/{uuid_lib.uuid4()}/artifacts/result").json()["msg"].endswith("not found")
