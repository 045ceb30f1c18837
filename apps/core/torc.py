"""Torc dialect plumbing shared by the apps that serve /torc-service/v1: the base view, the list
envelope (the seed's key and the real server's keys in one body), query-parameter readers and
the two timestamp forms."""

import re
from datetime import datetime, timezone

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, transaction
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.utils import json
from rest_framework.views import APIView

from . import dialects
from .exceptions import ApplicationError, FieldValidationError

MAX_LIMIT = 10_000  # Torc's MAX_RECORD_TRANSFER_COUNT
MAX_INT = 2**63 - 1  # a 64-bit column (ids, bytes); SQLite refuses larger parameters
MAX_INT32 = 2**31 - 1  # an IntegerField / PositiveIntegerField column on PostgreSQL
TIMESTAMP_HEADER = "HTTP_X_TORC_TIMESTAMP_FORMAT"
_INT_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)  # int() also takes " 5", "1_0" and non-ASCII digits
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BULK_BODY_MAX = 64 * 1024 * 1024  # bytes of JSON bulk_jobs / workflow_specifications accept


class BodyTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class BulkJSONParser(BaseParser):
    """JSON for the endpoints that take up to 10,000 jobs in one body. DRF's JSONParser reads
    request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default): less
    than 10,000 ordinary jobs, and the refusal was a 500. This parser reads the stream itself,
    up to BULK_BODY_MAX, and answers 413 beyond."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > BULK_BODY_MAX:
            raise _too_large(BULK_BODY_MAX)
        raw = stream.read(BULK_BODY_MAX + 1)
        if len(raw) > BULK_BODY_MAX:
            raise _too_large(BULK_BODY_MAX)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=json.strict_constant)
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"larger than {limit} bytes; send fewer items per request", field="body")


class TorcView(APIView):
    """Every Torc write request is one transaction: an error answer (4xx/5xx) rolls back all
    the request wrote, also the writes of service calls that had returned before a later step
    refused. The transaction opens after authentication (password hashing must not hold SQLite's
    write lock, which IMMEDIATE transactions take); reads stay outside one."""

    dialect = dialects.TORC
    _atomic = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles
        if request.method in WRITE_METHODS:
            atomic = transaction.atomic()
            atomic.__enter__()
            self._atomic = atomic  # only once entered: a database that is down fails the line above

    def handle_exception(self, exc):
        if isinstance(exc, RequestDataTooBig):  # a SuspiciousOperation: was answered 500
            exc = _too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return super().handle_exception(exc)

    def dispatch(self, request, *args, **kwargs):
        self._atomic = None
        try:
            response = super().dispatch(request, *args, **kwargs)
        except BaseException as exc:
            if self._atomic is not None:
                try:
                    self._atomic.__exit__(type(exc), exc, exc.__traceback__)
                except (OperationalError, InterfaceError):
                    pass  # the rollback failed with the connection; the original error tells more
            raise
        if self._atomic is not None:
            try:
                if response.status_code >= 400:
                    transaction.set_rollback(True)
                self._atomic.__exit__(None, None, None)
            except (OperationalError, InterfaceError) as exc:  # the database went away: 503, not 500
                response = self.finalize_response(request, self.handle_exception(exc), *args, **kwargs)
                response.render()
        return response


def int_param(request, name: str, default: int | None = None, *, minimum: int | None = None,
              maximum: int | None = MAX_INT, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        if required:
            raise FieldValidationError("this query parameter is required", field=name)
        return default
    if raw == "":  # "?limit=" is not "no limit": the client meant a value and sent none
        raise FieldValidationError("is empty; give an integer or leave the parameter out", field=name)
    if not _INT_RE.fullmatch(raw):
        raise FieldValidationError(f"{raw[:40]!r} is not an integer", field=name)
    value = int(raw)
    if minimum is not None and value < minimum:
        raise FieldValidationError(f"must be >= {minimum}, got {value}", field=name)
    if maximum is not None and value > maximum:
        raise FieldValidationError(f"must be <= {maximum}, got {value}", field=name)
    return value


NUL = "\x00"  # PostgreSQL stores no NUL in text or jsonb: letting one through was a 500 there


def str_param(request, name: str) -> str | None:
    """A query-string filter value; None when absent or empty."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    if NUL in raw:
        raise FieldValidationError("null characters are not allowed", field=name)
    return raw


def find_nul(value, path: str = "") -> str | None:
    """The dotted path of the first string (value or key) holding a NUL in a JSON value, or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in str(key):  # a key holding NUL: name the object, not the unprintable key
                return path
            where = f"{path}.{key}" if path else str(key)
            found = find_nul(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def no_null_characters(value) -> None:
    """A DRF validator for JSON fields (DRF's CharField already refuses NUL, JSONField does not)."""
    from rest_framework.exceptions import ValidationError

    where = find_nul(value)
    if where is not None:
        raise ValidationError(f"null characters are not allowed (at {where or 'the value'})")


def bool_param(request, name: str, default: bool | None = False) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise FieldValidationError(f"{raw!r} is not a boolean; use true or false", field=name)


def page(request) -> tuple[int, int]:
    offset = int_param(request, "offset", 0, minimum=0)
    limit = int_param(request, "limit", MAX_LIMIT, minimum=0)
    return offset, min(limit, MAX_LIMIT)


def envelope(items: list, *, seed_key: str, offset: int, total: int) -> dict:
    """Both forms at once: the seed's {"jobs": [...]} and the real server's paging keys."""
    return {
        seed_key: items,
        "items": items,
        "offset": offset,
        "max_limit": MAX_LIMIT,
        "count": len(items),
        "total_count": total,
        "has_more": offset + len(items) < total,
    }


def paged(request, queryset, *, seed_key: str, to_dict, prepare=None) -> dict:
    """One COUNT and one page query; `prepare(rows)` may add related data for the page."""
    offset, limit = page(request)
    if request.query_params.get("reverse_sort") in ("true", "1"):
        queryset = queryset.reverse()
    total = queryset.count()
    rows = list(queryset[offset:offset + limit]) if limit else []
    extra = prepare(rows) if prepare else None
    items = [to_dict(row, extra) if prepare else to_dict(row) for row in rows]
    return envelope(items, seed_key=seed_key, offset=offset, total=total)


def wants_string_timestamp(request) -> bool:
    """The seed shows the workflow timestamp as float seconds; the real server sends a string
    and torc-client refuses a float. Default: the seed's float, except for the generated
    clients (User-Agent OpenAPI-Generator/...). X-Torc-Timestamp-Format: string|float or the
    DROVER_TORC_TIMESTAMP setting (auto|float|string) decide explicitly."""
    header = request.META.get(TIMESTAMP_HEADER, "").strip().lower()
    if header in ("string", "float"):
        return header == "string"
    mode = settings.DROVER_TORC_TIMESTAMP
    if mode in ("string", "float"):
        return mode == "string"
    return request.META.get("HTTP_USER_AGENT", "").startswith("OpenAPI-Generator/")


def workflow_timestamp(value: datetime, request):
    if wants_string_timestamp(request):
        return iso_ms(value)
    return value.timestamp()


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def iso_ms(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:  # "Z" means UTC: an offset the client sent (+02:00) is converted
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
