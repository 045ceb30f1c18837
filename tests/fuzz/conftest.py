import pytest

from apps.storage import backends

from . import harness
from .world import build_world


@pytest.fixture
def local_objects(settings, tmp_path):
    """Mitosis objects of the fuzz run go to a temporary directory, not var/."""
    settings.STORAGES = {**settings.STORAGES, backends.STORAGE_ALIAS: {
        "BACKEND": "apps.storage.backends.LocalObjectStorage", "OPTIONS": {"location": str(tmp_path / "objects")}}}


@pytest.fixture
def fuzz_world(transactional_db, local_objects):
    """A fresh world per operation, committed as a live server commits (no test transaction to
    hide on_commit work or to be poisoned by a failed statement); transactional_db empties the
    tables afterwards."""
    harness.WORLD = build_world()
    yield harness.WORLD
    harness.WORLD = None


@pytest.fixture
def fuzz_world_db(db, local_objects):
    """The same world inside the test's transaction, for the plain regression tests."""
    return build_world()
