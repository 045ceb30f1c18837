"""Upload and body limits (issue 7, hardening): bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (env
DROVER_MAX_BODY_BYTES) are a 413 in each dialect's shape and change nothing, also in the console;
a body without Content-Length (chunked) is not read at all: WSGI hands Django no length and
Django reads nothing. Attachment keys and group names that are path syntax or hold control
characters are a 400; downloads and uploads through signed URLs stay inside the store; signed URLs
are refused after their expiry. Other suites hold the neighbouring cases: tests/torc/test_bad_input.py
(Torc 413s, the bulk cap), tests/mitosis/test_attachments.py (ASCII bad keys, tampered tokens)."""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import signing
from rest_framework.test import APIClient

from apps.groups.models import Group, User
from apps.jobs.models import Job
from apps.storage import backends
from apps.storage.models import Attachment
from apps.workflows.models import Workflow
from conftest import basic_header, md5_list
from tests.mitosis import conftest_storage
from tests.mitosis.conftest_storage import local_get, put_bytes

# The storage fixtures, by assignment (pytest finds them as module attributes).
local_store, s3_store = conftest_storage.local_store, conftest_storage.s3_store
moto_endpoint = conftest_storage.moto_endpoint

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]
LIMIT = 2000  # DATA_UPLOAD_MAX_MEMORY_SIZE in these tests
PAD = "p" * (2 * LIMIT)


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


@pytest.fixture
def torc(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_header("alice", "pw-alice"))
    return client


@pytest.fixture
def mitosis(alice, login):
    return login("alice", "pw-alice")


def state() -> tuple:
    alice = User.objects.get(username="alice")
    return (Workflow.objects.count(), Job.objects.count(), Attachment.objects.count(), alice.auth_signature,
            alice.password, tuple(Group.objects.order_by("pk").values_list("storage_used", flat=True)))


def task_body(**extra) -> dict:
    return {"group_name": "alice", "tags": [], "labels": [], "timeout": "10m", "priority": 0,
            "task_spec": {"args": ["true"], "envs": {}, "resources": [], "terminal_output": False, "watch": None},
            **extra}


# SECTION body size


def base_setting(name: str, env: dict) -> subprocess.CompletedProcess:
    code = f"from config.settings import base; print(base.{name})"
    clean = {k: v for k, v in os.environ.items() if k != "DROVER_MAX_BODY_BYTES"}
    return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env={**clean, **env}, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_limit_comes_from_the_environment():
    assert base_setting("DATA_UPLOAD_MAX_MEMORY_SIZE", {}).stdout.strip() == "2621440"  # Django's default
    assert base_setting("DATA_UPLOAD_MAX_MEMORY_SIZE", {"DROVER_MAX_BODY_BYTES": "12345"}).stdout.strip() == "12345"
    bad = base_setting("DATA_UPLOAD_MAX_MEMORY_SIZE", {"DROVER_MAX_BODY_BYTES": "2mb"})
    assert bad.returncode != 0 and "DROVER_MAX_BODY_BYTES='2mb': expected an integer" in bad.stderr


# Each dialect's error shape, with the message; the body is over LIMIT in every case.
TOO_LARGE = [
    ("torc", "post", "/torc-service/v1/workflows", {"name": "big", "description": PAD},
     lambda b: set(b) == {"error"} and b["error"]["message"].startswith(f"body: larger than {LIMIT} bytes")),
    ("torc", "put", "/torc-service/v1/workflows/{wid}", {"name": "big", "description": PAD},
     lambda b: set(b) == {"error"} and b["error"]["message"].startswith("body: ")),
    ("mitosis", "post", "/tasks", task_body(pad=PAD),
     lambda b: set(b) == {"msg", "error"} and b["msg"].startswith("body: larger than")),
    ("anonymous", "post", "/login", {"username": "alice", "md5_password": md5_list("pw-alice"), "pad": PAD},
     lambda b: set(b) == {"msg", "error"} and b["msg"].startswith("body: larger than")),
    ("anonymous", "post", "/token/", {"username": "alice", "password": "pw-alice", "pad": PAD},
     lambda b: set(b) == {"detail"} and b["detail"].startswith("body: larger than")),
    ("anonymous", "post", "/token/refresh/", {"refresh": PAD},
     lambda b: set(b) == {"detail"} and b["detail"].startswith("body: larger than")),
]


