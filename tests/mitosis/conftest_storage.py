"""Fixtures of the storage tests (imported by test_attachments, test_artifacts, test_storage_s3):
a local object store in a temporary directory, a real moto S3 server (a subprocess, started
once per session), and small helpers that go through the API as a client would."""

import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from apps.storage import backends

LOCAL = "apps.storage.backends.LocalObjectStorage"


@pytest.fixture
def local_store(settings, tmp_path):
    """STORAGES["mitosis"] on a fresh directory; yields the storage."""
    settings.STORAGES = {**settings.STORAGES, backends.STORAGE_ALIAS: {
        "BACKEND": LOCAL, "OPTIONS": {"location": str(tmp_path / "objects"), "allow_overwrite": True}}}
    settings.DROVER_STORAGE_PUBLIC_URL = ""
    settings.DROVER_STORAGE_DOWNLOAD_REDIRECT = True
    return backends.object_storage()


def _moto_server() -> str | None:
    beside_python = Path(sys.executable).with_name("moto_server")
    return str(beside_python) if beside_python.exists() else shutil.which("moto_server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """A real S3 API (moto's server) on a free port, for the whole session."""
    command = _moto_server()
    if command is None:
        pytest.skip("moto_server not found: install requirements/dev.txt (moto[server]) to run the S3 tests")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint + "/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start (exit code {process.poll()})") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def s3_store(settings, moto_endpoint):
    """STORAGES["mitosis"] on a fresh bucket of the moto server; yields (storage, client, bucket)."""
    bucket = f"drover-{uuid.uuid4().hex[:12]}"
    settings.STORAGES = {**settings.STORAGES, backends.STORAGE_ALIAS: {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": bucket, "endpoint_url": moto_endpoint, "region_name": "us-east-1",
                    "access_key": "testing", "secret_key": "testing", "file_overwrite": True,
                    "signature_version": "s3v4"}}}
    settings.DROVER_STORAGE_DOWNLOAD_REDIRECT = True
    storage = backends.object_storage()
    client = storage.connection.meta.client
    client.create_bucket(Bucket=bucket)
    return storage, client, bucket


# SECTION helpers


def submit(client, group="alice", tags=(), labels=(), priority=0) -> str:
    body = {"group_name": group, "tags": list(tags), "labels": list(labels), "timeout": "10m", "priority": priority,
            "task_spec": {"args": ["true"], "envs": {}, "resources": [], "terminal_output": False, "watch": None}}
    response = client.post("/tasks", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["uuid"]


def register(client, groups=()):
    """A worker registered by `client`'s user; returns (worker API client, Worker row)."""
    from apps.workers.models import Worker

    response = client.post("/workers", {"tags": [], "labels": [], "groups": list(groups), "lifetime": None},
                           format="json")
    assert response.status_code == 200, response.content
    worker_client = APIClient()
    worker_client.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["token"])
    return worker_client, Worker.objects.get(uuid=response.json()["worker_id"])


def join(group_name: str, user, role: str = "Write"):
    from apps.groups.choices import Role
    from apps.groups.models import Group, Membership

    Membership.objects.update_or_create(user=user, group=Group.objects.get(name=group_name),
                                        defaults={"role": Role.from_name(role)})


def age(queryset, hours: float = 2) -> None:
    """Make rows older than the one-hour delete grace."""
    queryset.update(updated_at=timezone.now() - timedelta(hours=hours))


def put_bytes(client, url: str, data: bytes):
    """PUT raw bytes to a local signed URL through the test client, as curl --upload-file does."""
    path = url.split("://", 1)[-1].split("/", 1)[1]
    return client.generic("PUT", "/" + path, data, content_type="application/octet-stream")


def local_get(client, url: str):
    path = url.split("://", 1)[-1].split("/", 1)[1]
    response = client.get("/" + path)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body
