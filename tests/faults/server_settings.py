"""Settings of the Drover server subprocesses the fault tests start: production-like (base: a
Redis cache when REDIS_URL is set, no eager Celery), plus the test settings' password hasher so
that users made by the test process can log in, and no DEBUG pages."""

from config.settings.base import *

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                    "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
DROVER_LOGIN_RATE = "100000/min"  # the throttle still counts (in the cache); it never bites here
LOGGING["loggers"]["django.server"] = {"level": "WARNING"}  # not a line per request

