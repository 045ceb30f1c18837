"""Seed 003's users, groups and admin operations with their exact request/response shapes."""

import pytest

from apps.groups.choices import Role
from apps.groups.models import Group, Membership, User
from conftest import md5_list

pytestmark = pytest.mark.django_db


# SECTION login input validation


@pytest.mark.parametrize(
    "md5, needle",
    [
        (list(range(15)), "md5_password: Ensure this field has at least 16 elements."),
        (list(range(17)), "md5_password: Ensure this field has no more than 16 elements."),
        ([0] * 15 + [256], "md5_password.15: Ensure this value is less than or equal to 255."),
        ([-1] + [0] * 15, "md5_password.0: Ensure this value is greater than or equal to 0."),
        ("abc", "md5_password"),
    ],
)
def test_login_rejects_bad_md5_with_400_naming_the_field(alice, api, md5, needle):
    response = api.post("/login", {"username": "alice", "md5_password": md5}, format="json")
    assert response.status_code == 400
    assert needle in response.json()["msg"]
    assert response.json()["error"] == response.json()["msg"]


def test_login_wrong_password_and_unknown_user_are_401(alice, api):
    for username, password in [("alice", "nope"), ("ghost", "pw")]:
        response = api.post("/login", {"username": username, "md5_password": md5_list(password)}, format="json")
        assert response.status_code == 401
        assert response.json()["msg"] == "Wrong credentials"


