"""The Jinja2 environment of the UI: templates, filters, and static URLs with cache busting."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tickwork.domain import triggers
from tickwork.domain.models import Schedule
from tickwork.web.ui import charts, formatting
from tickwork.web.ui.flow_graph import group_anchor
from tickwork.web.ui.views import alerting, fire_limits
from tickwork.web.ui.views.form_labels import field_label, labelled
from tickwork.web.ui.views.schedule_form import MISFIRE_HELP, OVERLAP_HELP
from tickwork.web.ui.views.schedules import SPARK_RUNS, next_run_label

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/ui/static"


@lru_cache(maxsize=256)
def _fingerprint(path: str) -> str:
    try:
        return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return "missing"


def static_url(path: str) -> str:
    """The URL of a static file, with its content hash so browsers never keep a stale copy."""
    return f"{STATIC_PREFIX}/{path}?v={_fingerprint(path)}"


def to_json(value: Any) -> Markup:
    """JSON safe to put inside an HTML attribute or a ``<script type=application/json>``."""
    text = json.dumps(value, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("'", "\\u0027"))


def content_fingerprint(html: str) -> str:
    """A short hash of rendered HTML: a live poll compares it to skip what did not change."""
    return hashlib.blake2b(str(html).encode(), digest_size=8).hexdigest()


def misfire_text(schedule: Schedule) -> str:
    """What the schedule's misfire policy does, in words."""
    text = MISFIRE_HELP.get(schedule.misfire_policy.value, "")
    return f"fire times missed for longer than {schedule.misfire_grace:g} s: {text}"


def overlap_text(schedule: Schedule) -> str:
    """What the schedule's overlap policy does, in words."""
    return "while the previous run is queued or running: " + OVERLAP_HELP.get(
        schedule.overlap_policy.value, ""
    )


def build_environment() -> Environment:
    """The environment every UI template renders in."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(
        static_url=static_url,
        describe=triggers.describe_stored,
        event_label=alerting.event_label,
        tone=formatting.tone,
        sparkline=charts.sparkline,
        timeline=charts.timeline,
        next_label=next_run_label,
        spark_runs=SPARK_RUNS,
        misfire_text=misfire_text,
        overlap_text=overlap_text,
        field_label=field_label,
        labelled=labelled,
        window_text=fire_limits.describe_window,
        dates_text=fire_limits.describe_dates,
    )
    env.filters.update(
        absolute=formatting.absolute,
        relative=formatting.relative,
        duration=formatting.duration,
        percent=formatting.percent,
        iso=formatting.iso,
        zone_abbr=formatting.zone_abbreviation,
        local_input=formatting.local_input,
        seconds_text=formatting.seconds_text,
        tojson_attr=to_json,
        short_span=formatting.short_span,
        log_time=formatting.log_time,
        compact=formatting.compact,
        any_seconds=formatting.any_seconds,
        group_anchor=group_anchor,
        fingerprint=content_fingerprint,
    )
    return env


ENV = build_environment()


def render(name: str, context: dict[str, Any]) -> str:
    """Render the template ``name`` with ``context``."""
    return ENV.get_template(name).render(context)
