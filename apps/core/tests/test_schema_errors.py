"""/openapi.json documents the errors the views really answer (apps/core/schema.py): per
operation the statuses, each with the error body of its dialect, and real error answers match
what the schema says of them."""

import uuid

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from apps.core import dialects, schema
from apps.core.errors import body_for
from apps.core.permissions import IsDroverAdmin
from apps.core.throttles import LOGIN_THROTTLES

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = {op["operationId"]: op for item in SCHEMA["paths"].values() for method, op in item.items()
              if method in ("get", "put", "post", "patch", "delete")}
ERROR_REF = {dialect: "#/components/schemas/" + schema.error_component(dialect)[0] for dialect in
             (dialects.TORC, dialects.MITOSIS, dialects.DROVER, dialects.EWMS, dialects.INFERNET, dialects.BATCHES)}


def errors_of(operation_id: str) -> dict[int, str]:
    """status -> $ref of the error body, for the 4xx/5xx an operation documents."""
    responses = OPERATIONS[operation_id]["responses"]
    return {int(status): response["content"]["application/json"]["schema"]["$ref"]
            for status, response in responses.items() if status[0] in "45"}


def resolve(ref: str) -> dict:
    return SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[1]]


# SECTION the statuses of a sample of operations per dialect


@pytest.mark.parametrize(("operation_id", "dialect", "statuses"), [
    # Torc: reads 404 on an object out of sight; writes also 403 for a Read member, bodies 400/413/415
    ("torc_get_job", dialects.TORC, {401, 404, 503}),
    ("torc_list_jobs", dialects.TORC, {400, 401, 404, 503}),  # 404: the workflow_id of the query
    ("torc_update_job", dialects.TORC, {400, 401, 403, 404, 413, 415, 503}),
    ("torc_delete_workflow", dialects.TORC, {401, 403, 404, 503}),
    ("torc_create_workflow", dialects.TORC, {400, 401, 403, 413, 415, 503}),  # 403: a session without CSRF
    ("torc_start_job", dialects.TORC, {400, 401, 403, 404, 409, 422, 503}),
    ("torc_retry_job", dialects.TORC, {401, 403, 404, 422, 503}),
    ("torc_create_jobs", dialects.TORC, {400, 401, 403, 404, 413, 415, 422, 503}),
    ("torc_list_workflows", dialects.TORC, {401, 503}),
    ("torc_ping", dialects.TORC, set()),
    # Mitosis
    ("getTask", dialects.MITOSIS, {401, 404, 503}),
    ("getGroup", dialects.MITOSIS, {400, 401, 403, 404, 503}),  # 400: a NUL in the name (PostgreSQL)
    ("updateTask", dialects.MITOSIS, {400, 401, 403, 404, 409, 413, 415, 503}),
    ("queryTasks", dialects.MITOSIS, {400, 401, 403, 413, 415, 503}),  # a read sent as POST: CSRF only
    ("changePassword", dialects.MITOSIS, {400, 401, 403, 413, 415, 503}),
    ("adminDeleteUser", dialects.MITOSIS, {400, 401, 403, 404, 503}),
    ("downloadAttachmentForWorker", dialects.MITOSIS, {400, 401, 404, 503}),
    ("workerHeartbeat", dialects.MITOSIS, {401, 503}),  # a worker's own token: no role, no session
    ("fetchTask", dialects.MITOSIS, {400, 401, 503}),  # 400: a bad X-Mitosis-Idle header
    ("userLogin", dialects.MITOSIS, {400, 401, 403, 413, 415, 429, 503}),
    # Drover's own
    ("token_create", dialects.DROVER, {400, 401, 413, 415, 429, 503}),
    ("token_refresh_create", dialects.DROVER, {400, 401, 413, 415, 503}),
])
def test_an_operation_documents_the_statuses_its_view_answers(operation_id, dialect, statuses):
    documented = errors_of(operation_id)
    assert set(documented) == statuses
    own = {"#/components/schemas/ErrorMsg"}  # Mitosis' {"msg"}, where a view documents its errors itself
    assert set(documented.values()) <= {ERROR_REF[dialect]} | (own if dialect == dialects.MITOSIS else set())


