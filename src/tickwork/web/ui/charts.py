"""Small server-rendered SVG charts: the outcome sparkline of a schedule and a run timeline.

They need no JavaScript, so a table of 50 schedules costs nothing to draw in the browser;
the larger interactive charts (dashboard, schedule detail) use the vendored uPlot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from tickwork.domain.read_models import HistoryEntry, success_rate_of
from tickwork.web.ui import formatting

SPARK_BAR = 5
SPARK_GAP = 1
SPARK_HEIGHT = 20
TIMELINE_WIDTH = 1000
LANE_HEIGHT = 14
LANE_GAP = 4
MAX_LANES = 6


def sparkline(outcomes: Sequence[HistoryEntry], slots: int = 20) -> Markup:
    """Bars for the latest runs, oldest on the left; height follows duration, colour status.

    One ``<path>`` per colour keeps a table of a hundred schedules light; the summary is the
    SVG's title and accessible name.
    """
    recent = list(reversed(outcomes[:slots]))
    durations = [o.duration for o in recent]
    longest = max((d for d in durations if d is not None), default=0.0)
    width = slots * (SPARK_BAR + SPARK_GAP) - SPARK_GAP
    paths: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    offset = slots - len(recent)
    for index in range(offset):
        x = index * (SPARK_BAR + SPARK_GAP)
        paths.setdefault("empty", []).append(f"M{x} {SPARK_HEIGHT - 2}h{SPARK_BAR}v2h-{SPARK_BAR}z")
    for index, (outcome, took) in enumerate(zip(recent, durations, strict=True)):
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if took is not None and longest > 0:
            height = max(4.0, SPARK_HEIGHT * took / longest)
        else:
            height = 4.0 if outcome.status == "skipped" else SPARK_HEIGHT * 0.5
        x = (offset + index) * (SPARK_BAR + SPARK_GAP)
        paths.setdefault(formatting.tone(outcome.status), []).append(
            f"M{x} {SPARK_HEIGHT}v-{height:.1f}h{SPARK_BAR}v{height:.1f}z"
        )
    if recent:
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        rate = success_rate_of(o.status for o in recent)
        aria = f"Last {len(recent)} runs: {summary}"
        if rate is not None:
            aria += f"; success rate {formatting.percent(rate)}"
    else:
        aria = "No finished runs yet"
    shapes = "".join(f'<path class="fill-{tone}" d="{"".join(d)}"/>' for tone, d in paths.items())
    return Markup(
        f'<svg class="sparkline" viewBox="0 0 {width} {SPARK_HEIGHT}" width="{width}" '
        f'height="{SPARK_HEIGHT}" role="img" aria-label="{escape(aria)}">'
        f"<title>{escape(aria)}</title>{shapes}</svg>"
    )


def _lanes(items: Sequence[tuple[datetime, datetime, HistoryEntry]]) -> list[int]:
    """Greedy lane assignment so overlapping runs do not hide each other."""
    ends: list[datetime] = []
    lanes = []
    for start, end, _ in items:
        for lane, lane_end in enumerate(ends):
            if lane_end <= start:
                ends[lane] = end
                lanes.append(lane)
                break
        else:
            if len(ends) < MAX_LANES:
                ends.append(end)
                lanes.append(len(ends) - 1)
            else:
                lanes.append(len(ends) - 1)
    return lanes


def timeline(
    outcomes: Sequence[HistoryEntry], zone: ZoneInfo, now: datetime, base_url: str = "/runs/"
) -> Markup:
    """Recent runs on a time axis: a bar from start to finish, a tick for skips."""
    spans = []
    for outcome in outcomes:
        start = outcome.started_at or outcome.scheduled_for or outcome.finished_at
        end = outcome.finished_at or now
        if start is None:
            continue
        spans.append((start, max(end, start), outcome))
    if not spans:
        return Markup('<p class="empty">No finished runs yet.</p>')
    spans.sort(key=lambda s: s[0])
    first = spans[0][0]
    last = max(*(s[1] for s in spans), first + timedelta(seconds=60))
    total = (last - first).total_seconds()
    lanes = _lanes(spans)
    lane_count = max(lanes) + 1
    height = lane_count * (LANE_HEIGHT + LANE_GAP) - LANE_GAP

    def x_of(moment: datetime) -> float:
        return (moment - first).total_seconds() / total * TIMELINE_WIDTH

    parts = []
    for (start, end, outcome), lane in zip(spans, lanes, strict=True):
        x = x_of(start)
        width = max(3.0, x_of(end) - x)
        y = lane * (LANE_HEIGHT + LANE_GAP)
        label = (
            f"#{outcome.id} {outcome.status} · "
            f"{formatting.absolute(start, zone, seconds=True)} · "
            f"{formatting.duration(outcome.duration)}"
        )
        if outcome.skip_reason:
            label += f" · skipped: {outcome.skip_reason}"
        parts.append(
            f'<a href="{base_url}{outcome.id}">'
            f'<rect class="fill-{formatting.tone(outcome.status)}" x="{x:.1f}" y="{y}" '
            f'width="{width:.1f}" height="{LANE_HEIGHT}" rx="2">'
            f"<title>{escape(label)}</title></rect></a>"
        )
    labels = "".join(
        f"<span>{escape(formatting.absolute(first + timedelta(seconds=total * f), zone))}</span>"
        for f in (0.0, 0.5, 1.0)
    )
    aria = (
        f"Timeline of the last {len(spans)} runs from "
        f"{formatting.absolute(first, zone)} to {formatting.absolute(last, zone)}"
    )
    return Markup(
        f'<div class="timeline"><svg viewBox="0 0 {TIMELINE_WIDTH} {height}" '
        f'preserveAspectRatio="none" role="group" aria-label="{escape(aria)}" '
        f'style="height:{height}px">{"".join(parts)}</svg>'
        f'<div class="timeline-axis">{labels}</div></div>'
    )
