"""How the UI shows times, durations and statuses: pure functions, used as Jinja filters.

Times are stored in UTC; the UI shows them in the viewer's time zone (the ``tw_tz`` cookie
the browser sets from ``Intl.DateTimeFormat``), falling back to UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from tickwork.domain import cron
from tickwork.domain.errors import UnknownTimezoneError
from tickwork.domain.inputs import plain

# Shown where a value is unknown (an en dash, as tables conventionally show it).
MISSING = "\u2013"

# CSS class of each status badge: one colour family per outcome.
STATUS_TONE = {
    "succeeded": "ok",
    "active": "ok",
    "failed": "bad",
    "cancelled": "muted",
    "skipped": "warn",
    "retrying": "warn",
    "paused": "warn",
    "running": "info",
    "queued": "neutral",
    "waiting": "neutral",
    "completed": "muted",
}


# Longer than any IANA name ("America/Argentina/ComodRivadavia" is 32), percent-encoded.
MAX_ZONE_COOKIE = 120


def viewer_zone(cookie: str | None) -> ZoneInfo:
    """The viewer's zone from the cookie value, or UTC when it is missing or unknown.

    The browser stores the name percent-encoded (``Europe%2FLondon``), as ``encodeURIComponent``
    writes it; a raw name decodes to itself.
    """
    if cookie and len(cookie) <= MAX_ZONE_COOKIE:
        try:
            return cron.zone(unquote(cookie))
        except UnknownTimezoneError:
            pass
    return ZoneInfo("UTC")


def absolute(moment: datetime | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """``2030-01-01 09:00`` in ``zone`` (to the second when asked); empty for ``None``."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def any_seconds(moments: Iterable[datetime | None]) -> bool:
    """Whether any of ``moments`` falls off the minute: a list of them then shows seconds
    throughout (a sub-minute schedule's fire times must not collapse onto one minute)."""
    return any(m is not None and m.second != 0 for m in moments)


def zone_abbreviation(moment: datetime | None, zone: ZoneInfo) -> str:
    """The zone's abbreviation at ``moment`` ("BST", "UTC", "+0530")."""
    if moment is None:
        return ""
    return moment.astimezone(zone).tzname() or ""


def relative(moment: datetime | None, now: datetime) -> str:
    """ "in 5 min", "3 h ago", "just now"; empty for ``None``."""
    if moment is None:
        return ""
    delta = (moment - now).total_seconds()
    future = delta > 0
    span = abs(delta)
    if span < 5:
        return "just now" if not future else "in a moment"
    text = short_span(span)
    return f"in {text}" if future else f"{text} ago"


def short_span(seconds: float) -> str:
    """A coarse span: "12 s", "5 min", "3 h", "2 d", "4 mo", "2 y"."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    if seconds < 86400 * 60:
        return f"{int(seconds // 86400)} d"
    if seconds < 86400 * 365 * 2:
        return f"{int(seconds // (86400 * 30))} mo"
    return f"{int(seconds // (86400 * 365))} y"


def duration(seconds: float | None) -> str:
    """A run's duration: "840 ms", "12.3 s", "4 min 05 s", "2 h 03 min"; a dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def tone(status: str | None) -> str:
    """The badge colour family of a status."""
    return STATUS_TONE.get(status or "", "neutral")


def percent(value: float | None) -> str:
    """``0.953`` as "95.3%"; a dash when unknown."""
    if value is None:
        return MISSING
    shown = f"{value * 100:.1f}".removesuffix(".0")
    return f"{shown}%"


def iso(moment: datetime | None) -> str:
    """ISO 8601 in UTC, for ``<time datetime=…>`` attributes."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat()


def local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """A value for ``<input type="datetime-local">`` in ``zone``."""
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def seconds_text(value: float | None) -> str:
    """A number of seconds for an input box: "30", "1.5", "1000000"; empty for ``None``."""
    if value is None:
        return ""
    return plain(value)


def log_time(stamp: str | None, zone: ZoneInfo) -> str:
    """A log line's ISO time stamp as ``HH:MM:SS.mmm`` in ``zone``."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp[:23]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%H:%M:%S.%f")[:12]


def compact(moment: datetime | None, zone: ZoneInfo, now: datetime) -> str:
    """``13:12:33`` today, ``11-24 13:12:33`` on another day of this year, else the full date."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    today = now.astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M:%S")
    if local.year == today.year:
        return local.strftime("%m-%d %H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M:%S")
