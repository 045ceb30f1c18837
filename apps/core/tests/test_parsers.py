"""Tests for apps.core.parsers: good inputs, bad inputs (field + message), round trips.

Pure Python: runs without Django settings (``pytest -p no:django``)."""

import pytest
from django.db.models import Q

from apps.core.exceptions import FieldValidationError
from apps.core.parsers import (
    MAX_INT,
    apply_quota_change,
    comparison_to_q,
    format_iso_duration,
    format_memory,
    format_mitosis_duration,
    parse_comparison,
    parse_iso_duration,
    parse_memory,
    parse_mitosis_duration,
    parse_quota_change,
    parse_size,
)

K, M, G, T, P, E = (1024**n for n in range(1, 7))
FIELD = "the_field"
# Rejected by every parser below.
COMMON_BAD = ["", "   ", "\t\n", None, True, False, [], {}, b"1", object(), "x" * 200, "garbage"]


def assert_rejected(parse, value, field=FIELD, **kwargs):
    """`parse` raises FieldValidationError for `field`, quoting the value and giving a hint."""
    with pytest.raises(FieldValidationError) as info:
        parse(value, field=field, **kwargs)
    error = info.value
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert repr(value)[:30] in error.message
    assert "e.g." in error.message or "maximum" in error.message
    assert f"{field}:" not in error.message  # the field is named once, by str()
    return error


def assert_int(result, expected):
    assert result == expected
    assert type(result) is int


# --- memory -------------------------------------------------------------------------------

MEMORY_GOOD = [
    ("512k", 512 * K),
    ("1m", M),
    ("2g", 2 * G),
    ("128g", 137438953472),
    ("1t", T),
    ("1K", K),
    ("1M", M),
    ("2G", 2 * G),
    ("3T", 3 * T),
    ("0", 0),
    ("0k", 0),
    ("1", 1),
    ("1000", 1000),
    ("007k", 7 * K),
    ("  2g  ", 2 * G),
    ("1.5g", 1610612736),
    ("0.5k", 512),
    ("1.25m", 1310720),
    ("1.5", 2),  # halves round up
    ("2.5", 3),  # ... not to even
    ("0.4", 0),
    ("0.0005k", 1),  # 0.512 bytes
    ("1.0001k", 1024),  # 1024.1024 bytes
    ("8388607t", 8388607 * T),
    (str(MAX_INT), MAX_INT),
    (0, 0),
    (1000, 1000),
    (MAX_INT, MAX_INT),
    (2048.0, 2048),
    (1.5, 2),
]
MEMORY_BAD = COMMON_BAD + [
    "12x", "g", "k", "-1g", "1 g g", "1 g", "1gb", "1gg", "1kg", "1.g", ".5g", "1e3", "1,5g",
    "+1g", "1_000", "nan", "inf", "0x10", "1g1", "g1", "1 000", "\u0661\u0662",  # Arabic 12
    "1\u212a",  # Kelvin sign, which a Unicode IGNORECASE would match as k
    "8388608t", "9" * 30, -1, -1.5, float("nan"), float("inf"), float("-inf"), 1e300, 2**63,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), MEMORY_GOOD)
def test_parse_memory_good(value, expected):
    assert_int(parse_memory(value), expected)


@pytest.mark.parametrize("value", MEMORY_BAD)
def test_parse_memory_bad(value):
    assert_rejected(parse_memory, value)


def test_parse_memory_message_and_default_field():
    with pytest.raises(FieldValidationError) as info:
        parse_memory("12x")
    assert info.value.field == "memory"
    assert str(info.value) == (
        "memory: '12x' is not a memory size; use a number with k, m, g or t (e.g. 512k, 2g)"
    )


def test_parse_memory_too_large_message():
    error = assert_rejected(parse_memory, "8388608t")
    assert "too large" in error.message


