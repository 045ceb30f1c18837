"""Checks of our own, beside Schemathesis' built-in ones (harness.py runs them on every response)."""

import json

from apps.core import dialects


def _message_at(body, *keys):
    for key in keys:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


# dialect -> the keys under which its error body carries the message (apps/core/errors.py)
MESSAGE_AT = {
    dialects.TORC: ("error", "message"),
    dialects.MITOSIS: ("msg",),
    dialects.EWMS: ("error",),
    dialects.INFERNET: ("error",),
    dialects.BATCHES: ("detail",),
    dialects.DROVER: ("detail",),
}


def error_shape(ctx, response, case):
    """Every 4xx/5xx is JSON in the error shape of the request's dialect, with a non-empty
    message, whether or not the schema documents that status yet."""
    if response.status_code < 400:
        return
    dialect = dialects.dialect_for_path(case.operation.path)
    where = MESSAGE_AT[dialect]
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), (
        f"{response.status_code} of a {dialect} request is {content_type or 'no content type'}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}") from None
    message = _message_at(body, *where)
    assert isinstance(message, str) and message.strip(), (
        f"{response.status_code} of a {dialect} request lacks its error message at {'.'.join(where)}: {body!r}")
