"""Torc dialect plumbing shared by the apps that serve /torc-service/v1: the base view, the list
envelope (the seed's key and the real server's keys in one body), query-parameter readers and
the two timestamp forms."""

from datetime import datetime

from django.conf import settings
from rest_framework.views import APIView

from . import dialects
from .exceptions import FieldValidationError

MAX_LIMIT = 10_000  # Torc's MAX_RECORD_TRANSFER_COUNT
TIMESTAMP_HEADER = "HTTP_X_TORC_TIMESTAMP_FORMAT"


class TorcView(APIView):
    dialect = dialects.TORC


def int_param(request, name: str, default: int | None = None, *, minimum: int | None = None,
              maximum: int | None = None, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise FieldValidationError("this query parameter is required", field=name)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FieldValidationError(f"{raw!r} is not an integer", field=name) from None
    if minimum is not None and value < minimum:
        raise FieldValidationError(f"must be >= {minimum}, got {value}", field=name)
    if maximum is not None and value > maximum:
        raise FieldValidationError(f"must be <= {maximum}, got {value}", field=name)
    return value


def bool_param(request, name: str, default: bool | None = False) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
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
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.timestamp()


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def iso_ms(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
