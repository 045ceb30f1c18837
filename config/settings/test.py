"""pytest: PostgreSQL when DATABASE_URL is set (CI), otherwise an SQLite file."""

from .base import *  # noqa: F403
from .base import DATABASES, STATIC_ROOT, VAR_DIR
from .env import env_bool, env_str

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only, never in prod
DROVER_LOGIN_RATE = "100000/min"  # tests log in often; tests/test_throttle.py sets its own
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that live servers and worker subprocesses share it.
    _test_db = env_str("DROVER_TEST_SQLITE", str(VAR_DIR / "test.sqlite3"))
    DATABASES["default"]["NAME"] = _test_db
    DATABASES["default"]["TEST"] = {"NAME": _test_db}
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if STORAGES["mitosis"]["BACKEND"].endswith("LocalObjectStorage") and not env_str("DROVER_STORAGE_ROOT"):
    # Mitosis objects of tests that do not pick their own store stay out of the development one.
    STORAGES["mitosis"] = {**STORAGES["mitosis"], "OPTIONS": {
        **STORAGES["mitosis"]["OPTIONS"], "location": str(VAR_DIR / "test-storage")}}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
# Tasks run inline in tests; tests that need a real worker start one (tests/test_celery.py).
CELERY_TASK_ALWAYS_EAGER = env_bool("DROVER_CELERY_EAGER", True)
