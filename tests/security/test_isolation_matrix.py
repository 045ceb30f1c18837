"""Tenant isolation and the auth matrix, over every operation Drover serves.

The operations come from the OpenAPI schema (drf-spectacular's generator, read when the tests
are collected) and from the URL resolver; tests/security/matrix.py (rows in ops_torc.py and
ops_mitosis.py) says for each who may call it. The first tests fail when an operation has no
row, so an endpoint is covered the day it lands. Then, per operation, on the world of
tests/security/world.py (alice's objects in both dialects):

- the principal that may call it succeeds (so every refusal below is about identity, not a
  malformed request);
- no credentials, or forged ones: 401 (public operations answer anyone);
- bob, a user of no group of alice's (or bob's worker): 403/404 in the dialect's error shape,
  the same answer as for an object that does not exist, or an answer without alice's objects;
- rita, a Read member of alice's group: reads, cannot write;
- a worker token on user endpoints, user credentials on worker endpoints: 401/403;
- admin endpoints: staff only.
Every refused request must leave the database exactly as it was."""

from dataclasses import replace

import pytest
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from rest_framework.test import APIClient

from .checks import assert_error, expect_filtered, expect_refused, send, unchanged
from .matrix import ADMIN, PUBLIC, USER, WORKER, operations
from .world import client_for

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Routes outside DRF, with their own credential: the console (Django admin: staff sessions,
# tests/test_console.py) and the local storage's signed URLs (the signature; tested below).
NON_API_ROUTES = ("console/", "storage/upload/", "storage/download/")
OPS = operations()
ALLOWED = {PUBLIC: "anon", USER: "alice", WORKER: "worker", ADMIN: "root"}


def schema_operations() -> dict:
    """(METHOD, path) -> operation object of the OpenAPI schema, as /openapi.json serves it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path): operation for path, item in schema["paths"].items()
            for method, operation in item.items() if method in HTTP_METHODS}


SCHEMA = schema_operations()


def cases(test: str, selected):
    """pytest params of these ops; a row's bugs[test] makes that case a strict xfail."""
    return [pytest.param(op, id=op.id, marks=[pytest.mark.xfail(strict=True, reason=op.bugs[test])]
                         if test in op.bugs else []) for op in selected]


# SECTION the matrix covers every operation


def test_the_matrix_has_a_row_for_every_operation_of_the_schema():
    listed = {op.key for op in OPS if op.in_schema}
    assert sorted(set(SCHEMA) - listed) == [], "operations of the schema without a row in tests/security/ops_*.py"
    assert sorted(listed - set(SCHEMA)) == [], "rows for operations the schema does not have (in_schema=False?)"
    assert len(SCHEMA) >= 124


def test_every_routed_operation_is_in_the_matrix():
    """Operations the schema leaves out (extend_schema(exclude=True)) are served all the same."""
    routed = {(method, path) for path, _, method, _ in EndpointEnumerator().get_api_endpoints()}
    assert sorted(routed - {op.key for op in OPS}) == [], "routed operations without a row in the matrix"
    assert sorted({op.key for op in OPS} - routed) == [], "rows for operations that are not routed"

    def routes(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    outside = [route for route, view in routes(get_resolver().url_patterns)
               if not hasattr(view, "cls") and not route.startswith(NON_API_ROUTES)]
    assert outside == [], "routes outside DRF that neither the matrix nor NON_API_ROUTES covers"


@pytest.mark.parametrize("op", cases("schema", [op for op in OPS if op.in_schema]))
def test_the_schema_says_who_may_call_the_operation(op):
    """Public operations document no security; worker operations only the worker token, user
    and admin operations never it; /admin/... is the staff's."""
    security = SCHEMA[op.key].get("security")
    schemes = {name for requirement in security or [{}] for name in requirement}
    assert (security is None or {} in security) == (op.kind == PUBLIC), security
    if op.kind == WORKER:
        assert schemes == {"workerAuth"}, security
    elif op.kind in (USER, ADMIN):
        assert "workerAuth" not in schemes, security
    assert op.path.startswith("/admin/") == (op.kind == ADMIN)


# SECTION the principal that may call an operation can (the requests below are well formed)


@pytest.mark.parametrize("op", cases("allowed", OPS))
def test_the_allowed_principal_succeeds(world, op):
    response = send(world, ALLOWED[op.kind], op)
    assert response.status_code in op.ok, (response.status_code, response.content[:300])


# SECTION anonymous


def forged_token(world) -> str:
    """alice's JWT with its signature changed."""
    token = world["creds"]["alice"]["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


@pytest.mark.parametrize("credentials", ["none", "none, malformed body", "forged", "refresh token",
                                         "wrong-password"])
@pytest.mark.parametrize("op", cases("anonymous", [op for op in OPS if op.kind != PUBLIC]))
def test_without_valid_credentials_every_operation_is_401(world, op, credentials):
    """Authentication comes first: before the body is read, before anything is looked up."""
    client = APIClient()
    if credentials == "forged":
        client.credentials(HTTP_AUTHORIZATION="Bearer " + forged_token(world))
    elif credentials == "refresh token":  # a refresh token is no access token
        client.credentials(HTTP_AUTHORIZATION="Bearer " + world["refresh"])
    elif credentials == "wrong-password":
        client.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6d3Jvbmc=")  # alice:wrong
    with unchanged():
        if credentials == "none, malformed body":
            response = client.generic(op.method, op.url(world), b'{"not json', content_type="application/json")
        else:
            response = send(world, "anon", op, client=client)
        assert_error(response, {401}, op.path)


@pytest.mark.parametrize("op", cases("anonymous", [op for op in OPS if op.kind == PUBLIC]))
def test_public_operations_answer_anyone(world, op):
    response = send(world, "anon", op)
    assert response.status_code in op.ok, (response.status_code, response.content[:300])


# SECTION a user (or worker) of another group


def _stranger_ops():
    return [op for op in OPS if op.kind in (USER, WORKER) and op.stranger.kind != "own"]


@pytest.mark.parametrize("op", cases("stranger", _stranger_ops()))
def test_a_stranger_cannot_reach_alices_objects(world, op):
    principal = "bob_worker" if op.kind == WORKER else "bob"
    if op.stranger.kind == "deny":
        expect_refused(world, principal, op, op.stranger, compare_with_missing=True)
    else:
        expect_filtered(world, principal, op, op.stranger)


def _malformed_ops():
    """Writes to an object the path names (a body-named target would become the caller's own)."""
    return [op for op in _stranger_ops()
            if op.stranger.kind == "deny" and op.method not in ("GET", "DELETE") and "{" in op.path]


@pytest.mark.parametrize("body", [{}, {"unexpected": [1]}])
@pytest.mark.parametrize("op", cases("stranger-malformed", _malformed_ops()))
def test_a_strangers_malformed_request_tells_nothing_either(world, op, body):
    """Whether the view checks the body or access first, bob learns nothing: the answer is a
    refusal and the same as for objects that do not exist."""
    malformed = replace(op, body=body)
    principal = "bob_worker" if op.kind == WORKER else "bob"
    expect_refused(world, principal, malformed, replace(op.stranger, statuses=frozenset({400, 403, 404, 422})),
                   compare_with_missing=True)


# SECTION a Read member of alice's group


def _reader_ops():
    return [op for op in OPS if op.reader_expect is not None and op.reader_expect.kind != "own"]


@pytest.mark.parametrize("op", cases("reader", _reader_ops()))
def test_a_read_member_reads_but_cannot_write(world, op):
    expect = op.reader_expect
    if expect.kind == "read":
        response = send(world, "rita", op)
        assert response.status_code in op.ok, (response.status_code, response.content[:300])
    elif expect.kind == "deny":
        expect_refused(world, "rita", op, expect, compare_with_missing=False)
    else:
        expect_filtered(world, "rita", op, expect)


# SECTION tokens of the wrong kind, and staff-only operations


@pytest.mark.parametrize("op", cases("worker-token", [op for op in OPS if op.kind in (USER, ADMIN)]))
def test_a_worker_token_cannot_call_user_endpoints(world, op):
    with unchanged():
        assert_error(send(world, "worker", op), {401, 403}, op.path)


@pytest.mark.parametrize("credentials", ["alice", "alice_key", "alice_basic", "root"])
@pytest.mark.parametrize("op", cases("user-token", [op for op in OPS if op.kind == WORKER]))
def test_user_credentials_cannot_call_worker_endpoints(world, op, credentials):
    with unchanged():
        assert_error(send(world, credentials, op), {401, 403}, op.path)


@pytest.mark.parametrize("credentials", ["alice", "alice_key", "alice_basic"])
@pytest.mark.parametrize("op", cases("admin", [op for op in OPS if op.kind == ADMIN]))
def test_admin_endpoints_need_staff(world, op, credentials):
    """alice is Admin of her own group, which makes her no admin of Drover."""
    with unchanged():
        assert_error(send(world, credentials, op), {403}, op.path)


# SECTION the signed URLs of the local storage: the signature is the credential


def test_signed_storage_urls_refuse_forged_tampered_and_swapped_tokens(world, settings):
    from apps.storage import backends

    if not backends.is_local():
        pytest.skip("the storage is S3: its URLs are signed by S3, not served by Drover")
    settings.DROVER_STORAGE_DOWNLOAD_REDIRECT = True
    alice = client_for(world, "alice")
    upload = alice.post("/groups/alice/attachments", {"key": "signed.bin", "content_length": 3}, format="json")
    download = alice.get(f"/groups/alice/download/attachments/{world['att_key']}")
    assert (upload.status_code, download.status_code) == (200, 302)
    up_token = upload.json()["url"].rsplit("/", 1)[1]
    down_token = download["Location"].rsplit("/", 1)[1]
    anon = APIClient()
    with unchanged():
        for token in ("garbage", up_token[:-3] + "abc", down_token):  # forged, tampered, a download's
            response = anon.generic("PUT", f"/storage/upload/{token}", b"abc", content_type="application/octet-stream")
            assert response.status_code == 403, (token, response.content)
        for token in ("garbage", down_token[:-3] + "abc", up_token):
            response = anon.get(f"/storage/download/{token}")
            assert response.status_code == 403, (token, response.content)
