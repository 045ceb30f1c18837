import pytest

from apps.groups.models import ApiKey

pytestmark = pytest.mark.django_db


def test_console_login_page_is_branded(client):
    response = client.get("/console/login/")
    assert response.status_code == 200
    assert b"Drover console" in response.content


def test_console_requires_staff(client, alice):
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]
    assert client.login(username="alice", password="pw-alice")
    assert client.get("/console/").status_code == 302  # not staff


@pytest.mark.parametrize("model", ["user", "group", "membership", "apikey"])
def test_console_lists_are_searchable_and_filterable(client, root, model):
    client.login(username="root", password="pw-root")
    response = client.get(f"/console/groups/{model}/?q=root")
    assert response.status_code == 200
    assert b'id="searchbar"' in response.content
    assert b'id="changelist-filter"' in response.content


def test_console_creates_api_key_and_shows_it_once(client, root, alice):
    client.login(username="root", password="pw-root")
    response = client.post("/console/groups/apikey/add/", {"user": alice.pk, "name": "ci", "revoked": ""}, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("drv_" in m for m in shown)
    key = next(m for m in shown if "drv_" in m).split(": ")[-1]
    row = ApiKey.objects.get(user=alice)
    assert row.key_hash == ApiKey.hash_key(key) and row.name == "ci"


def test_console_user_add_makes_personal_group(client, root):
    from apps.groups.models import Group

    client.login(username="root", password="pw-root")
    response = client.post("/console/groups/user/add/",
                           {"username": "frank", "password1": "a-long-pass", "password2": "a-long-pass",
                            "usable_password": "true"})
    assert response.status_code == 302, response.content[:2000]
    assert Group.objects.filter(name="frank", memberships__user__username="frank").exists()
