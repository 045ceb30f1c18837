"""One exception handler, five error shapes: each dialect's errors look like its seed's."""

import pytest
from django.test import RequestFactory
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from apps.core import dialects
from apps.core.errors import body_for, exception_handler, flatten_detail
from apps.core.exceptions import Conflict, FieldValidationError, NotFound

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path, dialect",
    [
        ("/torc-service/v1/workflows", dialects.TORC),
        ("/v1/workflows", dialects.EWMS),
        ("/v1/tms/statuses/taskforces", dialects.EWMS),
        ("/info", dialects.INFERNET),
        ("/api/jobs/batch", dialects.INFERNET),
        ("/batches/b1/jobs", dialects.BATCHES),
        ("/batches", dialects.BATCHES),
        ("/login", dialects.MITOSIS),
        ("/workers/tasks", dialects.MITOSIS),
        ("/admin/users/x", dialects.MITOSIS),
        ("/health", dialects.MITOSIS),
        ("/token/", dialects.DROVER),
        ("/console/", dialects.DROVER),
        ("/openapi.json", dialects.DROVER),
        ("/loginx", dialects.DROVER),
    ],
)
def test_dialect_is_decided_by_path(path, dialect):
    assert dialects.dialect_for_path(path) == dialect


@pytest.mark.parametrize(
    "path, body",
    [
        ("/torc-service/v1/nothing-here", {"error": {"message": "Not found"}}),
        ("/v1/nothing-here", {"code": 404, "error": "Not found"}),
        ("/api/jobs/nothing/here", {"error": "Not found"}),
        ("/batches/x/y/z", {"detail": "Not found"}),
        ("/workers/x/y/z/w", {"msg": "Not found", "error": "Not found"}),
        ("/nothing-here", {"detail": "Not found"}),
    ],
)
def test_unknown_paths_are_404_json_in_their_dialect(api, path, body):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


def handle(path, exc):
    request = Request(RequestFactory().get(path))
    return exception_handler(exc, {"request": request, "view": None})


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/torc-service/v1/jobs", {"error": {"message": "num_cpus: Ensure this value is greater than or equal to 0."}}),
        ("/v1/workflows", {"code": 400, "error": "num_cpus: Ensure this value is greater than or equal to 0."}),
        ("/api/jobs", {"error": "num_cpus: Ensure this value is greater than or equal to 0."}),
        ("/tasks", {"msg": "num_cpus: Ensure this value is greater than or equal to 0.",
                    "error": "num_cpus: Ensure this value is greater than or equal to 0."}),
        ("/batches", {"detail": "num_cpus: Ensure this value is greater than or equal to 0."}),
    ],
)
def test_validation_errors_name_the_field_in_each_shape(path, expected):
    class S(serializers.Serializer):
        num_cpus = serializers.IntegerField(min_value=0)

    s = S(data={"num_cpus": -1})
    with pytest.raises(ValidationError) as caught:
        s.is_valid(raise_exception=True)
    response = handle(path, caught.value)
    assert response.status_code == 400
    assert response.data == expected


def test_domain_errors_keep_their_status():
    assert handle("/v1/x", Conflict("already running", field="status")).status_code == 409
    response = handle("/torc-service/v1/jobs/9", NotFound("Job 9 not found"))
    assert (response.status_code, response.data) == (404, {"error": {"message": "Job 9 not found"}})
    response = handle("/api/jobs", FieldValidationError("'12x' is not a memory size", field="memory"))
    assert response.data == {"error": "memory: '12x' is not a memory size"}


def test_unexpected_exception_is_500_without_traceback(caplog):
    response = handle("/torc-service/v1/jobs", RuntimeError("secret internals at /srv/app.py line 3"))
    assert response.status_code == 500
    assert response.data == {"error": {"message": "Internal server error"}}
    assert "secret" not in str(response.data)
    assert "secret internals" in caplog.text  # logged for the operator


def test_database_down_is_503():
    from django.db import OperationalError

    response = handle("/v1/workflows", OperationalError("connection refused"))
    assert response.status_code == 503
    assert response.data == {"code": 503, "error": "Database unavailable, retry later"}
    assert response["Retry-After"] == "1"


def test_flatten_nested_details():
    detail = {"jobs": [{}, {"name": ["This field is required."]}], "non_field_errors": ["bad pair"]}
    assert flatten_detail(detail) == ["jobs.1.name: This field is required.", "bad pair"]


def test_body_for_extra_keys():
    assert body_for(dialects.INFERNET, "Container not supported", 405, {"params": {"container": "x"}}) == {
        "error": "Container not supported", "params": {"container": "x"}}


def test_a_bad_statement_is_a_500_not_an_outage():
    from django.db import OperationalError

    response = handle("/v1/workflows", OperationalError("ambiguous column name: id"))
    assert response.status_code == 500
    assert response.data == {"code": 500, "error": "Internal server error"}
