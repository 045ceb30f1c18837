"""Pure-Python parsers for the unit-bearing values Torc and Mitosis clients send.

Every ``parse_*`` function takes the raw value and a keyword ``field`` (the input's name) and
returns plain Python values (ints are bytes or seconds), or raises
:class:`~apps.core.exceptions.FieldValidationError` whose message names the field, quotes the
bad value and says what format is expected. ``format_*`` functions give the canonical string.

Behaviour choices:

* Decimals (``1.5g``, ``1.5GB``, ``PT1.5S``) are rounded to the nearest integer, halves up.
* Memory, size and ISO 8601 strings are case-insensitive (``pt1h`` == ``PT1H``). Mitosis
  durations are lowercase only, as in Rust's humantime, where ``M`` would mean months.
* Mitosis sub-second totals round up to whole seconds (``500ms`` -> 1); a zero total is refused.
* Years and months are refused in every duration: their length varies.
* Memory and size also accept a non-negative int (bytes); durations and comparisons accept
  strings only. Anything above 2**63 - 1 (a signed 64-bit column) is refused.
"""

import math
import re
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q

from apps.core.exceptions import FieldValidationError

MAX_INT = 2**63 - 1
_MAX_LEN = 100  # longer input is garbage; the cap also bounds the cost of the arithmetic
_NUM = r"[0-9]+(?:\.[0-9]+)?"  # ASCII digits only: \d and int() also accept e.g. Arabic digits

_MEMORY_RE = re.compile(rf"({_NUM})([kmgt]?)", re.IGNORECASE | re.ASCII)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MEMORY_HINT = "a memory size; use a number with k, m, g or t (e.g. 512k, 2g)"

_ISO_RE = re.compile(
    rf"P(?:({_NUM})W)?(?:({_NUM})D)?(?:T(?=[0-9])(?:({_NUM})H)?(?:({_NUM})M)?(?:({_NUM})S)?)?",
    re.ASCII,
)
_ISO_YEARS_MONTHS_RE = re.compile(rf"P(?:{_NUM}[WD])*{_NUM}[YM]")
_ISO_UNITS = (604800, 86400, 3600, 60, 1)  # W, D, H, M, S: the groups of _ISO_RE in order
_ISO_HINT = "an ISO 8601 duration; use e.g. PT30M, PT2H, P1DT12H or P1W"

_HUMAN_RE = re.compile(r"(?:[0-9]+\s*[a-z]+\s*)+", re.ASCII)
_HUMAN_TOKEN_RE = re.compile(r"([0-9]+)\s*([a-z]+)", re.ASCII)
_HUMAN_UNITS_MS = {
    **dict.fromkeys(("ms", "msec"), 1),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1000),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
    **dict.fromkeys(("w", "week", "weeks"), 604_800_000),
}
_HUMAN_HINT = (
    "a duration; use whole numbers with ms, s, m, h, d or w, lowercase (e.g. 90s, 2h, 1h 30m)"
)

_SIZE_RE = re.compile(rf"({_NUM})\s*(?:([kmgtpe])(i)?)?(b)?", re.IGNORECASE | re.ASCII)
_SIZE_HINT = "a size; use a number with B, KB, MB, GB, TB, PB or KiB, MiB, GiB... (e.g. 2GB, 512MiB)"

_QUOTA_RE = re.compile(r"([+\-=]?)\s*([^+\-=\s].*)", re.DOTALL)
_QUOTA_OPS = {"+": "add", "-": "sub", "=": "set", "": "set"}

_COMPARISON_RE = re.compile(r"(>=|<=|!=|>|<|=)?\s*([^<>=!\s].*)", re.DOTALL)
_INT_RE = re.compile(r"[+-]?[0-9]+")
_LOOKUPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "exact", "!=": "exact"}


