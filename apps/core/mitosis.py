"""Mitosis dialect plumbing: its datetime form and humantime durations."""

from datetime import datetime, timezone

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import format_mitosis_duration, parse_mitosis_duration


def mitosis_time(value: datetime | None) -> str | None:
    """Mitosis' (Rust time crate) form: "2025-11-03 08:12:45.123456 +00:00:00"; the fraction
    is required by its clients."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    fraction = f"{value.microsecond:06d}".rstrip("0") or "0"
    return value.strftime("%Y-%m-%d %H:%M:%S.") + fraction + " +00:00:00"


def duration_in(value, *, field: str) -> int:
    if not isinstance(value, str):
        raise FieldValidationError(f"{value!r} is not a duration like \"10m\" or \"2h\"", field=field)
    return parse_mitosis_duration(value, field=field)


def duration_out(seconds: int | None) -> str | None:
    return format_mitosis_duration(seconds) if seconds else None
