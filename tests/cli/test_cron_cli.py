"""``tickwork cron preview``: the exact contract of DESIGN section 5."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.support.cli import InProcessCli, run_tickwork


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
    assert list(body) == ["expression", "timezone", "description", "next"]
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


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["0 0 31 2 *"], "can never fire"),
        (["not cron"], "cron expression"),
        (["61 * * * *"], "invalid cron expression"),
        (["* * * * *", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["* * * * *", "--from", "yesterday"], "not an ISO 8601"),
        (["* * * * *", "-n", "0"], "at least 1"),
        (["* * * * *", "-n", "101"], "at most 100"),
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
