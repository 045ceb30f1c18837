"""Checking Torc job and result bodies. Bulk requests carry up to 10,000 jobs, so jobs are
checked by a plain function (same messages as a serializer: "jobs.3.depends_on_job_ids: ...")
rather than 10,000 nested serializers."""

from datetime import datetime, timezone

from django.utils.dateparse import parse_datetime

from apps.core.exceptions import FieldValidationError
from apps.core.torc import MAX_INT, MAX_INT32, NUL

from ..states import Status

STRINGS = ("name", "command", "invocation_script")
BOOLS = ("cancel_on_blocking_job_failure", "supports_termination")
ID_LISTS = ("depends_on_job_ids", "input_file_ids", "output_file_ids", "input_user_data_ids", "output_user_data_ids")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_id(value) -> bool:
    """An integer a 64-bit id column (and SQLite) can hold; larger ones used to be a 500."""
    return is_int(value) and 0 <= value <= MAX_INT


def in_range(value, low: int, high: int) -> bool:
    return is_int(value) and low <= value <= high


def clean_job(item, *, where: str = "", partial: bool = False) -> dict:
    """A Torc JobModel body as job_create/jobs_create take it. `where` prefixes field names."""
    if not isinstance(item, dict):
        raise FieldValidationError("expected a JSON object", field=where.rstrip(".") or "body")
    out = {}
    if item.get("workflow_id") is None:
        if not partial:
            raise FieldValidationError("required, an integer", field=f"{where}workflow_id")
    elif not is_id(item["workflow_id"]):
        raise FieldValidationError(f"{item['workflow_id']!r} is not an id", field=f"{where}workflow_id")
    else:
        out["workflow_id"] = item["workflow_id"]
    for key in STRINGS:
        value = item.get(key)
        if value is None:
            if key in ("name", "command") and not partial:
                raise FieldValidationError("required, a string", field=f"{where}{key}")
            continue
        if not isinstance(value, str):
            raise FieldValidationError(f"{value!r} is not a string", field=f"{where}{key}")
        if NUL in value:  # PostgreSQL refuses them: was a 500
            raise FieldValidationError("null characters are not allowed", field=f"{where}{key}")
        if key == "name" and len(value) > 255:
            raise FieldValidationError("longer than 255 characters", field=f"{where}{key}")
        out[key] = value
    for key in BOOLS:
        value = item.get(key)
        if value is not None:
            if not isinstance(value, bool):
                raise FieldValidationError(f"{value!r} is not true or false", field=f"{where}{key}")
            out[key] = value
    for key, high in (("priority", MAX_INT32), ("resource_requirements_id", MAX_INT)):
        value = item.get(key)
        if value is not None:
            if not in_range(value, 0, high):
                raise FieldValidationError(f"{value!r} is not an integer between 0 and {high}",
                                           field=f"{where}{key}")
            out[key] = value
    for key in ID_LISTS:
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(is_id(v) for v in value):
            raise FieldValidationError("must be a list of integer ids", field=f"{where}{key}")
        out[key] = value
    return out


def parse_status(value: str, *, field: str = "status") -> Status:
    try:
        return Status.from_name(value)
    except ValueError:
        allowed = ", ".join(s.label for s in Status)
        raise FieldValidationError(f"{value!r} is not a job status; use one of {allowed}", field=field) from None


METRICS = ("peak_memory_bytes", "avg_memory_bytes", "peak_cpu_percent", "avg_cpu_percent")


def clean_result(body, *, job_id: int | None = None) -> dict:
    """A result as the seed sends it ({workflow_id, job_id, exit_code, stdout, stderr}) or as the
    real client does (ResultModel: return_code, run_id, compute_node_id, exec_time_minutes, ...)."""
    if not isinstance(body, dict):
        raise FieldValidationError("expected a JSON object", field="body")
    out = {}
    for key in ("job_id", "workflow_id"):
        value = body.get(key)
        if value is None and key == "job_id" and job_id is not None:
            value = job_id
        if not is_id(value):
            raise FieldValidationError("required, an integer id", field=key)
        out[key] = value
    if job_id is not None and out["job_id"] != job_id:
        raise FieldValidationError(f"{out['job_id']} does not match the job in the path ({job_id})", field="job_id")
    code = body.get("return_code", body.get("exit_code"))
    if not in_range(code, -MAX_INT32 - 1, MAX_INT32):
        raise FieldValidationError("required, a 32-bit integer (exit_code or return_code)", field="return_code")
    out["return_code"] = code
    for key, high in (("run_id", MAX_INT32), ("compute_node_id", MAX_INT), ("peak_memory_bytes", MAX_INT),
                      ("avg_memory_bytes", MAX_INT)):
        value = body.get(key)
        if value is not None:
            if not in_range(value, 0, high):
                raise FieldValidationError(f"{value!r} is not an integer between 0 and {high}", field=key)
            out[key] = value
    for key in ("exec_time_minutes", "peak_cpu_percent", "avg_cpu_percent"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise FieldValidationError(f"{value!r} is not a non-negative number", field=key)
            out[key] = float(value)
    for key in ("stdout", "stderr"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise FieldValidationError(f"{value!r} is not a string", field=key)
            # a job's output may hold NUL bytes, which PostgreSQL cannot store: keep the rest
            out[key] = value.replace(NUL, "\ufffd")
    if body.get("completion_time") is not None:
        out["completion_time"] = parse_time(body["completion_time"], field="completion_time")
    if body.get("status") is not None:
        out["status"] = parse_status(body["status"])
    return out


def parse_time(value, *, field: str) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise FieldValidationError(f"{value!r} is not an ISO 8601 date-time", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