@pytest.mark.parametrize(
    ("n_bytes", "expected"),
    [
        (137438953472, "128g"),
        (M, "1m"),
        (1000, "1000"),
        (0, "0"),
        (1, "1"),
        (K, "1k"),
        (1536, "1536"),
        (1025 * K, "1025k"),
        (1536 * K, "1536k"),
        (3 * G, "3g"),
        (T, "1t"),
        (1024 * T, "1024t"),
        (MAX_INT, str(MAX_INT)),
    ],
)
def test_format_memory(n_bytes, expected):
    assert format_memory(n_bytes) == expected


@pytest.mark.parametrize("n_bytes", [-1, True, 1.5, "1", None])
def test_format_memory_rejects_non_counts(n_bytes):
    with pytest.raises(ValueError):
        format_memory(n_bytes)


@pytest.mark.parametrize("text", ["0", "1", "1000", "1k", "512k", "1m", "2g", "128g", "1t", "3t"])
def test_memory_round_trip_canonical(text):
    assert format_memory(parse_memory(text)) == text


def test_memory_round_trip_numbers():
    numbers = list(range(0, 5000)) + [k * unit for unit in (K, M, G, T) for k in range(1, 1100, 7)]
    numbers += [MAX_INT, MAX_INT - 1, 2**62, 8388607 * T]
    for n in numbers:
        assert parse_memory(format_memory(n)) == n, n


# --- ISO 8601 durations -----------------------------------------------------------------------

ISO_GOOD = [
    ("PT30M", 1800),
    ("PT2H", 7200),
    ("P1DT12H", 129600),
    ("P0DT1M", 60),
    ("PT1.5S", 2),  # nearest second, halves up
    ("PT2.5S", 3),
    ("PT0.5S", 1),
    ("PT0.4S", 0),
    ("PT1M30.5S", 91),
    ("P1W", 604800),
    ("P2D", 172800),
    ("P1W1D", 691200),
    ("P1.5D", 129600),
    ("PT0.25H", 900),
    ("PT1H30M15S", 5415),
    ("PT36H", 129600),
    ("PT90M", 5400),
    ("PT0S", 0),
    ("P0D", 0),
    ("pt1h", 3600),  # lowercase is accepted
    ("p1dt2h3m4s", 93784),
    ("Pt8H", 28800),
    ("  PT8H  ", 28800),
    (f"PT{MAX_INT}S", MAX_INT),
]
ISO_BAD = COMMON_BAD + [
    "8 hours", "P", "PT", "pt", "P1H", "PT-1H", "-PT1H", "+PT1H", "1H", "T1H", "PTH", "PT1H30",
    "PT1M1H", "P1D1W", "P1DT", "P1S", "P T1H", "PT 1H", "PT1H 30M", "PT1.H", "PT.5S", "PT1,5S",
    "PT1HS", "PT1Ｈ", "pt1\u017f",  # long s: "ſ".upper() == "S"
    "PT1e3S", "2h", "3600", f"PT{MAX_INT + 1}S", "P99999999999999999D", 3600, 1.5,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), ISO_GOOD)
def test_parse_iso_duration_good(value, expected):
    assert_int(parse_iso_duration(value), expected)


@pytest.mark.parametrize("value", ISO_BAD)
def test_parse_iso_duration_bad(value):
    assert_rejected(parse_iso_duration, value)


@pytest.mark.parametrize("value", ["P1Y", "P1M", "p1m", "P1Y2M3DT4H", "P2W1M", "P1.5Y"])
def test_parse_iso_duration_rejects_years_and_months(value):
    error = assert_rejected(parse_iso_duration, value)
    assert "years or months" in error.message


def test_parse_iso_duration_default_field():
    with pytest.raises(FieldValidationError) as info:
        parse_iso_duration("8 hours")
    assert info.value.field == "runtime"
    assert str(info.value).startswith("runtime: ") and "PT2H" in info.value.message


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (28800, "PT8H"),
        (1800, "PT30M"),
        (129600, "P1DT12H"),
        (86400, "P1D"),
        (5415, "PT1H30M15S"),
        (0, "PT0S"),
        (1, "PT1S"),
        (60, "PT1M"),
        (3660, "PT1H1M"),
        (604800, "P7D"),
        (86401, "P1DT1S"),
        (90061, "P1DT1H1M1S"),
    ],
)
def test_format_iso_duration(seconds, expected):
    assert format_iso_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [-1, True, 1.5, "60", None])
