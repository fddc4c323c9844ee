"""Parsing of user-supplied values: every refusal names the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tickwork.domain import inputs
from tickwork.domain.errors import InvalidInputError, UnknownTimezoneError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        (90, 90),
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        (timedelta(minutes=2), 120),
        ("1.5", 1.5),
    ],
)
def test_durations_and_moments_parse_or_name_the_field(text: object, seconds: float) -> None:
    assert inputs.duration(text, "interval") == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "-5", True, None, float("nan"), "1m1m"])
def test_bad_durations_name_the_field(text: object) -> None:
    with pytest.raises(InvalidInputError) as error:
        inputs.duration(text, "interval", minimum=0)
    assert error.value.field == "interval"


def test_moments_with_and_without_offset() -> None:
    assert inputs.moment("2030-01-01T09:00:00Z", "run_at") == datetime(2030, 1, 1, 9, tzinfo=UTC)
    assert inputs.moment("2030-07-01T09:00", "run_at", "Europe/London") == datetime(
        2030, 7, 1, 8, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text",
    ["0001-01-01", "9999-12-31T23:59:59-05:00", "1800-01-01T00:00Z", "9500-01-01", "yesterday", ""],
)
def test_moments_out_of_range_or_malformed_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        inputs.moment(text, "run_at", "Asia/Tokyo")
    assert error.value.field == "run_at"


def test_strict_local_times_refuse_gaps_and_repeats() -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        inputs.moment("2030-03-31T01:30", "run_at", "Europe/London", strict_local=True)
    with pytest.raises(InvalidInputError, match="happens twice"):
        inputs.moment("2030-10-27T01:30", "run_at", "Europe/London", strict_local=True)
    explicit = inputs.moment("2030-10-27T01:30+01:00", "run_at", "Europe/London", strict_local=True)
    assert explicit == datetime(2030, 10, 27, 0, 30, tzinfo=UTC)


def test_unknown_zone() -> None:
    with pytest.raises(UnknownTimezoneError) as error:
        inputs.moment("2030-01-01T00:00", "start_at", "Mars/Olympus")
    assert error.value.field == "timezone"


@pytest.mark.parametrize(
    ("value", "ok"),
    [(3, True), ("4", True), (2.0, True), (2.5, False), (True, False), ("x", False)],
)
def test_integers(value: object, ok: bool) -> None:
    if ok:
        assert inputs.integer(value, "max_runs") == int(value)  # type: ignore[call-overload]
    else:
        with pytest.raises(InvalidInputError):
            inputs.integer(value, "max_runs")
