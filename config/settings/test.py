"""pytest: PostgreSQL when DATABASE_URL is set (CI), otherwise an SQLite file."""

from .base import *  # noqa: F403
from .base import DATABASES, STATIC_ROOT, VAR_DIR
from .env import env_bool

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only, never in prod
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["NAME"] = str(VAR_DIR / "test.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
# Tasks run inline in tests; tests that need a real worker start one (tests/test_celery.py).
CELERY_TASK_ALWAYS_EAGER = env_bool("DROVER_CELERY_EAGER", True)
