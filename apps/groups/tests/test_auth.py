"""Every way in (JWT from /login and /token/, HTTP Basic, API key in both headers, session),
and every way out (locked, deleted, password changed, new login without retain)."""

import pytest
from django.core.management import call_command

from apps.groups import services
from apps.groups.models import ApiKey
from conftest import basic_header, md5_list

pytestmark = pytest.mark.django_db


def auth_as(api, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    return api.get("/auth")


def test_anonymous_gets_401_json_in_mitosis_shape(api):
    response = api.get("/auth")
    assert response.status_code == 401
    assert response.json() == {"msg": "Authentication credentials were not provided.",
                                "error": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_jwt_from_login(alice, login):
    client = login("alice", "pw-alice")
    response = client.get("/auth")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"alice"


def test_jwt_from_token_endpoint_with_plain_password(alice, api):
    response = api.post("/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert auth_as(api, "Bearer " + response.json()["access"]).content == b"alice"
    refreshed = api.post("/token/refresh/", {"refresh": response.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert auth_as(api, "Bearer " + refreshed.json()["access"]).content == b"alice"


def test_token_endpoint_refuses_wrong_password(alice, api):
    response = api.post("/token/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert "access" not in response.json()


def test_http_basic(alice, api):
    assert auth_as(api, basic_header("alice", "pw-alice")).content == b"alice"
    assert auth_as(api, basic_header("alice", "wrong")).status_code == 401


@pytest.mark.parametrize("how", ["authorization", "x-api-key"])
def test_api_key_both_headers_and_stored_hashed(alice, api, how):
    row, key = services.api_key_create(user=alice, name="ci")
    assert key.startswith("drv_") and key not in row.key_hash and row.key_hash == ApiKey.hash_key(key)
    if how == "authorization":
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    else:
        api.credentials(HTTP_X_API_KEY=key)
    response = api.get("/auth")
    assert response.status_code == 200 and response.content == b"alice"
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_wrong_and_revoked_api_keys_are_refused(alice, api):
    row, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key + "x")
    assert api.get("/auth").status_code == 401
    services.api_key_revoke(key_id=row.pk)
    api.credentials(HTTP_X_API_KEY=key)
    assert api.get("/auth").status_code == 401


def test_create_api_key_command_prints_key_once(alice, api, capsys):
    call_command("create_api_key", "alice", "--name", "laptop")
    key = capsys.readouterr().out.strip()
    stored = ApiKey.objects.get(user=alice)
    assert stored.name == "laptop" and stored.key_hash == ApiKey.hash_key(key)
    assert not ApiKey.objects.filter(key_hash=key).exists()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/auth").content == b"alice"


def test_create_api_key_command_unknown_user_says_what_to_do(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="createsuperuser"):
        call_command("create_api_key", "ghost")


def test_session_auth_after_console_login(root, client):
    assert client.login(username="root", password="pw-root")
    response = client.get("/auth")
    assert response.status_code == 200 and response.content == b"root"


@pytest.mark.parametrize("state", ["Locked", "Deleted"])
def test_inactive_users_cannot_log_in_and_lose_every_credential(alice, api, login, state):
    jwt_client = login("alice", "pw-alice")
    _, key = services.api_key_create(user=alice)
    pair = api.post("/token/", {"username": "alice", "password": "pw-alice"}, format="json").json()

    services.user_set_state(username="alice", state=state)

    assert jwt_client.get("/auth").status_code == 401
    assert auth_as(api, f"Api-Key {key}").status_code == 401
    assert auth_as(api, basic_header("alice", "pw-alice")).status_code == 401
    assert auth_as(api, "Bearer " + pair["access"]).status_code == 401
    api.credentials()
    assert api.post("/token/refresh/", {"refresh": pair["refresh"]}, format="json").status_code == 401
    assert api.post("/token/", {"username": "alice", "password": "pw-alice"}, format="json").status_code == 401
    refused = api.post("/login", {"username": "alice", "md5_password": md5_list("pw-alice")}, format="json")
    assert refused.status_code == 403
    assert refused.json()["msg"] == f"User alice is {state}"


def test_login_without_retain_ends_earlier_tokens_and_retain_keeps_them(alice, login):
    first = login("alice", "pw-alice")
    kept = login("alice", "pw-alice", retain=True)
    assert first.get("/auth").status_code == 200 and kept.get("/auth").status_code == 200
    fresh = login("alice", "pw-alice")
    assert first.get("/auth").status_code == 401
    assert kept.get("/auth").status_code == 401
    assert fresh.get("/auth").status_code == 200


def test_password_change_returns_new_token_and_ends_the_others(alice, login, api):
    other_session = login("alice", "pw-alice", retain=True)
    client = login("alice", "pw-alice", retain=True)
    response = client.post("/users/alice/password",
                           {"old_md5_password": md5_list("pw-alice"), "new_md5_password": md5_list("pw-new")},
                           format="json")
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert other_session.get("/auth").status_code == 401
    assert client.get("/auth").status_code == 401
    assert auth_as(api, "Bearer " + new_token).content == b"alice"
    # The new password works everywhere a password is accepted, the old one nowhere.
    assert auth_as(api, basic_header("alice", "pw-new")).status_code == 200
    assert auth_as(api, basic_header("alice", "pw-alice")).status_code == 401
    api.credentials()
    assert api.post("/login", {"username": "alice", "md5_password": md5_list("pw-new")}, format="json").status_code == 200


def test_password_is_stored_with_django_hasher_never_as_md5(alice):
    alice.refresh_from_db()
    digest = bytes(md5_list("pw-alice")).hex()
    assert digest not in alice.password
    assert alice.password.split("$")[0] in {"md5", "pbkdf2_sha256", "argon2", "bcrypt_sha256"}


def test_manager_created_users_log_in_everywhere(api, db):
    from apps.groups.models import Group, User

    User.objects.create_superuser(username="boss", email="", password="pw-boss")
    assert Group.objects.filter(name="boss", memberships__user__username="boss").exists()
    login = api.post("/login", {"username": "boss", "md5_password": md5_list("pw-boss")}, format="json")
    assert login.status_code == 200
    assert auth_as(api, basic_header("boss", "pw-boss")).content == b"boss"


def test_basic_auth_with_nul_is_401(alice, api):
    assert auth_as(api, basic_header("ali\x00ce", "pw-alice")).status_code == 401


def test_body_over_the_limit_is_413_in_the_dialect_shape(alice, api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/login", {"username": "alice", "md5_password": md5_list("x"), "pad": "x" * 5000},
                        format="json")
    assert response.status_code == 413
    assert response.json()["msg"].startswith("body: larger than")
