"""Production: PostgreSQL, Redis, Celery worker + beat, S3, gunicorn. SECRET_KEY is required."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_str

DEBUG = False
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to a random string of 50+ characters in production")
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": env_str("DROVER_JWT_SIGNING_KEY") or SECRET_KEY}  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DROVER_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^health$"]  # load balancers probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("DROVER_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DROVER_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DROVER_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Django's defaults, stated so that the deployment's headers are read here and tested
# (tests/security/test_console_security.py): no referrer to other sites, no shared window with them.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