def _show(value) -> str:
    """The value as quoted in messages: repr, shortened when long."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _invalid(field: str, value, hint: str) -> FieldValidationError:
    """The error for a value that does not fit the format `hint` describes."""
    return FieldValidationError(f"{_show(value)} is not {hint}", field=field)


def _too_large(field: str, value, unit: str = "") -> FieldValidationError:
    """The error for a value above MAX_INT."""
    message = f"{_show(value)} is too large; the maximum is {MAX_INT} {unit}".rstrip()
    return FieldValidationError(message, field=field)


def _text(value, field: str, hint: str, *, numbers: bool = False) -> str:
    """The raw value as a stripped, non-empty, bounded string (ints/floats only if `numbers`)."""
    text = None
    if isinstance(value, str):
        text = value.strip()
    elif numbers and isinstance(value, int) and not isinstance(value, bool):
        if value > MAX_INT:
            raise _too_large(field, value, "bytes")
        text = str(value)
    elif numbers and isinstance(value, float) and math.isfinite(value):
        text = format(Decimal(repr(value)), "f")
    if not text or len(text) > _MAX_LEN:
        raise _invalid(field, value, hint)
    return text


def _round(exact: Fraction) -> int:
    """Round a non-negative exact number to the nearest int, halves up."""
    return math.floor(exact + Fraction(1, 2))


def _count(n) -> int:
    """Check a format_* argument: a non-negative int."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"expected a non-negative int, got {n!r}")
    return n


def parse_memory(value, *, field: str = "memory") -> int:
    """Torc memory ("512k", "1.5g", "1t"; binary units; bare number = bytes) -> bytes."""
    match = _MEMORY_RE.fullmatch(_text(value, field, _MEMORY_HINT, numbers=True))
    if not match:
        raise _invalid(field, value, _MEMORY_HINT)
    n_bytes = _round(Fraction(match[1]) * _MEMORY_UNITS[match[2].lower()])
    if n_bytes > MAX_INT:
        raise _too_large(field, value, "bytes")
    return n_bytes


def format_memory(n_bytes: int) -> str:
    """Bytes -> Torc memory string in the largest unit dividing exactly ("128g", "1000")."""
    _count(n_bytes)
    for suffix in "tgmk":
        if n_bytes and n_bytes % _MEMORY_UNITS[suffix] == 0:
            return f"{n_bytes // _MEMORY_UNITS[suffix]}{suffix}"
    return str(n_bytes)


def parse_iso_duration(value, *, field: str = "runtime") -> int:
    """ISO 8601 duration ("PT30M", "P1DT12H", "P1W"; no years/months) -> seconds."""
    text = _text(value, field, _ISO_HINT)
    if not text.isascii():  # str.upper() maps some non-ASCII letters to ASCII ones
        raise _invalid(field, value, _ISO_HINT)
    text = text.upper()
    if _ISO_YEARS_MONTHS_RE.match(text):
        message = (
            f"{_show(value)} uses years or months, whose length varies; "
            "use weeks, days, hours, minutes or seconds (e.g. P30D, PT2H)"
        )
        raise FieldValidationError(message, field=field)
    match = _ISO_RE.fullmatch(text)
    if not match or not any(match.groups()):
        raise _invalid(field, value, _ISO_HINT)
    seconds = _round(sum(Fraction(n) * unit for n, unit in zip(match.groups(), _ISO_UNITS) if n))
    if seconds > MAX_INT:
        raise _too_large(field, value, "seconds")
    return seconds


