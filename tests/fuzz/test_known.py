"""The fuzzer's own bookkeeping, checked without running it: known.py names real operations and
lists only gaps the schema still has (so an entry goes once its fix lands), the tolerances
never swallow a 5xx, and the checks of checks.py can fail."""

import json

import pytest
from schemathesis.core.failures import ServerError
from schemathesis.openapi.checks import UndefinedStatusCode

from . import harness, known
from .checks import error_shape

SCHEMA = harness.schema.raw_schema
OPERATIONS = {
    op["operationId"]: op
    for item in SCHEMA["paths"].values() for method, op in item.items()
    if method in ("get", "put", "post", "patch", "delete")
}


@pytest.mark.parametrize("operation_id", sorted((set(known.UNDOCUMENTED) | set(known.BUGS)) - {"*"}))
def test_known_entries_name_operations_of_the_schema(operation_id):
    assert operation_id in OPERATIONS, f"known.py lists {operation_id!r}, which /openapi.json no longer has"


def test_undocumented_statuses_are_still_undocumented():
    """One test, not one per entry: the dict is empty while the schema documents everything."""
    documented_now = [(op, status) for op, statuses in sorted(known.UNDOCUMENTED.items()) for status in statuses
                      if {str(status), f"{str(status)[0]}XX"} & set(OPERATIONS.get(op, {}).get("responses", {}))]
    assert documented_now == [], "the schema documents these now: delete them from known.UNDOCUMENTED"


def test_the_tolerance_of_an_undocumented_status_can_fail(monkeypatch):
    """harness.tolerated lets through exactly the listed (operation, status) pairs."""
    missing = UndefinedStatusCode(operation="GET /x", message="", status_code=418, defined_status_codes=["200"],
                                  allowed_status_codes=[200])
    assert not harness.tolerated("getTask", missing)
    monkeypatch.setitem(known.UNDOCUMENTED, "getTask", {418})
    assert harness.tolerated("getTask", missing) and not harness.tolerated("cancelTask", missing)


def test_a_server_error_is_tolerated_only_for_a_nul():
    assert all(status < 500 for statuses in known.UNDOCUMENTED.values() for status in statuses)
    error = ServerError(operation="GET /x", status_code=500)
    unlisted = UndefinedStatusCode(operation="GET /x", message="", status_code=500, defined_status_codes=["200"],
                                   allowed_status_codes=[200])
    for failure in (error, unlisted):
        assert not any(harness.tolerated(op, failure) for op in OPERATIONS)
        assert harness.failure_kinds(failure, nul=True) == {"ServerError:nul"}


def test_sends_nul_looks_at_path_query_and_body():
    def case(path=None, query=None, body=None):
        return type("Case", (), {"path_parameters": path or {}, "query": query or {}, "body": body})()
    assert harness.sends_nul(case(path={"group_name": "a\x00"}))
    assert harness.sends_nul(case(query={"users": ["a\x00"]}))
    assert harness.sends_nul(case(body={"relations": {"a\x00": "Read"}}))
    assert not harness.sends_nul(case(body={"group_name": "a"}))


class _Response:
    def __init__(self, status_code, body, content_type="application/json"):
        self.status_code = status_code
        self.content = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = {"content-type": [content_type]}


class _Case:
    def __init__(self, path):
        self.operation = type("Operation", (), {"path": path})()


@pytest.mark.parametrize(("path", "status", "body", "content_type"), [
    ("/tasks", 400, {"detail": "wrong dialect"}, "application/json"),
    ("/tasks", 400, {"msg": ""}, "application/json"),
    ("/torc-service/v1/jobs", 404, {"error": "flat"}, "application/json"),
    ("/torc-service/v1/jobs", 500, b"<h1>Server Error</h1>", "text/html"),
    ("/token/", 401, {"msg": "not the Drover shape"}, "application/json"),
])
def test_error_shape_refuses_wrong_error_bodies(path, status, body, content_type):
    with pytest.raises(AssertionError):
        error_shape(None, _Response(status, body, content_type), _Case(path))


@pytest.mark.parametrize(("path", "body"), [
    ("/tasks", {"msg": "group_name: required", "error": "group_name: required"}),
    ("/torc-service/v1/jobs", {"error": {"message": "workflow_id: required"}}),
    ("/token/", {"detail": "No active account found with the given credentials"}),
])
def test_error_shape_accepts_each_dialects_shape(path, body):
    assert error_shape(None, _Response(400, body), _Case(path)) is None


def test_every_secured_operation_gets_credentials_it_accepts():
    """headers_for picks, per operation, a scheme the operation lists (or the AS_WORKER fix)."""
    by_header = {"X-API-Key": "apiKeyAuth"}
    world = harness.World(user_key="k", admin_key="a", user_jwt="j", worker_token="w", worker_uuid="")
    for operation in harness.schema.get_all_operations():
        operation = operation.ok()
        names = harness.schemes(operation)
        case = type("Case", (), {"operation": operation})()
        if names == {"workerAuth"} or harness.operation_id(operation) in harness.AS_WORKER:
            continue  # ensure_worker needs the database; the rule is the first branch of headers_for
        headers = harness.headers_for(case, world)
        if not names:
            assert headers == {}
            continue
        scheme = next(by_header[h] for h in headers if h in by_header) if "X-API-Key" in headers else "bearerAuth"
        assert scheme in names, (operation.label, headers, names)
