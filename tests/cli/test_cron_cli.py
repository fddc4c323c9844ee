"""``tickwork cron preview``: the exact contract of DESIGN section 5."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.cli import InProcessCli, run_tickwork
from tickwork.domain import cron


@pytest.fixture
def tickwork(cli_without_database: InProcessCli) -> InProcessCli:
    """``tickwork`` in this process (``cron preview`` needs no database)."""
    return cli_without_database


def test_json_shape_and_strictly_after_from(tickwork: InProcessCli) -> None:
    result = tickwork(
        "cron", "preview", "0 9 * * 1-5", "--timezone", "Europe/London",
        "--from", "2030-01-07T09:00:00Z", "-n", "3", "--json",
    )  # fmt: skip
    assert result.code == 0
    body = json.loads(result.out)
    # DESIGN's four keys, in order; ``truncated`` and its reason were added after them.
    assert list(body) == [
        "expression", "timezone", "description", "next", "truncated", "truncated_reason",
    ]  # fmt: skip
    assert body["truncated"] is False
    assert body["truncated_reason"] is None
    assert body["expression"] == "0 9 * * 1-5"
    assert body["timezone"] == "Europe/London"
    assert "09:00" in body["description"]
    # Monday 09:00 itself is excluded: strictly after --from.
    assert body["next"] == [
        "2030-01-08T09:00:00+00:00",
        "2030-01-09T09:00:00+00:00",
        "2030-01-10T09:00:00+00:00",
    ]


def test_times_carry_the_zone_offset_across_dst(tickwork: InProcessCli) -> None:
    result = tickwork(
        "cron", "preview", "30 1 * * *", "--timezone", "Europe/London",
        "--from", "2030-03-29T12:00:00Z", "-n", "3", "--json",
    )  # fmt: skip
    assert json.loads(result.out)["next"] == [
        "2030-03-30T01:30:00+00:00",
        "2030-03-31T02:00:00+01:00",  # 01:30 is skipped: right after the jump
        "2030-04-01T01:30:00+01:00",
    ]
    table = tickwork(
        "cron", "preview", "30 1 * * *", "--timezone", "Europe/London",
        "--from", "2030-03-29T12:00:00Z", "-n", "3",
    )  # fmt: skip
    assert table.code == 0
    assert "clocks go forward" in " ".join(table.out.split())


def test_naive_from_is_local_time_and_defaults(tickwork: InProcessCli) -> None:
    result = tickwork(
        "cron", "preview", "@daily", "--timezone", "America/New_York",
        "--from", "2030-06-01T00:00:00", "-n", "1", "--json",
    )  # fmt: skip
    body = json.loads(result.out)
    assert body["expression"] == "@daily"
    assert body["next"] == ["2030-06-02T00:00:00-04:00"]
    default = json.loads(tickwork("cron", "preview", "* * * * * *", "--json").out)
    assert default["timezone"] == "UTC"
    assert len(default["next"]) == 10
    assert datetime.fromisoformat(default["next"][0]).utcoffset() is not None


def preview_json(
    tickwork: InProcessCli, expr: str, zone: str, start: str, count: int
) -> dict[str, Any]:
    """``cron preview --json``'s body, after checking the command succeeded."""
    result = tickwork(
        "cron", "preview", expr, "--timezone", zone, "--from", start, "-n", str(count), "--json"
    )  # fmt: skip
    assert result.code == 0, result.err
    body: dict[str, Any] = json.loads(result.out)
    return body


def test_per_second_across_a_two_hour_gap(tickwork: InProcessCli) -> None:
    body = preview_json(
        tickwork, "* 0-59 1-2 * * *", "Antarctica/Troll", "2025-03-30T00:59:00Z", 100
    )
    assert body["truncated"] is False
    assert len(body["next"]) == 100
    # 01:00-02:59 are skipped: the job due in them runs once, at the jump to 03:00.
    assert body["next"][:3] == [
        "2025-03-30T03:00:00+02:00",
        "2025-03-31T01:00:00+02:00",
        "2025-03-31T01:00:01+02:00",
    ]
    assert body["next"][-1] == "2025-03-31T01:01:38+02:00"


