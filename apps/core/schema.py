"""drf-spectacular extensions: how Drover's authentication classes appear in /openapi.json, and
the error responses of every operation (add_error_responses, a postprocessing hook)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.permissions import IsAdminUser

from . import dialects
from .errors import body_for
from .permissions import IsDroverAdmin


class SignedJWTScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.SignedJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer",
                                                   bearer_format="JWT")


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "Or `Authorization: Api-Key <key>`"}


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.ActiveBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}


class WorkerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.WorkerTokenAuthentication"
    name = "workerAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Bearer",
                                                   bearer_format="JWT")


# SECTION error responses
# Every operation lists the 4xx/5xx its view really answers, each with its dialect's error body
# (one component per dialect, built from errors.body_for, so the two cannot drift). Rules read
# from the operation and its view cover most statuses; RAISED and NEVER hold what the services
# decide beyond them (grep: NotFound, PermissionDenied, Conflict, Unprocessable). A response the
# view documents itself is kept. tests/fuzz fails on a status the views answer and this misses.

WRITES = frozenset({"post", "put", "patch", "delete"})
STAFF_ONLY = (IsDroverAdmin, IsAdminUser)

DESCRIPTIONS = {
    400: "Bad input; the message names the field",
    401: "No valid credentials",
    403: "Not allowed: the caller's role in the group is too low (Read members cannot write), the operation is "
         "for staff or another kind of token, a quota is reached, or a session's write lacks its CSRF token",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the object's state: a status change the transition table refuses, a report from a "
         "compute node that no longer holds the job, a name in use",
    413: "Body larger than the server accepts",
    415: "Body is not application/json",
    422: "Does not apply to the job now: a stale run_id, a job already complete or not failed",
    429: "Too many attempts; retry after Retry-After seconds",
    503: "Unavailable for now (e.g. the database does not answer); retry later",
}


def _each(statuses: set[int], *operation_ids: str) -> dict[str, set[int]]:
    return {operation_id: set(statuses) for operation_id in operation_ids}


# What the services answer beyond the rules, by operationId.
RAISED: dict[str, set[int]] = {
    # Torc: the workflow named by the query or body must be visible (workflows.services.workflow_for)
    **_each({404}, "torc_list_compute_nodes", "torc_list_events", "torc_list_files", "torc_list_jobs",
            "torc_list_resource_requirements", "torc_list_results", "torc_list_user_data",
            "torc_create_compute_node", "torc_create_event", "torc_create_file", "torc_create_job",
            "torc_create_result", "torc_create_user_data"),
    "torc_create_jobs": {404, 422},  # 422: jobs of several workflows in one request
    "torc_create_resource_requirements": {404, 409},  # 409: the name exists in the workflow
    "torc_update_resource_requirements": {409},
    # Torc job lifecycle (jobs.services.lifecycle, transitions.refuse): 409 a transition the table refuses
    # or a late report of a compute node; 422 a stale run_id or a job in the wrong state
    "torc_start_job": {400, 409, 422},  # 400: the compute node is not in the job's workflow
    "torc_complete_job": {409, 422},
    "torc_manage_status_change": {409, 422},
    "torc_manage_status_change_seed": {409},
    "torc_retry_job": {422},
    # Mitosis
    "getGroup": {403},  # a group the caller is not in (groups.services.require_role)
    "submitTask": {404},  # no such group
    "updateTask": {409},  # a task a worker holds or that ended
    "reportTask": {404},  # a task the worker does not hold
    # Drover's own: wrong password, a bad or revoked refresh token
    "token_create": {401},
    "token_refresh_create": {401},
}

# What the rules would add but cannot happen, by operationId.
NEVER: dict[str, set[int]] = {
    "workerHeartbeat": {403},  # the worker's own token only: no role to lack, no session (CSRF)
    "changePassword": {404},  # another user's name is a 403, never looked up
    "torc_ping": {503},  # touches no database
}


def error_statuses(operation: dict, method: str, view) -> set[int]:
    """The 4xx/5xx statuses an operation can answer: by rule, then RAISED and NEVER."""
    security = operation.get("security") or []
    secured = bool(security) and {} not in security
    params = operation.get("parameters", [])
    path_params = [p for p in params if p["in"] == "path"]
    statuses = {503}  # errors.py's answer while the database does not answer
    if secured:
        statuses.add(401)
        # a write: the caller's role in the group, a quota, or a session's missing CSRF token (so
        # also writes that check no role); staff-only views
        if method in WRITES or any(issubclass(p, STAFF_ONLY) for p in getattr(view, "permission_classes", ())):
            statuses.add(403)
    if "requestBody" in operation:
        statuses |= {400, 413, 415}
    # query and header values are parsed (400 when bad); a free-text path value is parsed or looked up as
    # text (PostgreSQL refuses a NUL: 400);
    # integers and uuids that do not parse do not match the route (404)
    if any(p["in"] in ("query", "header") for p in params) or any(_is_text(p) for p in path_params):
        statuses.add(400)
    if path_params:
        statuses.add(404)
    if getattr(view, "throttle_classes", None):
        statuses.add(429)
    op_id = operation.get("operationId")
    return (statuses | RAISED.get(op_id, set())) - NEVER.get(op_id, set())


def _is_text(parameter: dict) -> bool:
    schema = parameter.get("schema", {})
    return schema.get("type") == "string" and schema.get("format") != "uuid"


def error_component(dialect: str) -> tuple[str, dict]:
    """The dialect's error body as a schema, from the body errors.py sends."""
    return f"{dialect.capitalize()}Error", _schema_of(body_for(dialect, "message", 400))


def _schema_of(value) -> dict:
    if isinstance(value, dict):
        return {"type": "object", "properties": {k: _schema_of(v) for k, v in value.items()}, "required": list(value)}
    if isinstance(value, int):
        return {"type": "integer"}
    return {"type": "string", "minLength": 1}


def add_error_responses(result, generator, request, public):
    """POSTPROCESSING_HOOKS: the error responses of every operation (see the section comment)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for (path, method), view in _views(generator).items():
        operation = result["paths"].get(path, {}).get(method)
        if operation is None:  # excluded from the schema
            continue
        name, schema = error_component(getattr(view, "dialect", None) or dialects.dialect_for_path(path))
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
        responses = operation.setdefault("responses", {})
        for status in error_statuses(operation, method, view):
            responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
        for status, response in responses.items():
            if status[0] in "45" and "content" not in response:  # the view's own content (ErrorMsg) stays
                response["content"] = content
                schemas.setdefault(name, schema)
        operation["responses"] = dict(sorted(responses.items()))
    return result


def _views(generator) -> dict:
    """(path, method) -> the view instance of each endpoint, as the generator built the paths."""
    views = {}
    for path, _, method, callback in generator.endpoints or ():
        view = generator.create_view(callback, method)
        views[generator.coerce_path(path, method, view), method.lower()] = view
    return views
