"""Settings shared by every environment. Everything comes from the environment with a
default that suits `make run` (embedded SQLite, no Redis); README lists every variable."""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("DROVER_VAR_DIR", str(BASE_DIR / "var")))

# SECTION core
SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-" + "x" * 50)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Bytes of a request body Drover reads (Django's own default, 2.5 MiB); a larger one is a 413 in
# the dialect's error shape. Torc's bulk endpoints have their own cap (apps.core.torc.BULK_BODY_MAX)
# and signed uploads stream to disk with the length the URL was signed for (apps.storage).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DROVER_MAX_BODY_BYTES", 2_621_440)

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
LOCAL_APPS = [
    "apps.core",
    "apps.groups",
    "apps.workflows",
    "apps.jobs",
    "apps.files",
    "apps.workers",
    "apps.storage",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
# Dialect paths are fixed by the seeds ("/login", "/torc-service/v1/workflows"): never
# redirect them to a trailing-slash variant (a redirected POST loses its body).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SECTION database
# DATABASE_URL selects PostgreSQL (postgres://user:pw@host:port/db); without it Drover runs
# on an embedded SQLite file in WAL mode, with IMMEDIATE transactions so that a writer takes
# the lock up front (the claim service relies on it) instead of failing on lock upgrade.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("DROVER_SQLITE_PATH", str(VAR_DIR / "drover.sqlite3")),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# SECTION auth
AUTH_USER_MODEL = "groups.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = []  # Mitosis clients send an MD5 digest; length rules cannot apply
LOGIN_URL = "admin:login"

# SECTION i18n
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# SECTION static and media
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DROVER_STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("DROVER_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# local: files under MEDIA_ROOT with signed URLs served by Drover; s3: django-storages.
DROVER_STORAGE = env_str("DROVER_STORAGE", "local")
if DROVER_STORAGE == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("DROVER_S3_BUCKET", "drover"),
            "endpoint_url": env_str("DROVER_S3_ENDPOINT_URL"),
            "region_name": env_str("DROVER_S3_REGION", "us-east-1"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            "file_overwrite": True,
            "querystring_expire": env_int("DROVER_S3_URL_EXPIRE", 3600),
        },
    }
elif DROVER_STORAGE == "local":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DROVER_STORAGE={DROVER_STORAGE!r}: use 'local' or 's3'")
# Mitosis attachments and artifacts (apps.storage) have a storage of their own, "mitosis":
# local files under DROVER_STORAGE_ROOT with signed URLs Drover serves at /storage/..., or the
# S3 bucket above with presigned URLs (signature v4: the upload's length is signed in).
DROVER_STORAGE_BACKEND = env_str("DROVER_STORAGE_BACKEND", DROVER_STORAGE)
DROVER_STORAGE_ROOT = Path(env_str("DROVER_STORAGE_ROOT", str(VAR_DIR / "storage")))
# Base of the signed local URLs (e.g. https://drover.example.org); unset: the request's host.
DROVER_STORAGE_PUBLIC_URL = env_str("DROVER_STORAGE_PUBLIC_URL", "")
# Single downloads answer 302 to the URL (the seed); false: 200 {"url", "size"} (real Mitosis).
DROVER_STORAGE_DOWNLOAD_REDIRECT = env_bool("DROVER_STORAGE_DOWNLOAD_REDIRECT", True)
if DROVER_STORAGE_BACKEND == "s3":
    _object_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("DROVER_STORAGE_S3_BUCKET", env_str("DROVER_S3_BUCKET", "drover")),
            "endpoint_url": env_str("DROVER_S3_ENDPOINT_URL"),
            "region_name": env_str("DROVER_S3_REGION", "us-east-1"),
            "access_key": env_str("AWS_ACCESS_KEY_ID"),
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY"),
            "file_overwrite": True,
            "signature_version": "s3v4",
        },
    }
elif DROVER_STORAGE_BACKEND == "local":
    _object_storage = {
        "BACKEND": "apps.storage.backends.LocalObjectStorage",
        "OPTIONS": {"location": str(DROVER_STORAGE_ROOT), "allow_overwrite": True},
    }
else:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DROVER_STORAGE_BACKEND={DROVER_STORAGE_BACKEND!r}: use 'local' or 's3'")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "mitosis": _object_storage,
}