def test_per_second_across_samoas_skipped_day(tickwork: InProcessCli) -> None:
    body = preview_json(tickwork, "* 0-59 0-23 * * *", "Pacific/Apia", "2011-12-30T09:59:50Z", 20)
    assert body["truncated"] is False
    assert body["next"] == [
        *(f"2011-12-29T23:59:{s}-10:00" for s in range(51, 60)),
        *(f"2011-12-31T00:00:{s:02d}+14:00" for s in range(11)),
    ]


def test_fewer_fire_times_say_why(tickwork: InProcessCli) -> None:
    # A preview looks 100 years ahead: 24 leap days from 2026 to 2126.
    args = ["cron", "preview", "0 0 29 2 *", "--from", "2026-01-01T00:00:00Z", "-n", "30"]
    body = json.loads(tickwork(*args, "--json").out)
    assert len(body["next"]) == 24
    assert body["next"][0] == "2028-02-29T00:00:00+00:00"
    assert body["next"][-1] == "2124-02-29T00:00:00+00:00"
    assert body["truncated"] is True
    assert body["truncated_reason"] == "a preview looks 100 years ahead, to 2126-01-01 00:00 UTC"
    table = tickwork(*args)
    assert table.code == 0
    assert (
        "Only 24 of 30 fire times: a preview looks 100 years ahead, to 2126-01-01 00:00 UTC."
        in " ".join(table.out.split())
    )


def test_a_walk_that_stops_advancing_is_reported(
    tickwork: InProcessCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guard against a bug in the walk ends the list with its message, never silently.
    def stalls(text: str, tz: object, start: datetime, reverse: bool) -> Iterator[datetime]:
        yield datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
        yield datetime(2030, 1, 1, 0, 2, tzinfo=UTC)
        while True:
            yield datetime(2030, 1, 1, 0, 2, tzinfo=UTC)

    monkeypatch.setattr(cron, "_wall_clock", stalls)
    args = ["cron", "preview", "* * * * *", "--tz", "Europe/London", "--from", "2030-01-01T00:00Z"]
    body = json.loads(tickwork(*args, "-n", "5", "--json").out)
    assert body["next"] == ["2030-01-01T00:01:00+00:00", "2030-01-01T00:02:00+00:00"]
    assert body["truncated"] is True
    assert "stopped advancing at 2030-01-01T00:02:00+00:00" in body["truncated_reason"]
    table = tickwork(*args, "-n", "5")
    assert table.code == 0
    assert "Only 2 of 5 fire times: the fire times of '* * * * *' in Europe/London stopped" in (
        " ".join(table.out.split())
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["0 0 31 2 *"], "can never fire"),
        (["not cron"], "cron expression"),
        (["61 * * * *"], "invalid cron expression"),
        (["* * * * *", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["* * * * *", "--from", "yesterday"], "not an ISO 8601"),
        (["* * * * *", "-n", "0"], "must be from 1 to 100"),
        (["* * * * *", "-n", "101"], "must be from 1 to 100"),
        (["0," * 5000 + "0 * * * *"], "10009 characters long; the limit is 200"),
        (["* * * * *", "--timezone", "Europe/" + "x" * 10_000], "at most 64"),
        ([], "Missing argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tickwork: InProcessCli, args: list[str], fragment: str
) -> None:
    result = tickwork("cron", "preview", *args)
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error")
    assert fragment in lines[0]


def test_the_console_script_prints_json_and_refuses_bad_input_in_one_line() -> None:
    done = run_tickwork(
        "cron", "preview", "*/15 * * * *", "--from", "2030-01-01T00:00:00Z", "-n", "2", "--json"
    )
    assert done.json()["next"] == [
        "2030-01-01T00:15:00+00:00",
        "2030-01-01T00:30:00+00:00",
    ]
    bad = run_tickwork("cron", "preview", "0 0 30 2 *")
    assert "can never fire" in bad.error_line()
