"""Alerting's records and rules without I/O: channels, incidents, events and what each
channel kind receives.

An *incident* (a row of ``alerts``) is open from the moment a rule fires until it clears.
Opening one sends one *event* to its channels (``schedule.failing``, ``process.down``, ...);
clearing it sends one more (``schedule.recovered`` for a schedule's failures, the same
event name with ``"resolved": true`` otherwise). Every event has an ``id`` that each of its
deliveries repeats, so a receiver can drop a repeat.

Example::

    channel = validate_channel({"name": "ops", "kind": "webhook", "url": "https://x/y"})
    body = webhook_body(event)                     # the JSON a webhook receives
    signature(channel.secret, encoded(body))       # its X-Tickwork-Signature header
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tickwork.domain import inputs
from tickwork.domain.errors import InvalidInputError


class ChannelKind(StrEnum):
    """Where a channel sends its notifications."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


class AlertEvent(StrEnum):
    """The events tickwork notifies (names users and checks rely on)."""

    SCHEDULE_FAILING = "schedule.failing"
    SCHEDULE_RECOVERED = "schedule.recovered"
    SCHEDULE_AUTO_PAUSED = "schedule.auto_paused"
    SCHEDULE_OVERDUE = "schedule.overdue"
    PROCESS_DOWN = "process.down"
    QUEUE_BACKLOG = "queue.backlog"
    TEST = "test"


# Incidents about one schedule that its first success clears (with one ``recovered``).
CLEARED_BY_SUCCESS = (AlertEvent.SCHEDULE_FAILING, AlertEvent.SCHEDULE_AUTO_PAUSED)

MAX_CHANNEL_NAME = 100
MAX_URL = 2000
MAX_SECRET = 500
MAX_RECIPIENTS = 50
MAX_ALERT_CHANNELS = 20
MAX_THRESHOLD = 10_000
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CHANNEL_FIELDS = ("name", "kind", "url", "to", "secret")


@dataclass(frozen=True, slots=True)
class Channel:
    """A destination for notifications. ``secret`` (webhooks) signs each body."""

    id: int
    name: str
    kind: ChannelKind
    url: str | None = None
    to: list[str] = field(default_factory=list)
    secret: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None

    @property
    def target(self) -> str:
        """Where it sends, for lists: the URL's host, or the recipients."""
        if self.kind is ChannelKind.EMAIL:
            return ", ".join(self.to)
        return urlsplit(self.url or "").netloc


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A validated channel definition (what an admin sets)."""

    name: str
    kind: ChannelKind
    url: str | None = None
    to: list[str] = field(default_factory=list)
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """An incident: open from ``opened_at`` until ``resolved_at``."""

    id: int
    event: str
    subject: str
    text: str
    opened_at: datetime
    schedule_id: int | None = None
    tenant_id: str | None = None
    details: dict[str, Any] | None = None
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Whether it has not cleared yet."""
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class Notification:
    """One event on its way to one channel (a row of the durable outbox)."""

    id: int
    event_id: str
    event: str
    channel_name: str
    body: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    alert_id: int | None = None
    channel_id: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


# -- validation ---------------------------------------------------------------------------


def channel_name(value: Any, field: str = "name") -> str:
    """A channel name: letters, digits, ``_ . : -``, at most 100 characters."""
    name = inputs.text(value, field, max_length=MAX_CHANNEL_NAME)
    if not _CHANNEL_NAME.fullmatch(name):
        raise InvalidInputError(
            f"{inputs.echo(name)} is not a channel name (letters, digits, '_', '.', ':', '-')",
            field=field,
        )
    return name


def _url(value: Any) -> str:
    url = inputs.text(value, "url", max_length=MAX_URL)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or _NOT_IN_HEADERS.search(url):
        raise InvalidInputError(f"{inputs.echo(url)} is not an http(s) URL", field="url")
    return url


def email_address(value: Any, field: str = "to") -> str:
    """One email address, fit for a header."""
    if not isinstance(value, str) or len(value) > 254:
        raise InvalidInputError("an email address is text of at most 254 characters", field=field)
    local, _, domain = value.partition("@")
    if not local or not domain or " " in value or _NOT_IN_HEADERS.search(value):
        raise InvalidInputError(f"{inputs.echo(value)} is not an email address", field=field)
    return value