def test_format_iso_duration_rejects_non_counts(seconds):
    with pytest.raises(ValueError):
        format_iso_duration(seconds)


@pytest.mark.parametrize(
    "text", ["PT0S", "PT1S", "PT30M", "PT8H", "P1D", "P1DT12H", "PT1H30M15S", "P10DT1M", "P7D"]
)
def test_iso_duration_round_trip_canonical(text):
    assert format_iso_duration(parse_iso_duration(text)) == text


def test_iso_duration_round_trip_numbers():
    for n in [*range(0, 4000), *range(0, 10**7, 997), MAX_INT, 86400 * 365 * 1000]:
        assert parse_iso_duration(format_iso_duration(n)) == n, n


# --- Mitosis (humantime) durations ------------------------------------------------------------

MITOSIS_GOOD = [
    ("2h", 7200),
    ("30m", 1800),
    ("1d", 86400),
    ("90s", 90),
    ("1h 30m", 5400),
    ("1h30m", 5400),
    ("1h  30m", 5400),
    ("2days", 172800),
    ("1day", 86400),
    ("1week", 604800),
    ("2weeks", 1209600),
    ("2w", 1209600),
    ("10min", 600),
    ("1mins", 60),
    ("1minute", 60),
    ("2minutes", 120),
    ("3 hours", 10800),
    ("1hour", 3600),
    ("1hr", 3600),
    ("2hrs", 7200),
    ("5sec", 5),
    ("5secs", 5),
    ("1second", 1),
    ("2seconds", 2),
    ("500ms", 1),  # sub-second totals round up
    ("1msec", 1),
    ("1000ms", 1),
    ("1001ms", 2),
    ("1500ms", 2),
    ("1s 500ms", 2),
    ("0h 5m", 300),
    ("1w 2d 3h 4m 5s", 788645),
    ("  2h  ", 7200),
    ("1h 1h", 7200),  # humantime sums repeated units
    (f"{MAX_INT}s", MAX_INT),
]
MITOSIS_BAD = COMMON_BAD + [
    "2x", "h", "-1h", "+1h", "1.5h", "PT2H", "2H", "1M", "1Min", "90", "1h 30", "h1", "1 h h",
    "1y", "1year", "1month", "1ns", "1us", "2 x", "1h,30m", "1h-30m", "1h+30m", "１h", "1ｈ",
    "1mss", "9" * 20 + "w", f"{MAX_INT + 1}s", 3600, 1.5,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), MITOSIS_GOOD)
def test_parse_mitosis_duration_good(value, expected):
    assert_int(parse_mitosis_duration(value), expected)


@pytest.mark.parametrize("value", MITOSIS_BAD)
def test_parse_mitosis_duration_bad(value):
    assert_rejected(parse_mitosis_duration, value)


@pytest.mark.parametrize("value", ["0s", "0h 0m", "0ms", "0w"])
def test_parse_mitosis_duration_rejects_zero(value):
    error = assert_rejected(parse_mitosis_duration, value)
    assert "positive" in error.message


def test_parse_mitosis_duration_default_field():
    with pytest.raises(FieldValidationError) as info:
        parse_mitosis_duration("2x")
    assert info.value.field == "timeout"
    assert str(info.value).startswith("timeout: '2x' is not a duration")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (7200, "2h"),
        (5400, "1h 30m"),
        (86400, "1d"),
        (0, "0s"),
        (1, "1s"),
        (90, "1m 30s"),
        (604800, "7d"),
        (86460, "1d 1m"),
        (90061, "1d 1h 1m 1s"),
    ],
)
def test_format_mitosis_duration(seconds, expected):
    assert format_mitosis_duration(seconds) == expected


@pytest.mark.parametrize("seconds", [-1, True, 1.5, "60", None])
def test_format_mitosis_duration_rejects_non_counts(seconds):
    with pytest.raises(ValueError):
        format_mitosis_duration(seconds)


