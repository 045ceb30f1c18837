"""Fixtures of the isolation matrix.

The world (tests/security/world.py) is built once per module inside a transaction that is
rolled back when the module ends; every test runs in a savepoint of it (pytest-django's `db`),
so each test starts from the same pristine world whatever the previous one changed: Django's
setUpTestData, for pytest."""

import pytest
from django.db import transaction

from .world import SHUTDOWN_SECRET, build


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _matrix_settings(settings):
    """A configured shutdown secret (so staff's POST /admin/shutdown can succeed), and no
    credential remembered from an earlier test (apps.core.authcache lives per process)."""
    from apps.core import authcache

    settings.DROVER_SHUTDOWN_SECRET = SHUTDOWN_SECRET
    authcache.clear()
    yield
    authcache.clear()