def _recipients(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value[: MAX_RECIPIENTS * 256].split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInputError("an email channel needs at least one recipient", field="to")
    if len(value) > MAX_RECIPIENTS:
        raise InvalidInputError(f"at most {MAX_RECIPIENTS} recipients", field="to")
    return [email_address(v) for v in value]


def validate_channel(data: Mapping[str, Any]) -> ChannelSpec:
    """Check a channel definition: webhook and Slack channels need an http(s) ``url``,
    email channels ``to`` (a list or comma-separated text); only webhooks take a ``secret``."""
    unknown = set(data) - set(CHANNEL_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInputError(f"unknown field {inputs.echo(name)}", field=str(name)[:100])
    name = channel_name(data.get("name"))
    kind: ChannelKind = inputs.choice(data.get("kind") or "webhook", "kind", ChannelKind)
    given = {k for k in ("url", "to", "secret") if data.get(k) not in (None, "", [])}
    allowed = {"email": {"to"}, "slack": {"url"}, "webhook": {"url", "secret"}}[kind.value]
    extra = sorted(given - allowed)
    if extra:
        raise InvalidInputError(
            f"{extra[0]} does not apply to a {kind.value} channel", field=extra[0]
        )
    if kind is ChannelKind.EMAIL:
        return ChannelSpec(name, kind, to=_recipients(data.get("to")))
    if "url" not in given:
        raise InvalidInputError(f"a {kind.value} channel needs a url", field="url")
    secret = data.get("secret")
    if secret not in (None, ""):
        secret = inputs.text(secret, "secret", max_length=MAX_SECRET)
    return ChannelSpec(name, kind, url=_url(data.get("url")), secret=secret or None)


def alert_channels(value: Any) -> list[str] | None:
    """A schedule's ``alert_channels``: channel names (a list, or comma-separated text);
    empty means "the default channels"."""
    if value is None or value in ("", []):
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value[:4096].split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise InvalidInputError("alert_channels is a list of channel names", field="alert_channels")
    if len(value) > MAX_ALERT_CHANNELS:
        raise InvalidInputError(
            f"at most {MAX_ALERT_CHANNELS} alert channels", field="alert_channels"
        )
    names = [channel_name(v, "alert_channels") for v in value]
    return list(dict.fromkeys(names)) or None


def threshold(value: Any, field: str) -> int | None:
    """``alert_after`` or ``auto_pause_after``: a count of failures in a row, or nothing."""
    if value is None or value == "":
        return None
    return inputs.integer(value, field, minimum=1, maximum=MAX_THRESHOLD)


# -- what channels receive -----------------------------------------------------------------


def encoded(body: Mapping[str, Any]) -> bytes:
    """A body as the bytes sent (and signed)."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()


def signature(secret: str, payload: bytes) -> str:
    """The ``X-Tickwork-Signature`` header value: ``sha256=<hex HMAC of the body>``."""
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def slack_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook format: ``text`` (the fallback) and one section block."""
    text = str(body.get("text", ""))
    link = body.get("url")
    shown = f"{text}\n<{link}|Open in tickwork>" if link else text
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": shown}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"`{body.get('event')}` · {body.get('id')}"}
                ],
            },
        ],
    }


def email_subject(body: Mapping[str, Any]) -> str:
    """An email's subject: the event and the first line of its text, one line."""
    first = str(body.get("text", "")).splitlines()[0] if body.get("text") else ""
    return _NOT_IN_HEADERS.sub(" ", f"[tickwork] {body.get('event')}: {first}")[:200]


def email_text(body: Mapping[str, Any]) -> str:
    """An email's plain-text body: the text, the link and the event's fields."""
    lines = [str(body.get("text", "")), ""]
    if body.get("url"):
        lines += [str(body["url"]), ""]
    lines += [f"{key}: {value}" for key, value in sorted(body.items()) if key != "text"]
    return "\n".join(lines) + "\n"
