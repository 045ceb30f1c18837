"""Security headers and CSRF under the production settings (issue 7, hardening).

The security settings are read from config/settings/prod.py itself (imported with a production
SECRET_KEY in the environment) and applied to the test server, so a setting removed from prod.py
fails here. `manage.py check --deploy` under prod settings is tests/test_settings.py's."""

import importlib
import sys

import pytest
from django.test import Client

from apps.groups.choices import UserState
from apps.groups.models import User
from apps.workflows.models import Workflow

pytestmark = pytest.mark.django_db
PROD_SECRET = "k" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz!@#$%^&*()ABCDEFG"
SECURITY_PREFIXES = ("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "X_FRAME_OPTIONS", "DEBUG")


def prod_module(monkeypatch):
    """config.settings.prod as production imports it (it refuses to load without SECRET_KEY)."""
    monkeypatch.setenv("SECRET_KEY", PROD_SECRET)
    monkeypatch.delitem(sys.modules, "config.settings.prod", raising=False)
    try:
        return importlib.import_module("config.settings.prod")
    finally:
        sys.modules.pop("config.settings.prod", None)


@pytest.fixture
def prod(settings, monkeypatch):
    module = prod_module(monkeypatch)
    applied = {name: getattr(module, name) for name in dir(module) if name.startswith(SECURITY_PREFIXES)}
    for name, value in applied.items():
        setattr(settings, name, value)
    return applied


@pytest.fixture
def https(prod):
    """A browser on the deployment, behind its TLS proxy (X-Forwarded-Proto), CSRF enforced; as
    browsers do, it sends its Origin with every POST."""
    return Client(enforce_csrf_checks=True, HTTP_HOST="testserver", HTTP_X_FORWARDED_PROTO="https",
                  HTTP_ORIGIN="https://testserver")


def test_prod_states_the_security_settings_it_relies_on(prod):
    assert prod["DEBUG"] is False
    assert prod["SECURE_SSL_REDIRECT"] is True and prod["SECURE_HSTS_SECONDS"] >= 31536000
    assert prod["SESSION_COOKIE_SECURE"] is prod["CSRF_COOKIE_SECURE"] is prod["SESSION_COOKIE_HTTPONLY"] is True
    assert prod["X_FRAME_OPTIONS"] == "DENY" and prod["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert prod["SECURE_REFERRER_POLICY"] == prod["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"


HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
}


def assert_headers(response):
    missing = {name: response.headers.get(name) for name, value in HEADERS.items()
               if response.headers.get(name) != value}
    assert not missing, (response.status_code, missing)


def test_console_pages_and_api_answers_carry_the_security_headers(https, root):
    assert_headers(https.get("/console/login/"))
    https.force_login(root)
    console = https.get("/console/")
    assert console.status_code == 200 and b"Drover console" in console.content
    assert_headers(console)
    assert_headers(https.get("/console/groups/group/"))
    api = https.get("/torc-service/v1/workflows")
    assert api.status_code == 200
    assert_headers(api)
    assert_headers(https.get("/no-such-page"))  # the JSON 404 too


def test_plain_http_is_redirected_to_https_except_the_health_probe(prod):
    plain = Client()
    response = plain.get("/console/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/console/login/"
    assert plain.get("/health").status_code == 200  # load balancers probe over plain HTTP


def csrf_token(client) -> str:
    page = client.get("/console/login/")
    assert page.status_code == 200
    cookie = client.cookies["csrftoken"]
    assert cookie["secure"] and cookie["samesite"] == "Lax"
    return cookie.value


def test_console_login_without_a_csrf_token_is_refused(https, root):
    response = https.post("/console/login/", {"username": "root", "password": "pw-root", "next": "/console/"})
    assert response.status_code == 403
    assert "sessionid" not in https.cookies
    assert https.get("/console/").status_code == 302  # still not signed in


def test_console_login_form_with_its_token_signs_in(https, root):
    token = csrf_token(https)
    form = {"username": "root", "password": "pw-root", "next": "/console/", "csrfmiddlewaretoken": token}
    assert https.post("/console/login/", form, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert "sessionid" not in https.cookies
    response = https.post("/console/login/", {"username": "root", "password": "pw-root", "next": "/console/",
                                              "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/console/"
    session = https.cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert https.get("/console/").status_code == 200


def test_a_console_action_without_a_csrf_token_changes_nothing(https, root, alice):
    https.force_login(root)
    action = {"action": "lock_users", "_selected_action": [alice.pk], "index": 0}
    refused = https.post("/console/groups/user/", action)
    assert refused.status_code == 403
    assert User.objects.get(pk=alice.pk).state == UserState.ACTIVE
    https.get("/console/groups/user/")  # the page with the form sets the cookie
    done = https.post("/console/groups/user/", {**action, "csrfmiddlewaretoken": https.cookies["csrftoken"].value})
    assert done.status_code == 302
    assert User.objects.get(pk=alice.pk).state == UserState.LOCKED


def test_the_console_session_cannot_write_to_the_api_without_a_csrf_token(https, root):
    """The API accepts the console's session (SessionAuthentication), so a page on another site
    could try to post with the operator's cookie: DRF enforces CSRF for session-authenticated
    writes, and the refusal is in the dialect's shape."""
    https.force_login(root)
    refused = https.post("/torc-service/v1/workflows", {"name": "csrf"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].startswith("CSRF Failed")
    assert not Workflow.objects.exists()
    https.get("/console/")
    accepted = https.post("/torc-service/v1/workflows", {"name": "csrf"}, content_type="application/json",
                          HTTP_X_CSRFTOKEN=https.cookies["csrftoken"].value)
    assert accepted.status_code == 200, accepted.content
    assert Workflow.objects.get().name == "csrf"
