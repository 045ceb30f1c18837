"""How the security tests send a matrix row's request and judge the answer."""

import re
from contextlib import contextmanager

from rest_framework.test import APIClient

from apps.core.dialects import dialect_for_path
from apps.core.errors import body_for

from .world import MISSING, NO_SUCH_GROUP, client_for, db_state, diff, missing_twin, rows


def send(world: dict, principal: str, op, *, client: APIClient | None = None):
    client = client or client_for(world, principal)
    if op.method == "GET":
        return client.get(op.url(world))
    return getattr(client, op.method.lower())(op.url(world), op.data(world), format="json")


def assert_error(response, statuses, path: str) -> str:
    """One of `statuses`, with the error body of the path's dialect; returns the message."""
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == set(body_for(dialect_for_path(path), "m", response.status_code)), body
    message = body.get("msg") or body.get("detail") or body["error"]["message"]
    assert isinstance(message, str) and message, body
    return message


@contextmanager
def unchanged():
    before = db_state()
    yield
    after = db_state()
    assert after == before, diff(before, after)


@contextmanager
def only_added():
    """Rows may appear (the caller's own), none may change or go."""
    before = db_state()
    yield
    after = db_state()
    touched = [label for label in before if not rows(before, label) <= rows(after, label)]
    assert touched == [], diff(before, after)


def normalized(response, values) -> tuple[int, str]:
    """Status and body with every object id of either world replaced: what is left must not
    depend on whether the object exists."""
    text = response.content.decode()
    for value in values:
        text = re.sub(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", "<id>", text)
    return response.status_code, text


def twins(world: dict, expect) -> list[tuple[dict, set]]:
    """Worlds where the request names nothing that exists, with the values to blank out."""
    out = [(missing_twin(world), {world[k] for k in MISSING} | set(MISSING.values()))]
    if expect.same_for_missing_group:
        out.append(({**world, "group": NO_SUCH_GROUP}, {world["group"], NO_SUCH_GROUP}))
    return out


def expect_refused(world, principal, op, expect, *, compare_with_missing: bool):
    """Refused in the dialect's shape, nothing changed, and (compare_with_missing) the same
    answer as for objects that do not exist: a refusal must not be an oracle."""
    with unchanged():
        response = send(world, principal, op)
        assert_error(response, expect.statuses, op.path)
        for twin, values in twins(world, expect) if compare_with_missing else []:
            if (op.url(twin), op.data(twin)) != (op.url(world), op.data(world)):
                assert normalized(response, values) == normalized(send(twin, principal, op), values), \
                    "the refusal tells an existing object from a missing one"


def expect_filtered(world, principal, op, expect):
    with only_added() if expect.changes else unchanged():
        response = send(world, principal, op)
        assert 200 <= response.status_code < 300, (response.status_code, response.content[:300])
        body = response.json() if response.content else None
        expect.check(body, world)