@pytest.mark.parametrize("text", ["1s", "1m 30s", "2h", "1h 30m", "1d", "3d 4h 5m 6s"])
def test_mitosis_duration_round_trip_canonical(text):
    assert format_mitosis_duration(parse_mitosis_duration(text)) == text


def test_mitosis_duration_round_trip_numbers():
    for n in [*range(1, 4000), *range(1, 10**7, 997), MAX_INT]:
        assert parse_mitosis_duration(format_mitosis_duration(n)) == n, n


# --- sizes (parse_size crate) ----------------------------------------------------------------

SIZE_GOOD = [
    ("2GB", 2_000_000_000),
    ("512MiB", 536870912),
    ("1.5GB", 1_500_000_000),
    ("100", 100),
    ("100B", 100),
    ("100b", 100),
    ("1 KB", 1000),
    ("1kb", 1000),
    ("1K", 1000),
    ("1k", 1000),
    ("1Ki", 1024),
    ("1KiB", 1024),
    ("1kib", 1024),
    ("1KIB", 1024),
    ("1.5KiB", 1536),
    ("1MB", 10**6),
    ("1M", 10**6),
    ("1Mi", M),
    ("1G", 10**9),
    ("1Gi", G),
    ("1GiB", G),
    ("3TB", 3 * 10**12),
    ("1TiB", T),
    ("1PB", 10**15),
    ("2PiB", 2 * P),
    ("1EB", 10**18),
    ("9.2EB", 9_200_000_000_000_000_000),
    ("1EiB", E),
    ("7EiB", 7 * E),
    ("  2 GB  ", 2_000_000_000),
    ("0", 0),
    ("0GB", 0),
    ("0.5B", 1),  # halves round up
    ("2.5", 3),
    ("0.0004KB", 0),
    (str(MAX_INT), MAX_INT),
    (0, 0),
    (2048, 2048),
    (MAX_INT, MAX_INT),
    (1.5, 2),
]
SIZE_BAD = COMMON_BAD + [
    "2XB", "GB", "B", "-1GB", "+1GB", "1 G B", "1GiBB", "1iB", "1Bi", "1KK", "1e3", "1ZB", "1YB",
    "1,5GB", "1.GB", ".5GB", "GB1", "1GB 2MB", "1_000", "\u0661GB", "1\u212aB",
    "8EiB", "9.3EB", "9" * 30, -1, float("nan"), float("inf"), 2**63,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), SIZE_GOOD)
def test_parse_size_good(value, expected):
    assert_int(parse_size(value), expected)


@pytest.mark.parametrize("value", SIZE_BAD)
def test_parse_size_bad(value):
    assert_rejected(parse_size, value)


def test_parse_size_default_field():
    with pytest.raises(FieldValidationError) as info:
        parse_size("2XB")
    assert info.value.field == "storage_quota"
    assert str(info.value).startswith("storage_quota: '2XB' is not a size")


def test_size_round_trip_through_memory_format():
    # Binary multiples printed by format_memory parse the same as sizes with "Ki".."Ti".
    binary = {"k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}
    for n in [0, 1, 1000, K, 3 * M, 5 * G, 7 * T, 1025 * K]:
        text = format_memory(n)
        assert parse_size(text[:-1] + binary.get(text[-1], text[-1])) == n


# --- quota changes ---------------------------------------------------------------------------

QUOTA_GOOD = [
    ("+5", ("add", 5)),
    ("-3", ("sub", 3)),
    ("=7", ("set", 7)),
    ("7", ("set", 7)),
    ("0", ("set", 0)),
    ("+0", ("add", 0)),
    ("=007", ("set", 7)),
    ("+ 5", ("add", 5)),
    ("  -3  ", ("sub", 3)),
    (f"+{MAX_INT}", ("add", MAX_INT)),
    (7, ("set", 7)),
    (0, ("set", 0)),
]
QUOTA_BAD = COMMON_BAD + [
    "+", "=", "-", "++5", "5x", "+-5", "-+5", "=-5", "==5", "+=5", "5+", "5-", "1.5", "+1.5",
    "+2GB", "abc", "+ ", "+5 5", "٥", "+\u0665", "0x5", "1e3", "5_000",
    f"+{MAX_INT + 1}", "9" * 30, -5, 2**63, 1.5,
]  # fmt: skip
QUOTA_SIZE_GOOD = [
    ("+2GB", ("add", 2_000_000_000)),
    ("512MiB", ("set", 536870912)),
    ("-1KiB", ("sub", 1024)),
    ("=1TB", ("set", 10**12)),
    ("+1.5GB", ("add", 1_500_000_000)),
    ("+ 2GB", ("add", 2_000_000_000)),
    ("+5", ("add", 5)),
    (1024, ("set", 1024)),
]
QUOTA_SIZE_BAD = COMMON_BAD + [
    "+", "=", "++5GB", "+-1GB", "=-1GB", "+2XB", "GB", "+GB", "2GB+", "+8EiB", -1,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), QUOTA_GOOD)
