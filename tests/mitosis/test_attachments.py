"""Mitosis group attachments on the local storage backend: upload URL (exist, size = max,
storage accounting, quota), the bytes through the signed URLs, metadata, query, downloads and
deletes (single, by filter, by keys, admin), bad keys, invisibility of other groups, routing of
keys that contain "/" or the fixed words, and the signed URL endpoints themselves."""

import hashlib
import re

import pytest
import requests
from django.core import signing

from apps.groups.models import Group
from apps.storage import backends
from apps.storage.models import Attachment

from .conftest_storage import age, join, local_get, local_store, put_bytes

pytestmark = pytest.mark.django_db

TIME_RE = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{1,6} \+00:00:00$"


@pytest.fixture
def user(alice, login, local_store):
    return login("alice", "pw-alice")


def upload(client, key, data: bytes, group="alice"):
    response = client.post(f"/groups/{group}/attachments", {"key": key, "content_length": len(data)}, format="json")
    assert response.status_code == 200, response.content
    assert put_bytes(client, response.json()["url"], data).status_code == 200
    return response.json()


def used(group="alice") -> int:
    return Group.objects.get(name=group).storage_used


def test_upload_then_download_the_same_bytes(user, local_store):
    data = bytes(range(256)) * 40
    response = user.post("/groups/alice/attachments", {"key": "datasets/in.bin", "content_length": len(data)},
                         format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "exist"} and body["exist"] is False
    assert body["url"].startswith("http://testserver/storage/upload/")
    row = Attachment.objects.get(group__name="alice", key="datasets/in.bin")
    assert row.size == len(data) and used() == len(data)
    assert put_bytes(user, body["url"], data).status_code == 200
    with local_store.open("attachments/alice/datasets/in.bin", "rb") as handle:
        assert handle.read() == data

    download = user.get("/groups/alice/download/attachments/datasets/in.bin")
    assert download.status_code == 302
    assert download.json() == {"url": download["Location"], "size": len(data)}
    fetched, content = local_get(user, download["Location"])
    assert fetched.status_code == 200 and content == data
    assert 'filename="in.bin"' in fetched["Content-Disposition"]


def test_download_answers_200_json_when_redirects_are_off(user, settings):
    upload(user, "a.txt", b"abc")
    settings.DROVER_STORAGE_DOWNLOAD_REDIRECT = False
    response = user.get("/groups/alice/download/attachments/a.txt")
    assert response.status_code == 200 and response.json()["size"] == 3
    assert local_get(user, response.json()["url"])[1] == b"abc"


def test_reupload_keeps_the_larger_size_and_accounts_the_difference(user):
    assert upload(user, "k", b"x" * 10)["exist"] is False
    assert upload(user, "k", b"y" * 25)["exist"] is True
    assert Attachment.objects.get(key="k").size == 25 and used() == 25
    assert upload(user, "k", b"z" * 5)["exist"] is True
    assert Attachment.objects.get(key="k").size == 25 and used() == 25
    metadata = user.get("/groups/alice/attachments/k").json()
    assert metadata["size"] == 25


def test_metadata_has_the_seed_shape(user):
    upload(user, "dir/sub/file.tar.gz", b"12345")
    response = user.get("/groups/alice/attachments/dir/sub/file.tar.gz")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"content_type", "size", "created_at", "updated_at"}
    assert body["content_type"] == "application/octet-stream" and body["size"] == 5
    assert re.match(TIME_RE, body["created_at"]) and re.match(TIME_RE, body["updated_at"])


def test_a_key_and_a_key_below_it_both_exist(user, local_store):
    upload(user, "data", b"file")
    upload(user, "data/inner", b"below")
    assert local_get(user, user.get("/groups/alice/download/attachments/data")["Location"])[1] == b"file"
    assert local_get(user, user.get("/groups/alice/download/attachments/data/inner")["Location"])[1] == b"below"