@pytest.mark.parametrize("who, method, path, body, shaped", TOO_LARGE, ids=[f"{m} {p}" for _, m, p, *_ in TOO_LARGE])
def test_a_body_over_the_limit_is_413_in_the_dialects_shape_and_changes_nothing(who, method, path, body, shaped,
                                                                               torc, mitosis):
    client = {"torc": torc, "mitosis": mitosis, "anonymous": APIClient()}[who]
    wid = torc.post("/torc-service/v1/workflows", {"name": "first"}, format="json").json()["id"]  # for the PUT
    before = state()
    response = getattr(client, method)(path.format(wid=wid), body, format="json")
    assert response.status_code == 413, response.content
    assert shaped(response.json()), response.json()
    assert state() == before
    assert Workflow.objects.get().description in ("", None)


def test_a_body_under_the_limit_is_read(torc, mitosis):
    """The 413s above come from the limit, not from something else about those bodies."""
    response = torc.post("/torc-service/v1/workflows", {"name": "fits", "description": "d" * (LIMIT // 2)},
                         format="json")
    assert response.status_code == 200 and Workflow.objects.get().description == "d" * (LIMIT // 2)
    assert mitosis.post("/tasks", task_body(), format="json").status_code == 200


def test_a_console_form_over_the_limit_is_413_not_a_bare_400(client, root, alice):
    client.force_login(root)
    before = state()
    response = client.post("/console/groups/group/add/", {"name": "x" * LIMIT, "creator": root.pk})
    assert response.status_code == 413
    assert response.json() == {"detail": "body: larger than the server accepts; send less per request"}
    assert state() == before and not Group.objects.filter(name__startswith="xxx").exists()


# The length WSGI gives Django is the only one it reads: a chunked request reaches Django with no
# CONTENT_LENGTH (gunicorn, runserver), and Django then reads nothing, limit or not.
NO_LENGTH = [
    ("torc", "/torc-service/v1/workflows", {"name": "w", "description": PAD}, lambda b: b["error"]["message"],
     "name: This field is required"),
    ("torc", "/torc-service/v1/bulk_jobs", {"jobs": [{"workflow_id": 1, "name": "j", "command": PAD}]},
     lambda b: b["error"]["message"], "jobs: required"),
    ("mitosis", "/tasks", task_body(pad=PAD), lambda b: b["msg"], "group_name: This field is required"),
]


@pytest.mark.parametrize("who, path, body, message, expected", NO_LENGTH, ids=[p for _, p, *_ in NO_LENGTH])
def test_a_body_without_content_length_is_not_read(who, path, body, message, expected, torc, mitosis):
    client = {"torc": torc, "mitosis": mitosis}[who]
    before = state()
    response = client.generic("POST", path, json.dumps(body), content_type="application/json", CONTENT_LENGTH="")
    assert response.status_code == 400, response.content
    assert message(response.json()).startswith(expected)
    assert state() == before


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_a_real_socket_is_not_read(alice, live_server):
    """As curl -H 'Transfer-Encoding: chunked' sends it, to a real server; nothing is created."""
    host, port = live_server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    body = ('{"name": "chunked", "description": "' + PAD * 4 + '"}').encode()
    conn.putrequest("POST", "/torc-service/v1/workflows")
    for name, value in (("Authorization", basic_header("alice", "pw-alice")), ("Content-Type", "application/json"),
                        ("Transfer-Encoding", "chunked"), ("Connection", "close")):
        conn.putheader(name, value)
    conn.endheaders()
    for start in range(0, len(body), 1000):
        piece = body[start:start + 1000]
        conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 400 and answer["error"]["message"].startswith("name: ")
    assert not Workflow.objects.exists()


# SECTION attachment keys and group names


# Unicode's control characters beyond ASCII (C1: NEL, CSI, ...) were accepted before.
CONTROL_KEYS = ["nel\x85key", "csi\x9bkey", "del\x7fkey", "nul\x00key", "esc\x1bkey", "cr\rkey"]
PATH_KEYS = ["../escape", "a/../../b", "/abs/path", "C:\\win", "a/./b"]


@pytest.mark.parametrize("key", CONTROL_KEYS + PATH_KEYS)
def test_bad_keys_are_400_naming_the_field_everywhere_and_change_nothing(key, mitosis, local_store):
    before = state()
    response = mitosis.post("/groups/alice/attachments", {"key": key, "content_length": 3}, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith("key: "), response.content
    for path in ("/groups/alice/download/attachments/list", "/groups/alice/delete/attachments/list"):
        response = mitosis.post(path, {"keys": ["fine", key]}, format="json")
        assert response.status_code == 400 and response.json()["msg"].startswith("keys.1: "), (path, response.content)
    assert state() == before


@pytest.mark.parametrize("encoded", ["..%2Fescape", "%2E%2E/escape", "a/%2e%2e/%2e%2e/b", "nul%00key", "nel%C2%85key"])
def test_bad_keys_in_percent_encoded_paths_are_400(encoded, mitosis, local_store):
    for prefix in ("/groups/alice/attachments/", "/groups/alice/download/attachments/"):
        response = mitosis.get(prefix + encoded)
        assert response.status_code == 400 and response.json()["msg"].startswith("key: "), (prefix, response.content)


@pytest.fixture
def dot_user(alice, login):
    """A user named "." with its personal group "." (the API refuses the name; the console and
    createsuperuser take it, as Django's username rule does)."""
    User.objects.create_user(username=".", password="pw-dot")
    return login(".", "pw-dot")


def test_a_group_whose_name_is_path_syntax_holds_no_attachments(dot_user, local_store):
    before = state()
    response = dot_user.post("/groups/./attachments", {"key": "alice/x", "content_length": 6}, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith("group_name: "), response.content
    assert state() == before  # nothing reserved against the quota


def test_on_s3_a_dot_group_cannot_reach_another_groups_objects(mitosis, dot_user, s3_store):
    """S3 object names are normalised: "attachments/./alice/x" would be alice's x."""
    import requests

    _, s3, bucket = s3_store
    url = mitosis.post("/groups/alice/attachments", {"key": "x", "content_length": 6}, format="json").json()["url"]
    assert requests.put(url, data=b"secret", timeout=10).status_code == 200
    upload = dot_user.post("/groups/./attachments", {"key": "alice/x", "content_length": 6}, format="json")
    assert upload.status_code == 400 and upload.json()["msg"].startswith("group_name: ")
    Attachment.objects.create(group=Group.objects.get(name="."), key="alice/x", size=6)  # a row from before the rule
    download = dot_user.get("/groups/./download/attachments/alice/x")
    assert download.status_code == 400 and "Location" not in download
    listed = dot_user.post("/groups/./download/attachments/list", {"keys": ["alice/x"]}, format="json")
    assert listed.status_code == 400 and "secret" not in listed.content.decode()
    assert s3.get_object(Bucket=bucket, Key="attachments/alice/x")["Body"].read() == b"secret"


# SECTION signed URLs


def signed(payload: dict, salt: str, *, lifetime: int, signed_ago: int = 0) -> str:
    """A token as backends._sign makes it, optionally signed `signed_ago` seconds in the past."""

    class Past(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - signed_ago)

    return Past(salt=salt).sign_object({**payload, "e": int(time.time()) + lifetime}, compress=True)


def row(mitosis, key="k", size=4) -> Attachment:
    assert mitosis.post("/groups/alice/attachments", {"key": key, "content_length": size},
                        format="json").status_code == 200
    return Attachment.objects.get(key=key)


def test_download_urls_are_refused_after_their_expiry(mitosis, local_store):
    url = mitosis.post("/groups/alice/attachments", {"key": "k", "content_length": 4}, format="json").json()["url"]
    assert put_bytes(mitosis, url, b"data").status_code == 200
    location = mitosis.get("/groups/alice/download/attachments/k")["Location"]
    assert local_get(mitosis, location)[1] == b"data"  # the fresh URL works
    expired = signed({"n": "attachments/alice/k"}, backends.DOWNLOAD_SALT, lifetime=-1)
    response = mitosis.get(f"/storage/download/{expired}")
    assert response.status_code == 403 and response.json() == {"detail": "URL expired; ask the API for a new one"}


@pytest.mark.parametrize("salt, method", [(backends.UPLOAD_SALT, "PUT"), (backends.DOWNLOAD_SALT, "GET")])
def test_a_signature_older_than_the_longest_lifetime_is_refused(salt, method, mitosis, local_store):
    """Even with an expiry inside the payload far ahead (a server bug that signed too long a
    lifetime): the signature's own age is capped at the longest lifetime Drover gives."""
    attachment = row(mitosis)
    token = signed({"n": "attachments/alice/k", "l": 4, "r": ["attachment", attachment.pk]}, salt,
                   lifetime=10 * backends.DOWNLOAD_MAX_SECS, signed_ago=backends.DOWNLOAD_MAX_SECS + 60)
    route = "upload" if method == "PUT" else "download"
    response = mitosis.generic(method, f"/storage/{route}/{token}", b"data", content_type="application/octet-stream")
    assert response.status_code == 403 and "expired" in response.json()["detail"]
    assert not local_store.exists("attachments/alice/k")


OUTSIDE_NAMES = ["../outside.txt", "../../outside.txt", "attachments/../../outside.txt", "../x/outside.txt",
                 "{outside}", "attachments/alice/../../../outside.txt"]


@pytest.mark.parametrize("name", OUTSIDE_NAMES)
def test_validly_signed_names_cannot_leave_the_store(name, mitosis, local_store, tmp_path):
    """Only the server signs names, and it builds them from checked keys; should one ever name a
    path outside the store, neither a download nor an upload reaches it (400 or 404, never 500)."""
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not yours")
    name = name.format(outside=outside)
    token = signed({"n": name}, backends.DOWNLOAD_SALT, lifetime=60)
    response = mitosis.get(f"/storage/download/{token}")
    assert response.status_code in (400, 404), response.status_code
    assert b"not yours" not in (b"".join(response.streaming_content) if response.streaming else response.content)
    assert response.json()["detail"]
    attachment = row(mitosis, size=4)
    token = signed({"n": name, "l": 4, "r": ["attachment", attachment.pk]}, backends.UPLOAD_SALT, lifetime=60)
    response = mitosis.generic("PUT", f"/storage/upload/{token}", b"mine", content_type="application/octet-stream")
    assert response.status_code in (400, 404), response.status_code
    assert outside.read_bytes() == b"not yours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["objects", "outside.txt"]  # nothing written beside the store
    assert not any((Path(local_store.location) / ".incoming").glob("*"))  # no temporary file left


def test_an_upload_without_content_length_is_411_and_stores_nothing(mitosis, local_store):
    url = mitosis.post("/groups/alice/attachments", {"key": "k", "content_length": 4}, format="json").json()["url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    response = mitosis.generic("PUT", path, b"data", content_type="application/octet-stream", CONTENT_LENGTH="")
    assert response.status_code == 411 and response.json()["detail"].startswith("Content-Length: required")
    assert not local_store.exists("attachments/alice/k")