def test_parse_quota_change_good(value, expected):
    op, amount = parse_quota_change(value)
    assert (op, amount) == expected
    assert type(amount) is int


@pytest.mark.parametrize("value", QUOTA_BAD)
def test_parse_quota_change_bad(value):
    assert_rejected(parse_quota_change, value)


@pytest.mark.parametrize(("value", "expected"), QUOTA_SIZE_GOOD)
def test_parse_quota_change_with_size_good(value, expected):
    assert parse_quota_change(value, unit_parser=parse_size) == expected


@pytest.mark.parametrize("value", QUOTA_SIZE_BAD)
def test_parse_quota_change_with_size_bad(value):
    error = assert_rejected(parse_quota_change, value, unit_parser=parse_size)
    assert "storage_quota" not in error.message  # the inner parser's field does not leak


def test_parse_quota_change_default_field_and_hint():
    with pytest.raises(FieldValidationError) as info:
        parse_quota_change("5x")
    assert info.value.field == "group_quota"
    assert str(info.value).startswith("group_quota: '5x' is not a quota change")
    assert "whole number" in info.value.message
    with pytest.raises(FieldValidationError) as info:
        parse_quota_change("+2XB", unit_parser=parse_size)
    assert "2GB" in info.value.message


def test_parse_quota_change_other_unit_parsers():
    assert parse_quota_change("+2g", unit_parser=parse_memory) == ("add", 2 * G)

    def plain_int(text, field):
        return int(text)

    def negative(text, field):
        return -1

    assert parse_quota_change("-12", unit_parser=plain_int) == ("sub", 12)
    assert_rejected(parse_quota_change, "+abc", unit_parser=plain_int)
    assert_rejected(parse_quota_change, "+1", unit_parser=negative)


@pytest.mark.parametrize(
    ("current", "change", "expected"),
    [
        (10, ("add", 5), 15),
        (10, ("sub", 3), 7),
        (10, ("set", 7), 7),
        (10, ("set", 0), 0),
        (5, ("sub", 5), 0),
        (2, ("sub", 5), 0),  # saturates at 0
        (0, ("sub", MAX_INT), 0),
        (MAX_INT - 1, ("add", 5), MAX_INT),  # saturates at 2**63 - 1
        (MAX_INT, ("add", MAX_INT), MAX_INT),
        (0, ("add", 0), 0),
    ],
)
def test_apply_quota_change(current, change, expected):
    assert apply_quota_change(current, change) == expected


def test_apply_quota_change_with_parsed_changes():
    quota = 10
    for text, expected in [("+5", 15), ("-20", 0), ("=7", 7), ("3", 3), ("+0", 3)]:
        quota = apply_quota_change(quota, parse_quota_change(text))
        assert quota == expected


def test_apply_quota_change_unknown_op():
    with pytest.raises(ValueError):
        apply_quota_change(1, ("mul", 2))


# --- comparisons ------------------------------------------------------------------------------