def format_iso_duration(seconds: int) -> str:
    """Seconds -> canonical ISO 8601 duration ("PT8H", "P1DT12H", "PT1H30M15S", "PT0S")."""
    days, rest = divmod(_count(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date = f"{days}D" if days else ""
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")


def parse_mitosis_duration(value, *, field: str = "timeout") -> int:
    """Humantime duration ("2h", "1h 30m", "2days", "500ms") -> seconds, rounded up; > 0."""
    text = _text(value, field, _HUMAN_HINT)
    if not _HUMAN_RE.fullmatch(text):
        raise _invalid(field, value, _HUMAN_HINT)
    millis = 0
    for number, unit in _HUMAN_TOKEN_RE.findall(text):
        if unit not in _HUMAN_UNITS_MS:
            raise _invalid(field, value, _HUMAN_HINT)
        millis += int(number) * _HUMAN_UNITS_MS[unit]
    seconds = -(-millis // 1000)
    if seconds == 0:
        message = f"{_show(value)} is zero; a duration must be positive (e.g. 90s, 2h)"
        raise FieldValidationError(message, field=field)
    if seconds > MAX_INT:
        raise _too_large(field, value, "seconds")
    return seconds


def format_mitosis_duration(seconds: int) -> str:
    """Seconds -> humantime string ("2h", "1h 30m", "1d", "0s")."""
    days, rest = divmod(_count(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s"))
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def parse_size(value, *, field: str = "storage_quota") -> int:
    """Size like Rust's parse_size ("2GB", "512MiB", "1K", "1.5GB"; bare number = bytes) -> bytes."""
    match = _SIZE_RE.fullmatch(_text(value, field, _SIZE_HINT, numbers=True))
    if not match:
        raise _invalid(field, value, _SIZE_HINT)
    number, prefix, binary, _ = match.groups()
    multiplier = (1024 if binary else 1000) ** ("kmgtpe".index(prefix.lower()) + 1) if prefix else 1
    n_bytes = _round(Fraction(number) * multiplier)
    if n_bytes > MAX_INT:
        raise _too_large(field, value, "bytes")
    return n_bytes


def parse_quota_change(value, *, field: str = "group_quota", unit_parser=None) -> tuple[str, int]:
    """"+5"/"-3"/"=7"/"7" -> ("add"|"sub"|"set", amount); `unit_parser(text, field=...)` for units."""
    what = "a whole number (e.g. +5, -3, =7)"
    if unit_parser is not None:
        what = "an amount with units (e.g. +2GB, -512MiB, =1TB)"
    hint = f"a quota change; use +N to add, -N to subtract, =N or N to set, where N is {what}"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT:
        return ("set", value)
    match = _QUOTA_RE.fullmatch(_text(value, field, hint))
    if not match:
        raise _invalid(field, value, hint)
    sign, amount_text = match.groups()
    if unit_parser is None:
        if not amount_text.isascii() or not amount_text.isdigit():
            raise _invalid(field, value, hint)
        amount = int(amount_text)
        if amount > MAX_INT:
            raise _too_large(field, value)
    else:
        try:
            amount = unit_parser(amount_text, field=field)
        except (FieldValidationError, ValueError, TypeError, ArithmeticError):
            raise _invalid(field, value, hint) from None
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_INT:
            raise _invalid(field, value, hint)
    return (_QUOTA_OPS[sign], amount)


def apply_quota_change(current: int, change: tuple[str, int]) -> int:
    """Apply (op, amount) to `current`, saturating at 0 and 2**63 - 1."""
    op, amount = change
    if op == "add":
        result = current + amount
    elif op == "sub":
        result = current - amount
    elif op == "set":
        result = amount
    else:
        raise ValueError(f"unknown quota operation {op!r}")
    return min(max(result, 0), MAX_INT)


def parse_comparison(value, *, field: str = "filter", value_parser=int) -> tuple[str, object]:
    """">5", ">= 5", "!=0", "5" -> (operator, value_parser(rhs)); a bare value means "="."""
    what = {int: "an integer", float: "a number"}.get(value_parser, "a value")
    hint = f"a comparison; use an optional >, >=, <, <=, = or != followed by {what} (e.g. >=5)"
    match = _COMPARISON_RE.fullmatch(_text(value, field, hint))
    if not match:
        raise _invalid(field, value, hint)
    op, rhs = match[1] or "=", match[2]
    if value_parser is int and not _INT_RE.fullmatch(rhs):
        raise _invalid(field, value, hint)
    try:
        parsed = value_parser(rhs)
    except (FieldValidationError, ValueError, TypeError, ArithmeticError):
        raise _invalid(field, value, hint) from None
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise _invalid(field, value, hint)
    if isinstance(parsed, int) and not isinstance(parsed, bool) and abs(parsed) > MAX_INT:
        raise _too_large(field, value)
    return (op, parsed)


def comparison_to_q(field_name: str, comparison: tuple) -> Q:
    """(operator, value) from parse_comparison -> Q on `field_name` ("!=" is a negated exact)."""
    op, value = comparison
    if op not in _LOOKUPS:
        raise ValueError(f"unknown comparison operator {op!r}")
    q = Q(**{f"{field_name}__{_LOOKUPS[op]}": value})
    return ~q if op == "!=" else q