def test_responses_a_view_documents_are_kept_and_get_a_body():
    shutdown = OPERATIONS["adminShutdownCoordinator"]["responses"]["403"]
    assert shutdown["description"] == "Not staff, or wrong secret"
    assert shutdown["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/MitosisError"
    exists = OPERATIONS["createGroup"]["responses"]["409"]  # the view's description, had no body
    assert exists["description"] == "Exists" and errors_of("createGroup")[409] == ERROR_REF[dialects.MITOSIS]
    assert "content" in OPERATIONS["healthCheck"]["responses"]["503"]  # its own HealthResp
    assert "HealthResp" in OPERATIONS["healthCheck"]["responses"]["503"]["content"]["application/json"]["schema"][
        "$ref"]


def test_every_error_response_of_every_operation_has_a_json_body():
    for operation_id, operation in OPERATIONS.items():
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert "$ref" in response["content"]["application/json"]["schema"], (operation_id, status)


def test_the_tables_name_operations_of_the_schema():
    assert set(schema.RAISED) - set(OPERATIONS) == set()
    assert set(schema.NEVER) - set(OPERATIONS) == set()


# SECTION the error bodies are errors.py's


@pytest.mark.parametrize("dialect", list(ERROR_REF))
def test_each_dialects_error_component_is_the_body_errors_py_sends(dialect):
    component = schema.error_component(dialect)[1]
    jsonschema.validate(body_for(dialect, "jobs.0.name: required", 404), component)
    for other in ERROR_REF:
        if not set(body_for(dialect, "m", 400)) <= set(body_for(other, "m", 400)):  # a superset may pass
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(body_for(other, "m", 400), component)
    with pytest.raises(jsonschema.ValidationError):  # the message is never empty (tests/fuzz/checks.py)
        jsonschema.validate(body_for(dialect, "", 400), component)


# SECTION endpoints that land later get the rules


class _View:
    permission_classes = ()
    throttle_classes = ()


def test_a_new_endpoint_gets_the_rules_and_its_dialects_body():
    read = {"operationId": "ewms_get_task", "security": [{"bearerAuth": []}],
            "parameters": [{"in": "path", "name": "task_id", "schema": {"type": "integer"}}]}
    assert schema.error_statuses(read, "get", _View()) == {401, 404, 503}
    write = {**read, "operationId": "ewms_update_task", "requestBody": {}}
    assert schema.error_statuses(write, "put", _View()) == {400, 401, 403, 404, 413, 415, 503}
    named = {**read, "parameters": [{"in": "path", "name": "name", "schema": {"type": "string"}}]}
    assert 400 in schema.error_statuses(named, "get", _View())  # free text: a NUL is a 400
    admin = type("Admin", (_View,), {"permission_classes": (IsDroverAdmin,)})()
    assert 403 in schema.error_statuses(read, "get", admin)
    login = type("Login", (_View,), {"permission_classes": (AllowAny,), "throttle_classes": LOGIN_THROTTLES})()
    public = {"operationId": "batches_login", "requestBody": {}}
    assert schema.error_statuses(public, "post", login) == {400, 413, 415, 429, 503}
    assert schema.error_component(dialects.EWMS) == ("EwmsError", {
        "type": "object", "required": ["code", "error"],
        "properties": {"code": {"type": "integer"}, "error": {"type": "string", "minLength": 1}}})


# SECTION real error answers match the schema served at /openapi.json


@pytest.mark.django_db
def test_real_error_answers_match_their_documented_schema(alice, settings):
    served = APIClient().get("/openapi.json").json()
    operations = {op["operationId"]: op for item in served["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "operationId" in op}
    user, anonymous = APIClient(), APIClient()
    user.force_authenticate(alice)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    answers = [
        ("torc_get_job", user.get("/torc-service/v1/jobs/987654")),
        ("torc_list_jobs", user.get("/torc-service/v1/jobs?workflow_id=x")),
        ("torc_get_workflow", anonymous.get("/torc-service/v1/workflows/1")),
        ("torc_create_workflow", user.post("/torc-service/v1/workflows", {"name": "w" * 2000}, format="json")),
        ("torc_create_workflow", user.post("/torc-service/v1/workflows", "name=w", content_type="text/plain")),
        ("getTask", user.get(f"/tasks/{uuid.uuid4()}")),
        ("submitTask", user.post("/tasks", {"group_name": "alice"}, format="json")),
        ("token_create", anonymous.post("/token/", {"username": "alice", "password": "wrong"}, format="json")),
        ("token_refresh_create", anonymous.post("/token/refresh/", {}, format="json")),
    ]
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(alice)
    answers.append(("queryTasks", session.post("/tasks/query", {}, format="json")))  # no CSRF token: 403
    seen = set()
    for operation_id, response in answers:
        status = str(response.status_code)
        assert status in operations[operation_id]["responses"], (operation_id, status, response.content[:200])
        ref = operations[operation_id]["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        jsonschema.validate(response.json(), served["components"]["schemas"][ref.rsplit("/", 1)[1]])
        seen.add(status)
    assert seen == {"400", "401", "403", "404", "413", "415"}
    # nothing was created by the refused requests
    from apps.jobs.models import Job
    from apps.workflows.models import Workflow

    assert not Workflow.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_a_nul_in_a_free_text_path_value_is_a_documented_answer(alice):
    """PostgreSQL refuses the NUL (400); SQLite finds no such group (404): both documented. The
    last request of the test: on PostgreSQL the refused statement spoils the test's transaction."""
    served = APIClient().get("/openapi.json").json()
    client = APIClient()
    client.force_authenticate(alice)
    response = client.get("/groups/a%00b")
    documented = served["paths"]["/groups/{group_name}"]["get"]["responses"]
    assert response.status_code in (400, 404) and str(response.status_code) in documented
    jsonschema.validate(response.json(), served["components"]["schemas"]["MitosisError"])
