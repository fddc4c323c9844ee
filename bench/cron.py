"""Cron preview benchmark: what previews of per-second expressions across DST changes cost.

Prints, for each case, the best wall time of ``app.preview`` (or of ``cron.fire_times`` for
dates before 1900, which the preview refuses), how many fire times came back of how many
asked, and the reason when fewer came back. The cases are issue 15's slow ones (a two-hour
gap in Antarctica/Troll, Samoa's skipped 2011-12-30) and their neighbours: a repeated
hour, Samoa's repeated 1892-07-04, a walk backwards over the skipped day, and an expression
that fires every 28 or 40 years (cronsim's search costs grow with the span covered).

With ``--sweep`` it also previews three per-second expressions 100 fire times from ten
seconds before every UTC offset change of 2025-2026 in every zone tzdata knows, and prints
the slowest.

Usage::

    .venv/bin/python bench/cron.py                       # this checkout
    .venv/bin/python bench/cron.py --sweep
    .venv/bin/python bench/cron.py --src /tmp/main/src   # another checkout's code ("before")

``--src`` puts that ``src`` folder first on ``sys.path``, so the same cases can be timed on
``main`` (``git archive main src | tar -x -C /tmp/main``).
"""

from __future__ import annotations

import sys

# Run as a script, this folder comes first on sys.path, and its queue.py would shadow the
# standard library's queue module.
if sys.path and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)

import argparse
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones


@dataclass(frozen=True)
class Case:
    """One preview to time."""

    label: str
    expr: str
    zone: str
    start: datetime
    count: int
    reverse: bool = False


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


TROLL = "Antarctica/Troll"
APIA = "Pacific/Apia"
NEW_YORK = "America/New_York"
CASES = [
    Case("Troll 2-hour gap", "* 0-59 1-2 * * *", TROLL, utc(2025, 3, 30, 0, 59), 100),
    Case("Troll, no gap", "* 0-59 1-2 * * *", TROLL, utc(2025, 4, 1), 100),
    Case("Apia skipped day", "* 0-59 0-23 * * *", APIA, utc(2011, 12, 30, 9, 59, 50), 20),
    Case("Apia skipped day, wall clock", "* * * * * *", APIA, utc(2011, 12, 30, 9, 59, 50), 20),
    Case("New York repeated hour", "* 0-59 1 * * *", NEW_YORK, utc(2030, 11, 3, 6, 10), 100),
    Case("New York repeated hour, wall", "* * 1 * * *", NEW_YORK, utc(2030, 11, 3, 5, 10), 100),
    Case("Fifth Sunday of February", "0 0 * 2 SUN#5", NEW_YORK, utc(2026, 1, 1), 100),
    Case("Apia repeated day (1892)", "* 0-59 0-23 * * *", APIA, utc(1892, 7, 4, 23, 26, 56), 20),
    Case("Apia gap, backwards", "* 0-59 0-23 * * *", APIA, utc(2011, 12, 30, 10, 0, 10), 20, True),
]  # fmt: skip

SWEEP_EXPRESSIONS = ["* * * * * *", "* 0-59 0-23 * * *", "* 0-59 1-2 * * *"]


def best_of(run: Callable[[], Any], budget: float = 0.5, most: int = 20) -> tuple[float, Any]:
    """The fastest of repeated runs (as many as fit in ``budget`` seconds, at least one)."""
    best = float("inf")
    result: Any = None
    spent = 0.0
    for _ in range(most):
        began = time.perf_counter()
        result = run()
        took = time.perf_counter() - began
        best = min(best, took)
        spent += took
        if spent > budget:
            break
    return best, result


def measure(case: Case) -> tuple[float, int, str]:
    """Seconds, fire times returned, and the reason given for fewer (or "-")."""
    from tickwork import Tickwork
    from tickwork.domain import cron

    if case.reverse:

        def backwards() -> list[datetime]:
            walk = cron.iterate(case.expr, case.zone, case.start, reverse=True)
            return [moment for moment, _ in zip(walk, range(case.count), strict=False)]

        took, times = best_of(backwards)
        return took, len(times), "-"
    if case.start.year < 1900:
        took, times = best_of(lambda: cron.fire_times(case.expr, case.zone, case.start, case.count))
        return took, len(times), "-"
    app = Tickwork("sqlite://")
    took, preview = best_of(
        lambda: app.preview(case.expr, timezone=case.zone, count=case.count, start=case.start)
    )
    reason = getattr(preview, "truncated_reason", "(not reported)") or "-"
    return took, len(preview.fire_times), reason


def changes(zone: str, first: datetime, last: datetime) -> list[datetime]:
    """Instants in ``[first, last)`` at which ``zone``'s UTC offset changes (to the minute)."""
    tz = ZoneInfo(zone)
    found = []
    day = first
    while day < last:
        following = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            moment = day
            offset = day.astimezone(tz).utcoffset()
            for step in (timedelta(hours=1), timedelta(minutes=1)):
                while (moment + step).astimezone(tz).utcoffset() == offset:
                    moment += step
            found.append(moment + timedelta(minutes=1))
        day = following
    return found


def sweep() -> None:
    from tickwork import Tickwork

    app = Tickwork("sqlite://")
    timings: list[tuple[float, str, str, datetime, int]] = []
    for zone in sorted(available_timezones()):
        for change in changes(zone, utc(2025, 1, 1), utc(2027, 1, 1)):
            start = change - timedelta(seconds=10)
            for expr in SWEEP_EXPRESSIONS:
                began = time.perf_counter()
                preview = app.preview(expr, timezone=zone, count=100, start=start)
                took = time.perf_counter() - began
                timings.append((took, expr, zone, start, len(preview.fire_times)))
    timings.sort(reverse=True)
    short = [t for t in timings if t[4] < 100]
    print(f"\nsweep: {len(timings)} previews of 100 around every change of 2025-2026")
    print(f"  fewer than 100 fire times: {len(short)}")
    print(f"  median {timings[len(timings) // 2][0] * 1000:.1f} ms; slowest:")
    for took, expr, zone, start, got in timings[:5]:
        print(
            f"  {took * 1000:8.1f} ms  {expr:20} {zone:32} from {start:%Y-%m-%dT%H:%M:%SZ}  {got}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", help="import tickwork from this src folder instead")
    parser.add_argument("--sweep", action="store_true", help="also sweep every zone's changes")
    parser.add_argument("--only", help="run only the cases whose label contains this")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, args.src)
    import tickwork

    print(f"tickwork from {tickwork.__file__}")
    machine = platform.processor() or platform.machine()
    now = datetime.now(UTC)
    python = platform.python_version()
    print(f"{platform.node()} · {machine} · Python {python} · {now:%Y-%m-%d %H:%M} UTC")
    print(f"{'case':36} {'expression':20} {'asked':>5} {'got':>4} {'time':>11}  reason for fewer")
    for case in CASES:
        if args.only and args.only not in case.label:
            continue
        took, got, reason = measure(case)
        figures = f"{case.count:5} {got:4} {took * 1000:8.1f} ms"
        print(f"{case.label:36} {case.expr:20} {figures}  {reason}", flush=True)
    if args.sweep:
        sweep()


if __name__ == "__main__":
    main()
