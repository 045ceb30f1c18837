"""Password endpoints refuse brute force: past DROVER_LOGIN_RATE attempts per username or per
address, 429 with Retry-After in the dialect's error shape; other users and other
endpoints are not affected."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from conftest import md5_list

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def budget(settings):
    settings.DROVER_LOGIN_RATE = "3/min"
    cache.clear()
    yield
    cache.clear()


def mitosis_login(username, password, address="10.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/login", {"username": username, "md5_password": md5_list(password), "retain": False}, format="json")


def test_login_attempts_per_username_are_limited(alice, bob):
    assert [mitosis_login("alice", "wrong", f"10.0.0.{i}").status_code for i in range(3)] == [401, 401, 401]
    refused = mitosis_login("alice", "pw-alice", "10.0.0.9")  # right password, from a fresh address: still refused
    assert refused.status_code == 429
    assert "throttled" in refused.json()["msg"].lower() and int(refused["Retry-After"]) > 0
    assert "token" not in refused.json()
    assert mitosis_login("bob", "pw-bob", "10.0.0.10").status_code == 200  # another user is unaffected


def test_login_attempts_per_address_are_limited(alice, bob, make_user):
    make_user("carol", "pw-carol")
    for username in ("alice", "bob", "carol"):
        assert mitosis_login(username, "wrong", "10.9.9.9").status_code == 401
    assert mitosis_login("alice", "pw-alice", "10.9.9.9").status_code == 429
    assert mitosis_login("bob", "pw-bob", "10.9.9.8").status_code == 200  # another address is unaffected


def test_token_endpoint_is_limited_in_the_default_shape(alice):
    api = APIClient(REMOTE_ADDR="10.1.1.1")
    for _ in range(3):
        assert api.post("/token/", {"username": "alice", "password": "nope"}, format="json").status_code == 401
    refused = api.post("/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert refused.status_code == 429 and "detail" in refused.json() and "access" not in refused.json()


def test_authenticated_endpoints_are_not_limited(alice, login):
    client = login("alice", "pw-alice")
    assert all(client.get("/auth").status_code == 200 for _ in range(10))
