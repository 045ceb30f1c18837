"""Brute-force brakes on the password endpoints (/login, /token/): a budget per username and
one per client address, DROVER_LOGIN_RATE each (e.g. "20/min"). Over budget: 429 with
Retry-After, in the dialect's error shape. Counts live in the default cache: per process with
the local-memory cache, shared by every server process when REDIS_URL gives a Redis cache."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import APIException
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("drover.auth")


class _LoginThrottle(SimpleRateThrottle):
    def __init__(self):  # the rate is read per request, so settings changes (tests) apply
        self.rate = settings.DROVER_LOGIN_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request, view):
        """With the cache (Redis) down, logging in keeps working: the brake fails open, loudly."""
        try:
            return super().allow_request(request, view)
        except (APIException, RequestDataTooBig):
            raise  # e.g. a body that is not JSON or too large: the client's error, answered as such
        except Exception as exc:  # noqa: BLE001 - any cache backend's connection error
            logger.warning("login throttle off: its cache is unavailable (%s)", exc)
            return True


class LoginUserThrottle(_LoginThrottle):
    scope = "login-user"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if isinstance(request.data, dict) else None
        if not isinstance(username, str) or not username:
            return None  # the serializer refuses it; nothing to guess at
        return self.cache_format % {"scope": self.scope, "ident": username[:150].lower()}


class LoginAddressThrottle(_LoginThrottle):
    scope = "login-address"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


LOGIN_THROTTLES = [LoginUserThrottle, LoginAddressThrottle]
