"""Shared fixtures: users made through the services, and clients for each way of signing in."""

import base64
import hashlib

import pytest
from rest_framework.test import APIClient


def md5_list(password: str) -> list[int]:
    """What a Mitosis client sends for a password: its MD5 digest as 16 ints."""
    return list(hashlib.md5(password.encode()).digest())


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def make_user(db):
    from apps.groups import services

    def make(username="alice", password="pw-alice", admin=False):
        return services.user_create(username=username, password=password, admin=admin)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", "pw-alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob", "pw-bob")


@pytest.fixture
def root(make_user):
    return make_user("root", "pw-root", admin=True)


@pytest.fixture
def login():
    """Log in through Mitosis' /login and return an authenticated client."""

    def do(username, password, retain=False):
        client = APIClient()
        response = client.post("/login", {"username": username, "md5_password": md5_list(password), "retain": retain},
                               format="json")
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION="Bearer " + response.json()["token"])
        client.token = response.json()["token"]
        return client

    return do