# SECTION cache
REDIS_URL = env_str("REDIS_URL")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# SECTION REST framework
REST_FRAMEWORK = {
    # JWT first: its WWW-Authenticate header makes anonymous requests a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.core.authentication.SignedJWTAuthentication",
        "apps.core.authentication.ApiKeyAuthentication",
        "apps.core.authentication.ActiveBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("DROVER_TOKEN_LIFETIME", 7 * 24 * 3600)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("DROVER_REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600)),
    "SIGNING_KEY": env_str("DROVER_JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "TOKEN_OBTAIN_SERIALIZER": "apps.groups.api.tokens.SignedTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "apps.groups.api.tokens.SignedTokenRefreshSerializer",
    "UPDATE_LAST_LOGIN": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Drover",
    "DESCRIPTION": (
        "One job-orchestration service, five APIs: Torc (/torc-service/v1), EWMS (/v1), "
        "Infernet (/info, /api/jobs), Mitosis (root paths) and Batches (/batches)."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",  # the default
        "apps.core.schema.add_error_responses",  # every operation's 4xx/5xx in its dialect's error shape
    ],
}

# SECTION Celery / scheduler
# Without REDIS_URL there is no broker: tasks run inline and the embedded scheduler thread of
# `manage.py serve` runs CELERY_BEAT_SCHEDULE itself, so `make run` needs nothing else.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = env_str("DROVER_CELERY_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3300)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic tasks (lease expiry, TMS loops) are added here by the apps that own them.
CELERY_BEAT_SCHEDULE: dict = {
    "expire-leases": {"task": "drover.workers.expire_leases", "schedule": 15.0},
    "dispatch-pool": {"task": "drover.jobs.dispatch_pool", "schedule": 5.0},
    "expire-workers": {"task": "drover.workers.expire_workers", "schedule": 30.0},
}

# SECTION Drover
# Defaults for Mitosis quotas (the real coordinator's): 8 groups a user may create, 16 GB a group.
DROVER_DEFAULT_GROUP_QUOTA = env_int("DROVER_DEFAULT_GROUP_QUOTA", 8)
DROVER_DEFAULT_STORAGE_QUOTA = env_int("DROVER_DEFAULT_STORAGE_QUOTA", 16 * 1000**3)
# Mitosis tasks a user may have waiting (Pending or Ready) unless their own task_quota says; 0: no limit.
DROVER_DEFAULT_TASK_QUOTA = env_int("DROVER_DEFAULT_TASK_QUOTA", 0)
DROVER_PUBLIC_REDIS_URL = env_str("DROVER_PUBLIC_REDIS_URL", REDIS_URL)
# A claimed job not started or heartbeated within this many seconds goes back to ready.
DROVER_LEASE_SECONDS = env_int("DROVER_LEASE_SECONDS", 600)
# Mitosis: a worker silent this long is removed and its task goes back to ready.
DROVER_WORKER_TIMEOUT = env_int("DROVER_WORKER_TIMEOUT", 600)
# Jobs the built-in Celery pool claims per dispatch.
DROVER_POOL_BATCH = env_int("DROVER_POOL_BATCH", 16)
# Torc workflow timestamps: auto (float for curl, string for torc-client), float or string.
DROVER_TORC_TIMESTAMP = env_str("DROVER_TORC_TIMESTAMP", "auto")
# Mitosis GET /workers/tasks with no task: "204" (the seed) or "null" (the real coordinator's 200 with
# body null, which an unchanged `mito worker` needs: it takes an empty 204 body for a broken answer and stops).
DROVER_MITOSIS_IDLE_FETCH = env_str("DROVER_MITOSIS_IDLE_FETCH", "204")
# Seconds a server process remembers a successful API-key look-up (0: never). Revocation in
# another process takes effect within this time; in the same process at once.
DROVER_AUTH_CACHE_SECONDS = env_int("DROVER_AUTH_CACHE_SECONDS", 5)
# Password attempts (/login, /token/) allowed per username and per client address.
DROVER_LOGIN_RATE = env_str("DROVER_LOGIN_RATE", "20/min")
# Mitosis POST /admin/shutdown {"secret"}: unset, the operation is refused.
DROVER_SHUTDOWN_SECRET = env_str("DROVER_SHUTDOWN_SECRET")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
