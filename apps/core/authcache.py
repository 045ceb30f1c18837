"""A short-lived, per-process memory of successful credential look-ups.

Hot endpoints (a worker claiming jobs in a loop) authenticate the same key many times a second;
the look-up costs a query and a model build each time. A hit skips both for at most
DROVER_AUTH_CACHE_SECONDS (0 turns it off). Revoking a key or changing a user clears this
process's memory at once; other server processes notice within that many seconds."""

import copy
import threading
import time

from django.conf import settings

MAX_ENTRIES = 4096  # a bound, not a tuning knob: past it the memory is simply dropped

_lock = threading.Lock()
_entries: dict[str, tuple[float, tuple]] = {}


def ttl() -> float:
    return float(getattr(settings, "DROVER_AUTH_CACHE_SECONDS", 0))


def get(key: str) -> tuple | None:
    """Copies of the parts remembered under `key`, or None. A copy, because views may change
    the user they are given and threads of one process must not see each other's changes."""
    entry = _entries.get(key)
    if entry is None:
        return None
    expires, value = entry
    if time.monotonic() >= expires:
        _entries.pop(key, None)
        return None
    return tuple(copy.copy(part) for part in value)


def put(key: str, value: tuple) -> None:
    seconds = ttl()
    if seconds <= 0:
        return
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = (time.monotonic() + seconds, tuple(copy.copy(part) for part in value))


def forget(*keys: str) -> None:
    """Forget these keys only (a change to one worker need not cost every other credential)."""
    with _lock:
        for key in keys:
            _entries.pop(key, None)


def clear(*args, **kwargs) -> None:
    """Forget everything (also usable as a signal receiver)."""
    with _lock:
        _entries.clear()
