"""The per-process memory of API-key look-ups: a repeated key costs no query, and revoking the
key, locking the user or changing them through the console or services is seen at once."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import authcache
from apps.groups import services
from apps.groups.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache(settings):
    settings.DROVER_AUTH_CACHE_SECONDS = 5
    authcache.clear()
    yield
    authcache.clear()


def key_queries(api) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("/auth")
    assert response.status_code == 200, response.content
    return sum("drover_api_key" in q["sql"] for q in ctx.captured_queries), response.content


def test_a_repeated_key_is_not_looked_up_again(alice, api):
    _, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key)
    assert key_queries(api) == (2, b"alice")  # the look-up and the last_used_at stamp
    assert key_queries(api) == (0, b"alice")


def test_nothing_is_remembered_when_turned_off(alice, api, settings):
    settings.DROVER_AUTH_CACHE_SECONDS = 0
    _, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key)
    key_queries(api)
    assert key_queries(api)[0] == 1


def test_memory_expires(alice, api, settings):
    settings.DROVER_AUTH_CACHE_SECONDS = 0.05
    _, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key)
    key_queries(api)
    time.sleep(0.1)
    assert key_queries(api)[0] == 1


def test_revoking_a_remembered_key_refuses_it_at_once(alice, api):
    row, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key)
    key_queries(api)
    services.api_key_revoke(key_id=row.pk)
    response = api.get("/auth")
    assert response.status_code == 401 and response.json()["msg"] == "Invalid API key"
    assert ApiKey.objects.get(pk=row.pk).revoked


@pytest.mark.parametrize("state", ["Locked", "Deleted"])
def test_locking_a_remembered_user_refuses_the_key_at_once(alice, api, state):
    _, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key)
    key_queries(api)
    services.user_set_state(username="alice", state=state)
    assert api.get("/auth").status_code == 401


def test_a_key_deleted_in_the_console_is_refused_at_once(alice, api):
    row, key = services.api_key_create(user=alice)
    api.credentials(HTTP_X_API_KEY=key)
    key_queries(api)
    row.delete()
    assert api.get("/auth").status_code == 401


def test_callers_get_copies(alice):
    """Threads of one process share the memory: a view changing its user must not change another's."""
    authcache.put("k", (alice, "x"))
    first, _ = authcache.get("k")
    first.username = "mallory"
    assert authcache.get("k")[0].username == "alice"