def test_login_non_json_body_is_400(alice, api):
    response = api.post("/login", "not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["msg"].startswith("body: JSON parse error")


def test_login_changes_nothing_on_bad_input(alice, api):
    before = User.objects.get(username="alice").auth_signature
    api.post("/login", {"username": "alice", "md5_password": [1]}, format="json")
    assert User.objects.get(username="alice").auth_signature == before


# SECTION users and groups


def test_every_user_has_a_personal_admin_group(alice, login):
    client = login("alice", "pw-alice")
    response = client.get("/users/groups")
    assert response.status_code == 200
    assert response.json() == {"groups": {"alice": "Admin"}}


def test_change_someone_elses_password_is_403(alice, bob, login):
    client = login("alice", "pw-alice")
    response = client.post("/users/bob/password",
                           {"old_md5_password": md5_list("pw-bob"), "new_md5_password": md5_list("x")}, format="json")
    assert response.status_code == 403
    assert User.objects.get(username="bob").check_password("pw-bob")


def test_change_password_with_wrong_old_password_is_401_and_changes_nothing(alice, login):
    client = login("alice", "pw-alice")
    response = client.post("/users/alice/password",
                           {"old_md5_password": md5_list("bad"), "new_md5_password": md5_list("x")}, format="json")
    assert response.status_code == 401
    assert User.objects.get(username="alice").check_password("pw-alice")


def test_create_group_and_get_it_as_admin(alice, login):
    client = login("alice", "pw-alice")
    response = client.post("/groups", {"group_name": "research-team"}, format="json")
    assert response.status_code == 200 and response.content == b""
    info = client.get("/groups/research-team").json()
    assert info["group_name"] == "research-team"
    assert info["creator_username"] == "alice"
    assert info["state"] == "Active"
    assert info["task_count"] == 0 and info["worker_count"] == 0
    assert info["storage_quota"] == 16_000_000_000 and info["storage_used"] == 0
    assert info["users_in_group"] == {"alice": "Admin"}
    assert info["created_at"].endswith("Z")
    assert set(info) == {"group_name", "creator_username", "created_at", "updated_at", "state", "task_count",
                         "storage_quota", "storage_used", "worker_count", "users_in_group"}


def test_group_name_conflicts_and_validation(alice, bob, login):
    client = login("alice", "pw-alice")
    assert client.post("/groups", {"group_name": "team"}, format="json").status_code == 200
    conflict = client.post("/groups", {"group_name": "team"}, format="json")
    assert conflict.status_code == 409 and "already exists" in conflict.json()["msg"]
    assert client.post("/groups", {"group_name": "bob"}, format="json").status_code == 409  # a user's name
    bad = client.post("/groups", {"group_name": "no spaces"}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("group_name:")
    assert Group.objects.filter(name="no spaces").count() == 0


def test_group_quota_limits_how_many_groups_a_user_creates(alice, login):
    User.objects.filter(pk=alice.pk).update(group_quota=2)  # personal group + one
    client = login("alice", "pw-alice")
    assert client.post("/groups", {"group_name": "one"}, format="json").status_code == 200
    refused = client.post("/groups", {"group_name": "two"}, format="json")
    assert refused.status_code == 403 and "quota" in refused.json()["msg"]
    assert not Group.objects.filter(name="two").exists()


def test_members_see_groups_by_role_and_others_do_not(alice, bob, make_user, login):
    make_user("carol", "pw-carol")
    a = login("alice", "pw-alice")
    a.post("/groups", {"group_name": "lab"}, format="json")
    response = a.put("/groups/lab/users", {"relations": {"bob": "Write", "carol": "Read"}}, format="json")
    assert response.status_code == 200
    assert dict(Membership.objects.filter(group__name="lab").values_list("user__username", "role")) == {
        "alice": Role.ADMIN, "bob": Role.WRITE, "carol": Role.READ}

    b = login("bob", "pw-bob")
    assert b.get("/users/groups").json() == {"groups": {"bob": "Admin", "lab": "Write"}}
    info = b.get("/groups/lab").json()
    assert info["users_in_group"] is None  # only group admins see the member list
    # a Write member cannot manage members
    assert b.put("/groups/lab/users", {"relations": {"carol": "Admin"}}, format="json").status_code == 403
    assert b.delete("/groups/lab/users?users=carol").status_code == 403

    removed = a.delete("/groups/lab/users?users=bob,carol")
    assert removed.status_code == 200
    assert list(Membership.objects.filter(group__name="lab").values_list("user__username", flat=True)) == ["alice"]
    assert b.get("/groups/lab").status_code == 403


def test_group_errors(alice, login):
    a = login("alice", "pw-alice")
    missing = a.get("/groups/nope")
    assert missing.status_code == 404 and missing.json() == {"msg": "Group nope not found", "error": "Group nope not found"}
    a.post("/groups", {"group_name": "lab"}, format="json")
    bad_role = a.put("/groups/lab/users", {"relations": {"alice": "Owner"}}, format="json")
    assert bad_role.status_code == 400 and "relations.alice" in bad_role.json()["msg"]
    ghost = a.put("/groups/lab/users", {"relations": {"ghost": "Read"}}, format="json")
    assert ghost.status_code == 400 and "ghost" in ghost.json()["msg"]
    empty = a.put("/groups/lab/users", {"relations": {}}, format="json")
    assert empty.status_code == 400 and empty.json()["msg"].startswith("relations:")
    assert Membership.objects.filter(group__name="lab").count() == 1


# SECTION admin


def test_admin_endpoints_need_admin(alice, login):
    client = login("alice", "pw-alice")
    for method, path, body in [
        ("post", "/admin/users", {"username": "x", "md5_password": md5_list("x"), "admin": False}),
        ("delete", "/admin/users/alice", None),
        ("post", "/admin/users/alice/password", {"new_md5_password": md5_list("x")}),
        ("post", "/admin/users/alice/group-quota", {"group_quota": "+5"}),
        ("post", "/admin/users/alice/state", {"state": "Locked"}),
        ("post", "/admin/groups/alice/storage-quota", {"storage_quota": "1GB"}),
    ]:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403, path
        assert response.json()["msg"] == "Permission denied: admin only"
    assert User.objects.get(username="alice").state == "Active"
    assert not User.objects.filter(username="x").exists()


def test_admin_creates_user_who_can_log_in(root, login, api):
    admin = login("root", "pw-root")
    response = admin.post("/admin/users", {"username": "dave", "md5_password": md5_list("pw-dave"), "admin": False},
                          format="json")
    assert response.status_code == 200
    dave = User.objects.get(username="dave")
    assert not dave.is_staff and dave.state == "Active"
    assert Membership.objects.get(user=dave, group__name="dave").role == Role.ADMIN
    assert login("dave", "pw-dave").get("/auth").content == b"dave"
    again = admin.post("/admin/users", {"username": "dave", "md5_password": md5_list("x"), "admin": True}, format="json")
    assert again.status_code == 409
    missing_admin = admin.post("/admin/users", {"username": "erin", "md5_password": md5_list("x")}, format="json")
    assert missing_admin.status_code == 400 and missing_admin.json()["msg"] == "admin: This field is required."


def test_admin_delete_state_and_password(root, alice, login):
    admin = login("root", "pw-root")
    response = admin.delete("/admin/users/alice")
    assert response.status_code == 200 and response.json() == {"state": "Deleted"}
    assert User.objects.get(username="alice").state == "Deleted"
    response = admin.post("/admin/users/alice/state", {"state": "Active"}, format="json")
    assert response.json() == {"state": "Active"}
    bad = admin.post("/admin/users/alice/state", {"state": "Sleeping"}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("state:")
    assert admin.post("/admin/users/ghost/state", {"state": "Locked"}, format="json").status_code == 404
    assert admin.delete("/admin/users/ghost").status_code == 404

    alice_client = login("alice", "pw-alice", retain=True)
    response = admin.post("/admin/users/alice/password", {"new_md5_password": md5_list("reset")}, format="json")
    assert response.status_code == 200
    assert alice_client.get("/auth").status_code == 401
    assert login("alice", "reset").get("/auth").content == b"alice"


@pytest.mark.parametrize("change, expected", [("+5", 13), ("-3", 5), ("=7", 7), ("7", 7), ("-100", 0)])
def test_admin_group_quota_changes(root, alice, login, change, expected):
    admin = login("root", "pw-root")
    response = admin.post("/admin/users/alice/group-quota", {"group_quota": change}, format="json")
    assert response.status_code == 200 and response.json() == {"group_quota": expected}
    assert User.objects.get(username="alice").group_quota == expected


def test_admin_group_quota_rejects_garbage(root, alice, login):
    admin = login("root", "pw-root")
    response = admin.post("/admin/users/alice/group-quota", {"group_quota": "+x"}, format="json")
    assert response.status_code == 400 and response.json()["msg"].startswith("group_quota:")
    assert User.objects.get(username="alice").group_quota == 8


@pytest.mark.parametrize("quota, expected", [("2GB", 2_000_000_000), ("512MiB", 536_870_912),
                                             ("+1GB", 17_000_000_000), ("-6GB", 10_000_000_000)])
def test_admin_storage_quota(root, alice, login, quota, expected):
    admin = login("root", "pw-root")
    response = admin.post("/admin/groups/alice/storage-quota", {"storage_quota": quota}, format="json")
    assert response.status_code == 200 and response.json() == {"storage_quota": expected}
    assert Group.objects.get(name="alice").storage_quota == expected


def test_admin_storage_quota_errors(root, login):
    admin = login("root", "pw-root")
    bad = admin.post("/admin/groups/root/storage-quota", {"storage_quota": "2XB"}, format="json")
    assert bad.status_code == 400 and bad.json()["msg"].startswith("storage_quota:")
    assert admin.post("/admin/groups/nope/storage-quota", {"storage_quota": "1GB"}, format="json").status_code == 404


def test_redis_info(alice, login, settings):
    settings.DROVER_PUBLIC_REDIS_URL = "redis://:pw@localhost:6379"
    assert login("alice", "pw-alice").get("/redis").json() == {"url": "redis://:pw@localhost:6379"}