BAD_KEYS = ["../escape", "a/../../b", "/abs/path", "a//b", "a\\b", "./a", "a/.", "dir/", "", "k" * 1001, "a\x00b",
            "tab\there"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_naming_the_field_and_change_nothing(user, key):
    response = user.post("/groups/alice/attachments", {"key": key, "content_length": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["msg"].startswith("key: ")
    assert not Attachment.objects.exists() and used() == 0


@pytest.mark.parametrize("path", ["a//b", "a/../b", "dir/", "./a", "a\\b"])
def test_bad_keys_in_paths_are_400(user, path):
    upload(user, "a/b", b"1")
    for url in (f"/groups/alice/attachments/{path}", f"/groups/alice/download/attachments/{path}"):
        response = user.get(url)
        assert response.status_code == 400 and response.json()["msg"].startswith("key: "), (url, response.content)


@pytest.mark.parametrize("body, field", [({"key": "a"}, "content_length"), ({"key": "a", "content_length": -1},
                                         "content_length"), ({"content_length": 1}, "key"),
                                         ({"key": "a", "content_length": "big"}, "content_length")])
def test_bad_upload_bodies(user, body, field):
    response = user.post("/groups/alice/attachments", body, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith(field)
    assert not Attachment.objects.exists()


def test_quota_refusal_changes_nothing(user):
    Group.objects.filter(name="alice").update(storage_quota=100)
    upload(user, "first", b"x" * 60)
    response = user.post("/groups/alice/attachments", {"key": "second", "content_length": 41}, format="json")
    assert response.status_code == 403 and response.json()["msg"] == "Resource quota exceeded"
    assert not Attachment.objects.filter(key="second").exists() and used() == 60
    grow = user.post("/groups/alice/attachments", {"key": "first", "content_length": 101}, format="json")
    assert grow.status_code == 403
    assert Attachment.objects.get(key="first").size == 60 and used() == 60
    assert upload(user, "second", b"x" * 40)  # exactly up to the quota is fine
    assert used() == 100


def test_a_locked_group_takes_no_uploads(user):
    Group.objects.filter(name="alice").update(state="Locked")
    response = user.post("/groups/alice/attachments", {"key": "a", "content_length": 1}, format="json")
    assert response.status_code == 400 and "not active" in response.json()["msg"]
    assert not Attachment.objects.exists()


def test_other_users_groups_are_invisible(user, bob, login):
    upload(user, "secret", b"s")
    other = login("bob", "pw-bob")
    calls = [
        other.post("/groups/alice/attachments", {"key": "x", "content_length": 1}, format="json"),
        other.post("/groups/alice/attachments/query", {"count": False}, format="json"),
        other.get("/groups/alice/attachments/secret"),
        other.delete("/groups/alice/attachments/secret"),
        other.get("/groups/alice/download/attachments/secret"),
        other.post("/groups/alice/download/attachments", {}, format="json"),
        other.post("/groups/alice/download/attachments/list", {"keys": ["secret"]}, format="json"),
        other.post("/groups/alice/delete/attachments", {}, format="json"),
        other.post("/groups/alice/delete/attachments/list", {"keys": ["secret"]}, format="json"),
        other.post("/groups/nosuch/attachments", {"key": "x", "content_length": 1}, format="json"),
    ]
    for response in calls:
        assert response.status_code == 404, response.content
        assert "not found" in response.json()["msg"]
    assert list(Attachment.objects.values_list("key", flat=True)) == ["secret"] and used() == 1


def test_read_members_read_but_do_not_write(user, bob, login):
    upload(user, "shared", b"abc")
    age(Attachment.objects.all())
    join("alice", bob, "Read")
    reader = login("bob", "pw-bob")
    assert reader.get("/groups/alice/attachments/shared").status_code == 200
    assert reader.get("/groups/alice/download/attachments/shared").status_code == 302
    assert reader.post("/groups/alice/attachments/query", {}, format="json").json()["count"] == 1
    for response in (
        reader.post("/groups/alice/attachments", {"key": "mine", "content_length": 1}, format="json"),
        reader.delete("/groups/alice/attachments/shared"),
        reader.post("/groups/alice/delete/attachments", {}, format="json"),
        reader.post("/groups/alice/delete/attachments/list", {"keys": ["shared"]}, format="json"),
    ):
        assert response.status_code == 403, response.content
    assert list(Attachment.objects.values_list("key", flat=True)) == ["shared"] and used() == 3
    join("alice", bob, "Write")
    assert reader.post("/groups/alice/attachments", {"key": "mine", "content_length": 1}, format="json").status_code \
        == 200


def test_query_filters_pages_and_counts(user, django_assert_max_num_queries):
    for key in ["datasets/a", "datasets/b", "models/c", "notes/datasets-readme", "Datasets/upper"]:
        user.post("/groups/alice/attachments", {"key": key, "content_length": 1}, format="json")
    with django_assert_max_num_queries(4):
        body = user.post("/groups/alice/attachments/query", {"key": "datasets", "count": False}, format="json").json()
    assert body["group_name"] == "alice" and body["count"] == 3
    assert [a["key"] for a in body["attachments"]] == ["datasets/a", "datasets/b", "notes/datasets-readme"]
    assert set(body["attachments"][0]) == {"key", "content_type", "size", "created_at", "updated_at"}
    page = user.post("/groups/alice/attachments/query", {"key": "datasets", "limit": 2, "offset": 1},
                     format="json").json()
    assert [a["key"] for a in page["attachments"]] == ["datasets/b", "notes/datasets-readme"] and page["count"] == 2
    everything = user.post("/groups/alice/attachments/query", {"key": None}, format="json").json()
    assert everything["count"] == 5
    far = user.post("/groups/alice/attachments/query", {"limit": 2**62, "offset": 2**62}, format="json")
    assert far.status_code == 200 and far.json()["attachments"] == []
    counted = user.post("/groups/alice/attachments/query", {"key": "datasets", "count": True}, format="json").json()
    assert counted == {"count": 3, "attachments": [], "group_name": "alice"}


@pytest.mark.parametrize("body", [{"limit": -1}, {"offset": "x"}, {"count": "maybe"}, ["not", "an", "object"],
                                  {"limit": 2**63}, {"offset": 2**62 + 1}])
def test_query_bad_input(user, body):
    response = user.post("/groups/alice/attachments/query", body, format="json")
    assert response.status_code == 400 and "msg" in response.json()


def test_query_count_does_not_grow_with_the_rows(user, django_assert_max_num_queries):
    for index in range(30):
        user.post("/groups/alice/attachments", {"key": f"k{index:02}", "content_length": 1}, format="json")
    with django_assert_max_num_queries(4):
        assert len(user.post("/groups/alice/attachments/query", {}, format="json").json()["attachments"]) == 30
    with django_assert_max_num_queries(4):
        assert len(user.post("/groups/alice/download/attachments", {}, format="json").json()["downloads"]) == 30
    keys = [f"k{index:02}" for index in range(30)]
    with django_assert_max_num_queries(4):
        assert len(user.post("/groups/alice/download/attachments/list", {"keys": keys},
                             format="json").json()["downloads"]) == 30
    age(Attachment.objects.all())
    with django_assert_max_num_queries(10):
        assert user.post("/groups/alice/delete/attachments/list", {"keys": keys[:15]},
                         format="json").json()["deleted_count"] == 15
    with django_assert_max_num_queries(10):
        assert user.post("/groups/alice/delete/attachments", {}, format="json").json()["deleted_count"] == 15


def test_batch_downloads_by_filter_and_by_keys(user):
    upload(user, "in/a", b"aa")
    upload(user, "in/b", b"bbb")
    upload(user, "out/c", b"c")
    by_filter = user.post("/groups/alice/download/attachments", {"key": "in/", "limit": 10, "offset": 0},
                          format="json").json()
    assert by_filter["group_name"] == "alice"
    assert [(d["key"], d["size"]) for d in by_filter["downloads"]] == [("in/a", 2), ("in/b", 3)]
    assert local_get(user, by_filter["downloads"][1]["url"])[1] == b"bbb"
    by_keys = user.post("/groups/alice/download/attachments/list", {"keys": ["out/c", "missing", "in/a"]},
                        format="json").json()
    assert [d["key"] for d in by_keys["downloads"]] == ["in/a", "out/c"]
    assert set(by_keys["downloads"][0]) == {"key", "url", "size"}
    empty = user.post("/groups/alice/download/attachments/list", {"keys": []}, format="json")
    assert empty.status_code == 400 and empty.json()["msg"] == "keys: Keys list cannot be empty"
    bad = user.post("/groups/alice/download/attachments/list", {"keys": ["ok", "../no"]}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("keys.1: ")


def test_delete_waits_an_hour_then_frees_space_and_the_object(user, local_store, django_capture_on_commit_callbacks):
    upload(user, "old", b"12345")
    early = user.delete("/groups/alice/attachments/old")
    assert early.status_code == 400 and "last hour" in early.json()["msg"]
    assert Attachment.objects.filter(key="old").exists() and used() == 5
    age(Attachment.objects.all())
    with django_capture_on_commit_callbacks(execute=True):
        response = user.delete("/groups/alice/attachments/old")
    assert response.status_code == 200 and response.content == b""
    assert not Attachment.objects.exists() and used() == 0
    assert not local_store.exists("attachments/alice/old")
    assert user.delete("/groups/alice/attachments/old").status_code == 404


def test_delete_by_filter_and_by_keys(user, local_store, django_capture_on_commit_callbacks):
    for key in ["logs/1", "logs/2", "logs/3", "keep/1"]:
        upload(user, key, b"xy")
    age(Attachment.objects.exclude(key="logs/3"))
    with django_capture_on_commit_callbacks(execute=True):
        by_filter = user.post("/groups/alice/delete/attachments", {"key": "logs/"}, format="json")
    # logs/3 is younger than an hour: skipped silently
    assert by_filter.json() == {"deleted_count": 2, "group_name": "alice"}
    assert sorted(Attachment.objects.values_list("key", flat=True)) == ["keep/1", "logs/3"] and used() == 4
    assert not local_store.exists("attachments/alice/logs/1") and local_store.exists("attachments/alice/logs/3")
    with django_capture_on_commit_callbacks(execute=True):
        by_keys = user.post("/groups/alice/delete/attachments/list", {"keys": ["keep/1", "logs/3", "nope"]},
                            format="json")
    assert by_keys.json() == {"deleted_count": 1, "failed_keys": ["logs/3", "nope"], "group_name": "alice"}
    assert list(Attachment.objects.values_list("key", flat=True)) == ["logs/3"] and used() == 2
    assert not local_store.exists("attachments/alice/keep/1")
    empty = user.post("/groups/alice/delete/attachments/list", {"keys": []}, format="json")
    assert empty.status_code == 400


def test_admin_delete_is_staff_only_and_skips_the_hour(user, root, login, local_store,
                                                      django_capture_on_commit_callbacks):
    upload(user, "fresh/file", b"abc")
    assert user.delete("/admin/groups/alice/attachments/fresh/file").status_code == 403
    admin = login("root", "pw-root")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.delete("/admin/groups/alice/attachments/fresh/file")
    assert response.status_code == 200
    assert not Attachment.objects.exists() and used() == 0
    assert not local_store.exists("attachments/alice/fresh/file")
    missing = admin.delete("/admin/groups/alice/attachments/fresh/file")
    assert missing.status_code == 404 and missing.json()["msg"] == \
        "Attachment of group alice and key fresh/file not found"
    assert admin.delete("/admin/groups/nosuch/attachments/x").status_code == 404


def test_staff_see_every_group(user, root, login):
    upload(user, "a", b"1")
    admin = login("root", "pw-root")
    assert admin.get("/groups/alice/attachments/a").status_code == 200
    assert admin.post("/groups/alice/attachments/query", {}, format="json").json()["count"] == 1


def test_fixed_words_are_also_keys(user, django_capture_on_commit_callbacks):
    upload(user, "query", b"q")
    upload(user, "list", b"ll")
    assert user.get("/groups/alice/attachments/query").json()["size"] == 1
    assert user.post("/groups/alice/attachments/query", {}, format="json").json()["count"] == 2
    listed = user.get("/groups/alice/download/attachments/list")
    assert listed.status_code == 302 and listed.json()["size"] == 2
    assert user.post("/groups/alice/download/attachments/list", {"keys": ["list"]},
                     format="json").json()["downloads"][0]["key"] == "list"
    assert user.get("/groups/alice/attachments/query/deeper").status_code == 404  # a key, not the query route
    age(Attachment.objects.all())
    assert user.delete("/groups/alice/attachments/query").status_code == 200
    assert list(Attachment.objects.values_list("key", flat=True)) == ["list"]


def test_keys_that_look_like_other_routes(user, django_capture_on_commit_callbacks):
    upload(user, "download/attachments/x", b"1")
    upload(user, "delete/attachments/list", b"22")
    assert user.get("/groups/alice/attachments/download/attachments/x").json()["size"] == 1
    assert user.get("/groups/alice/download/attachments/download/attachments/x").json()["size"] == 1
    assert user.get("/groups/alice/download/attachments/delete/attachments/list").json()["size"] == 2
    # the batch delete route is not the key "delete/attachments/list"
    none = user.post("/groups/alice/delete/attachments/list", {"keys": ["nothing"]}, format="json")
    assert none.json() == {"deleted_count": 0, "failed_keys": ["nothing"], "group_name": "alice"}
    age(Attachment.objects.all())
    with django_capture_on_commit_callbacks(execute=True):
        assert user.delete("/groups/alice/attachments/delete/attachments/list").status_code == 200
    assert list(Attachment.objects.values_list("key", flat=True)) == ["download/attachments/x"]


def test_unknown_methods_and_paths(user):
    assert user.put("/groups/alice/attachments/a", {}, format="json").status_code == 405
    assert user.get("/groups/alice/attachments").status_code == 405
    response = user.get("/groups/alice/nothing/here")
    assert response.status_code == 404 and "msg" in response.json()


# SECTION the signed URL endpoints


def upload_url(client, key="k", size=4) -> str:
    return client.post("/groups/alice/attachments", {"key": key, "content_length": size}, format="json").json()["url"]


def test_upload_refuses_a_longer_or_shorter_body(user, local_store):
    url = upload_url(user, size=4)
    longer = put_bytes(user, url, b"12345")
    assert longer.status_code == 413 and "more than the 4 declared" in longer.json()["detail"]
    shorter = put_bytes(user, url, b"123")
    assert shorter.status_code == 400
    assert not local_store.exists("attachments/alice/k")
    assert put_bytes(user, url, b"1234").status_code == 200
    assert local_store.open("attachments/alice/k").read() == b"1234"


def test_tampered_expired_or_misused_tokens_are_403(user, local_store):
    url = upload_url(user)
    token = url.rsplit("/", 1)[1]
    assert put_bytes(user, url[:-2] + ("AA" if not url.endswith("AA") else "BB"), b"1234").status_code == 403
    assert user.get(f"/storage/download/{token}").status_code == 403  # an upload token does not download
    expired = backends._sign({"n": "attachments/alice/k", "l": 4, "r": ["attachment", 1]}, backends.UPLOAD_SALT, -5)
    response = user.generic("PUT", f"/storage/upload/{expired}", b"1234", content_type="application/octet-stream")
    assert response.status_code == 403 and "expired" in response.json()["detail"]
    forged = signing.dumps({"n": "attachments/alice/k", "l": 4, "e": 2**40}, salt="wrong", compress=True)
    assert user.generic("PUT", f"/storage/upload/{forged}", b"1234").status_code == 403
    assert not local_store.exists("attachments/alice/k")


def test_upload_url_needs_put_and_a_row(user, local_store):
    url = upload_url(user)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert user.post(path, b"1234", content_type="application/octet-stream").status_code == 405
    Attachment.objects.all().delete()
    gone = put_bytes(user, url, b"1234")
    assert gone.status_code == 404 and not local_store.exists("attachments/alice/k")


def test_download_of_an_object_never_uploaded_is_404(user):
    user.post("/groups/alice/attachments", {"key": "pending", "content_length": 3}, format="json")
    location = user.get("/groups/alice/download/attachments/pending")["Location"]
    response, _ = local_get(user, location)
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_real_http_put_and_get_with_requests(alice, live_server, local_store):
    """As a client does it: requests.put(url, data=bytes), no form encoding."""
    md5 = list(hashlib.md5(b"pw-alice").digest())
    token = requests.post(f"{live_server.url}/login", json={"username": "alice", "md5_password": md5},
                          timeout=10).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    data = bytes(range(256)) * 4096 + b"tail"
    body = requests.post(f"{live_server.url}/groups/alice/attachments", headers=headers, timeout=10,
                         json={"key": "big/blob.bin", "content_length": len(data)}).json()
    assert body["url"].startswith(live_server.url)
    put = requests.put(body["url"], data=data, timeout=30)
    assert put.status_code == 200, put.content
    with local_store.open("attachments/alice/big/blob.bin", "rb") as handle:
        assert handle.read() == data
    download = requests.get(f"{live_server.url}/groups/alice/download/attachments/big/blob.bin", headers=headers,
                            allow_redirects=False, timeout=10)
    assert download.status_code == 302
    assert requests.get(download.headers["Location"], timeout=30).content == data
    followed = requests.get(f"{live_server.url}/groups/alice/download/attachments/big/blob.bin", headers=headers,
                            timeout=30)
    assert followed.content == data


def test_console_lists_attachments_and_artifacts_read_only(user, root, client):
    upload(user, "console/file", b"abc")
    client.force_login(root)
    page = client.get("/console/storage/attachment/?q=console")
    assert page.status_code == 200 and b"console/file" in page.content
    assert client.get("/console/storage/artifact/?content_type__exact=result").status_code == 200
    assert client.get("/console/storage/attachment/add/").status_code == 403