COMPARISON_GOOD = [
    (">5", (">", 5)),
    (">=5", (">=", 5)),
    ("<3", ("<", 3)),
    ("<=3", ("<=", 3)),
    ("=0", ("=", 0)),
    ("!=0", ("!=", 0)),
    ("5", ("=", 5)),
    (">= 5", (">=", 5)),
    ("!= 0", ("!=", 0)),
    ("  <  3  ", ("<", 3)),
    ("-5", ("=", -5)),
    ("<-5", ("<", -5)),
    (">+5", (">", 5)),
    ("=007", ("=", 7)),
    (f"={MAX_INT}", ("=", MAX_INT)),
    (f"<-{MAX_INT}", ("<", -MAX_INT)),
]
COMPARISON_BAD = COMMON_BAD + [
    "><5", ">", "!5", "=>5", "abc", "==5", "<>5", "!==5", "! =5", "> =5", ">=", ">= ", "=<5",
    "5.5", ">5.5", "1_000", "5 5", "0x10", "\u0665", ">1e3", "5>", "!", f">{MAX_INT + 1}",
    "9" * 30, 5, 1.5,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), COMPARISON_GOOD)
def test_parse_comparison_good(value, expected):
    op, parsed = parse_comparison(value)
    assert (op, parsed) == expected
    assert type(parsed) is int


@pytest.mark.parametrize("value", COMPARISON_BAD)
def test_parse_comparison_bad(value):
    assert_rejected(parse_comparison, value)


@pytest.mark.parametrize(
    ("value", "value_parser", "expected"),
    [
        (">1.5", float, (">", 1.5)),
        ("<= -2.25", float, ("<=", -2.25)),
        ("3", float, ("=", 3.0)),
        ("!=abc", str, ("!=", "abc")),
        ("abc", str, ("=", "abc")),
        ("= two words", str, ("=", "two words")),
        (">2g", parse_memory, (">", 2 * G)),
        ("<=PT2H", parse_iso_duration, ("<=", 7200)),
        (">= 1h 30m", parse_mitosis_duration, (">=", 5400)),
        ("<1.5GB", parse_size, ("<", 1_500_000_000)),
    ],
)
def test_parse_comparison_value_parsers(value, value_parser, expected):
    assert parse_comparison(value, value_parser=value_parser) == expected


@pytest.mark.parametrize(
    ("value", "value_parser"),
    [
        (">nan", float),
        ("inf", float),
        (">-inf", float),
        ("abc", float),
        ("><x", str),
        (">", str),
        ("<12x", parse_memory),
        (">P1M", parse_iso_duration),
        ("<2XB", parse_size),
    ],
)
def test_parse_comparison_value_parsers_bad(value, value_parser):
    error = assert_rejected(parse_comparison, value, value_parser=value_parser)
    for inner_field in ("memory", "runtime", "storage_quota"):
        assert f"{inner_field}:" not in error.message  # the inner parser's field does not leak


def test_parse_comparison_default_field_and_hint():
    with pytest.raises(FieldValidationError) as info:
        parse_comparison("><5")
    assert info.value.field == "filter"
    assert str(info.value).startswith("filter: '><5' is not a comparison")
    assert "integer" in info.value.message


@pytest.mark.parametrize(
    ("comparison", "expected"),
    [
        ((">", 5), Q(n__gt=5)),
        ((">=", 5), Q(n__gte=5)),
        (("<", 3), Q(n__lt=3)),
        (("<=", 3), Q(n__lte=3)),
        (("=", 0), Q(n__exact=0)),
        (("!=", 0), ~Q(n__exact=0)),
    ],
)
def test_comparison_to_q(comparison, expected):
    assert comparison_to_q("n", comparison) == expected


def test_comparison_to_q_from_parsed_text():
    assert comparison_to_q("memory", parse_comparison(">= 2g", value_parser=parse_memory)) == Q(
        memory__gte=2 * G
    )
    assert comparison_to_q("job__count", parse_comparison("!=0")) == ~Q(job__count__exact=0)
    assert comparison_to_q("n", parse_comparison("7")) == Q(n__exact=7)


def test_comparison_to_q_unknown_operator():
    with pytest.raises(ValueError):
        comparison_to_q("n", ("~", 1))
