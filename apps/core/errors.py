"""The one exception handler: every error leaves Drover in the shape of the request's dialect.

Torc      {"error": {"message": str}}           (real torc-server)
EWMS      {"code": int, "error": str}           (rest_tools ErrorResponse)
Infernet  {"error": str}
Mitosis   {"msg": str, "error": str}            (real coordinator sends msg; the seed shows error)
Batches / Drover  {"detail": str}

Field errors name the field in the message ("num_cpus: must be >= 0"). Unexpected exceptions
are logged and answered 500 without a traceback; a database that does not answer is a 503.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

from . import dialects
from .exceptions import ApplicationError

logger = logging.getLogger("drover.errors")
TOO_LARGE = "body: larger than the server accepts; send less per request"


def body_for(dialect: str, message: str, status_code: int, extra: dict | None = None) -> dict:
    if dialect == dialects.TORC:
        body = {"error": {"message": message}}
    elif dialect == dialects.EWMS:
        body = {"code": status_code, "error": message}
    elif dialect == dialects.INFERNET:
        body = {"error": message}
    elif dialect == dialects.MITOSIS:
        body = {"msg": message, "error": message}
    else:
        body = {"detail": message}
    if extra:
        body.update(extra)
    return body


def flatten_detail(detail, prefix: str = "") -> list[str]:
    """DRF error details as "field: message" lines, nested fields dotted (jobs.0.name)."""
    if isinstance(detail, dict):
        lines = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            lines += flatten_detail(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return lines
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [f"{prefix}: {item}" if prefix else str(item) for item in detail]
        lines = []
        for index, item in enumerate(detail):
            if item:
                lines += flatten_detail(item, f"{prefix}.{index}" if prefix else str(index))
        return lines
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def _dialect(context: dict) -> str:
    request = context.get("request")
    view = context.get("view")
    explicit = getattr(view, "dialect", None)
    if explicit:
        return explicit
    return dialects.dialect_for_path(request.path if request is not None else "")


def exception_handler(exc, context):
    dialect = _dialect(context)
    headers = {}
    if isinstance(exc, ApplicationError):
        status_code, message = exc.status_code, str(exc)
    elif isinstance(exc, RequestDataTooBig):
        status_code, message = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, TOO_LARGE
    elif isinstance(exc, (Http404, drf_exceptions.NotFound)):
        status_code, message = status.HTTP_404_NOT_FOUND, _not_found_message(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        status_code, message = status.HTTP_403_FORBIDDEN, "Permission denied"
    elif isinstance(exc, DjangoValidationError):
        status_code = status.HTTP_400_BAD_REQUEST
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        message = "; ".join(flatten_detail(detail))
    elif isinstance(exc, drf_exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, drf_exceptions.ParseError):
            message = f"body: {exc.detail}"
        else:
            message = "; ".join(flatten_detail(exc.detail))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    elif isinstance(exc, DataError) and "nul (0x00)" in str(exc).lower():
        # PostgreSQL text cannot hold NUL; a name or value carrying one is bad input, whichever field
        _rollback_quietly()
        status_code, message = status.HTTP_400_BAD_REQUEST, "a value holds a NUL character (\\0), which is not allowed"
    elif isinstance(exc, (OperationalError, InterfaceError)) and database_unavailable(exc):
        logger.warning("database unavailable: %s", exc)
        status_code, message = status.HTTP_503_SERVICE_UNAVAILABLE, "Database unavailable, retry later"
        headers["Retry-After"] = "1"
    else:
        logger.exception("unhandled error", exc_info=exc)
        if isinstance(exc, DatabaseError):
            _rollback_quietly()
        status_code, message = status.HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error"
    return Response(body_for(dialect, message, status_code), status=status_code, headers=headers)


UNAVAILABLE_HINTS = ("connect", "connection", "server closed", "terminating", "shutting down", "database is locked",
                     "unable to open database", "timeout", "timed out", "starting up")


def database_unavailable(exc) -> bool:
    """A database that cannot answer now (503, retry) as opposed to a bad statement (a bug, 500)."""
    text = str(exc).lower()
    return isinstance(exc, InterfaceError) or any(hint in text for hint in UNAVAILABLE_HINTS)


def _not_found_message(exc) -> str:
    text = str(getattr(exc, "detail", "") or exc)
    if not text or text.startswith("No ") and "matches the given query" in text:
        return "Not found"
    return text


def _rollback_quietly() -> None:
    from django.db import connection

    try:
        if connection.in_atomic_block:
            connection.set_rollback(True)
    except Exception:  # noqa: BLE001 - best effort while already failing
        pass


def json_error_view(status_code: int, message: str):
    """Django-level handler404/handler500 for paths no DRF view caught."""

    def view(request, exception=None):
        dialect = dialects.dialect_for_path(request.path)
        if isinstance(exception, RequestDataTooBig):  # a form post (the console) over DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse(body_for(dialect, TOO_LARGE, 413), status=413)
        return JsonResponse(body_for(dialect, message, status_code), status=status_code)

    return view
