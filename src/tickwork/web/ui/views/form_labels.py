"""What the schedule form calls each field, and error messages that name a field by it
(the save's inline messages and the live preview's say the same)."""

from __future__ import annotations

# What the form calls each field (errors name fields by these, as the user sees them).
FIELD_LABELS = {
    "name": "Name",
    "task": "Task",
    "description": "Description",
    "tenant_id": "Tenant",
    "trigger": "Trigger type",
    "cron": "Cron expression",
    "interval": "Every",
    "run_at": "Run at",
    "timezone": "Time zone",
    "start_at": "Start",
    "end_at": "End",
    "misfire_policy": "Fire times missed during downtime",
    "misfire_grace": "Misfire grace",
    "misfire_cap": "Catch-up cap",
    "overlap_policy": "If the previous run is still going",
    "max_attempts": "Attempts",
    "retry_backoff": "Retry backoff",
    "timeout": "Timeout",
    "priority": "Priority",
    "queue": "Queue",
    "jitter": "Jitter",
    "max_runs": "Stop after this many runs",
    "metadata": "Metadata",
    "windows": "Allowed times",
    "blackout_dates": "Blackout dates",
    "condition": "Condition",
    "preview_from": "Preview from",
}


def field_label(key: str) -> str:
    """The label of the form field ``key`` (its name in words when it has none)."""
    return FIELD_LABELS.get(key) or key.replace("_", " ").capitalize()


def labelled(label: str, message: str) -> str:
    """An error message that names its field by label: "Priority must be from -1000 to
    1000", "Cron expression: invalid cron expression ..."."""
    lowered = message.removeprefix(label.lower()).lstrip()
    if lowered.startswith(("must ", "is ", "expected ", "keys ")):
        return f"{label} {lowered}"
    return f"{label}: {message}"
