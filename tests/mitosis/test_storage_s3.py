"""Attachments and artifacts on S3 (django-storages' S3Storage) against moto's real S3 server
(a subprocess, see conftest_storage.moto_endpoint): presigned PUT/GET URLs used as a client
does (requests.put(url, data=bytes)), the bytes read back from the bucket, deletes that remove
the objects, and the URL lifetimes."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from apps.groups.models import Group
from apps.storage import backends, services
from apps.storage.models import Artifact, Attachment

from .conftest_storage import age, moto_endpoint, register, s3_store, submit  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(alice, login, s3_store):
    return login("alice", "pw-alice")


def object_bytes(client, bucket, key) -> bytes | None:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


def test_attachment_round_trip_and_delete(user, s3_store, moto_endpoint, django_capture_on_commit_callbacks):
    _, client, bucket = s3_store
    data = b"\x00\x01binary attachment\xff" * 1000
    response = user.post("/groups/alice/attachments", {"key": "data/in put.bin", "content_length": len(data)},
                         format="json")
    assert response.status_code == 200
    url = response.json()["url"]
    assert url.startswith(f"{moto_endpoint}/{bucket}/attachments/alice/data/in%20put.bin?")
    query = parse_qs(urlparse(url).query)
    assert query["X-Amz-Expires"] == ["3600"] and "content-length" in query["X-Amz-SignedHeaders"][0]
    put = requests.put(url, data=data, timeout=10)
    assert put.status_code == 200, put.text
    assert object_bytes(client, bucket, "attachments/alice/data/in put.bin") == data

    download = user.get("/groups/alice/download/attachments/data/in put.bin")
    assert download.status_code == 302 and download.json()["size"] == len(data)
    assert requests.get(download["Location"], timeout=10).content == data

    age(Attachment.objects.all())
    with django_capture_on_commit_callbacks(execute=True):
        assert user.delete("/groups/alice/attachments/data/in put.bin").status_code == 200
    assert object_bytes(client, bucket, "attachments/alice/data/in put.bin") is None
    assert not Attachment.objects.exists() and Group.objects.get(name="alice").storage_used == 0


def test_artifact_from_the_worker_upload_op(user, s3_store):
    _, client, bucket = s3_store
    task = submit(user)
    worker_client, worker = register(user)
    job_id = worker_client.get("/workers/tasks").json()["id"]
    url = services.artifact_upload_url(worker=worker, job_id=job_id, content_type="result", content_length=7)
    assert requests.put(url, data=b"tar.gz!", timeout=10).status_code == 200
    assert object_bytes(client, bucket, f"artifacts/{task}/result.tar.gz") == b"tar.gz!"
    fetched = worker_client.get(f"/workers/tasks/{task}/artifacts/result")
    assert fetched.status_code == 302 and requests.get(fetched["Location"], timeout=10).content == b"tar.gz!"
    by_user = user.get(f"/tasks/{task}/download/artifacts/result")
    assert requests.get(by_user.json()["url"], timeout=10).content == b"tar.gz!"


def test_batch_delete_removes_every_object(user, s3_store, django_capture_on_commit_callbacks):
    _, client, bucket = s3_store
    tasks = [submit(user) for _ in range(3)]
    for task in tasks:
        url = user.post(f"/tasks/{task}/artifacts", {"content_type": "std-log", "content_length": 2},
                        format="json").json()["url"]
        assert requests.put(url, data=b"ok", timeout=10).status_code == 200
    batch = user.post("/tasks/download/artifacts/list", {"uuids": tasks, "content_type": "std-log"},
                      format="json").json()["downloads"]
    assert [requests.get(d["url"], timeout=10).content for d in batch] == [b"ok"] * 3
    # batch links last a day, as in Mitosis
    assert parse_qs(urlparse(batch[0]["url"]).query)["X-Amz-Expires"] == ["86400"]
    age(Artifact.objects.all())
    with django_capture_on_commit_callbacks(execute=True):
        deleted = user.post("/tasks/delete/artifacts/list", {"uuids": tasks, "content_type": "std-log"},
                            format="json").json()
    assert deleted == {"deleted_count": 3, "failed_uuids": []}
    assert all(object_bytes(client, bucket, f"artifacts/{t}/std-log.tar.gz") is None for t in tasks)
    assert Group.objects.get(name="alice").storage_used == 0


def test_quota_refusal_issues_no_url(user, s3_store):
    Group.objects.filter(name="alice").update(storage_quota=5)
    response = user.post("/groups/alice/attachments", {"key": "big", "content_length": 6}, format="json")
    assert response.status_code == 403 and response.json() == {"msg": "Resource quota exceeded",
                                                                "error": "Resource quota exceeded"}
    assert not Attachment.objects.exists()


def test_download_lifetimes():
    assert backends.download_lifetime(10) == 3600
    assert backends.download_lifetime(7200 * 1_000_000) == 7200
    assert backends.download_lifetime(10**15) == 86400
    assert backends.download_lifetime(10, batch=True) == 86400


def test_local_signed_urls_refuse_when_the_backend_is_s3(user, s3_store):
    """The /storage/ endpoints belong to the local backend only."""
    assert user.get("/storage/download/anything").status_code == 404
