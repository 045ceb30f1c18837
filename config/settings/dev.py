"""`make run`: the embedded default (SQLite under var/, no Redis needed)."""

from .base import *  # noqa: F403
from .env import env_bool

DEBUG = env_bool("DEBUG", True)

# The embedded scheduler runs tasks every few seconds; their success lines would drown the log.
LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405
