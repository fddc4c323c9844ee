"""What a reader asks for: the filters of the lists of runs, schedules, audit entries and
figures. Plain records; the SQL each turns into is written once, in ``storage/``.

A filter's ``restrict_tenant`` is never the caller's to set: the read service
(``tickwork.reads``) fills it from the acting :class:`~tickwork.domain.actor.Actor`, so a
principal bound to a tenant sees only that tenant's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.inputs import MAX_JSON_KEY_LENGTH

# Logins, failed ones included (with the name typed and the address), are for admins bound
# to no tenant; changes to users and tokens are for admins.
AUTH_ACTIONS = "auth."
ACCOUNT_ACTIONS = ("user.", "token.")


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Filters for listing runs; ``None`` means "any"."""

    schedule_id: int | None = None
    # Runs of any of these schedules (a name typed in part matched several).
    schedule_ids: Sequence[int] | None = None
    task: str | None = None
    status: Sequence[str] | None = None
    trigger: str | None = None
    tenant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    queue: str | None = None
    # Text the error or the payload (as JSON) contains, any case.
    error: str | None = None
    payload: str | None = None
    restrict_tenant: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleFilter:
    """Filters for listing schedules; ``None`` means "any"."""

    status: str | None = None
    task: str | None = None
    tenant_id: str | None = None
    source: str | None = None
    # Text in the name, task, description or tenant, any case.
    text: str | None = None
    # Schedules that target this group (a flow per fire time).
    group: str | None = None
    # Schedules whose name contains this (any case).
    name_part: str | None = None
    # Schedules whose metadata has this key (with a value other than null) ...
    metadata_key: str | None = None
    # ... equal to this text (numbers and booleans compare as their JSON text).
    metadata_value: str | None = None
    # A principal bound to a tenant sees only that tenant's rows.
    restrict_tenant: str | None = None


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """Filters for listing flows; ``None`` means "any"."""

    status: Sequence[str] | None = None
    group: str | None = None
    schedule_id: int | None = None
    tenant_id: str | None = None
    trigger: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # A principal bound to a tenant sees only that tenant's flows.
    restrict_tenant: str | None = None


@dataclass(frozen=True, slots=True)
class StatsFilter:
    """What figures count: runs that finished in a time window, optionally narrowed."""

    since: datetime
    until: datetime | None = None
    task: str | None = None
    schedule_id: int | None = None
    # A principal bound to a tenant sees only that tenant's runs.
    restrict_tenant: str | None = None


def hidden_action_prefixes(actor: Actor) -> tuple[str, ...]:
    """The kinds of audit entries ``actor`` may not read: ``auth.*`` unless it is an admin
    bound to no tenant, ``user.*`` and ``token.*`` unless it is an admin."""
    if actor.role is Role.ADMIN:
        return () if actor.tenant_id is None else (AUTH_ACTIONS,)
    return (AUTH_ACTIONS, *ACCOUNT_ACTIONS)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters for reading the audit log."""

    target_type: str | None = None
    target_id: str | None = None
    actor: str | None = None
    action: str | None = None
    restrict_tenant: str | None = None
    # Actions starting with one of these are left out (what the reader may not see).
    hidden_prefixes: tuple[str, ...] = ()

    @classmethod
    def visible_to(cls, reader: Actor, **filters: str | None) -> AuditFilter:
        """``filters`` narrowed to what ``reader`` may read: its tenant's entries when bound
        to one, without the kinds of :func:`hidden_action_prefixes`."""
        return cls(
            **filters,
            restrict_tenant=reader.tenant_id,
            hidden_prefixes=hidden_action_prefixes(reader),
        )


MAX_METADATA_FILTER_LENGTH = 300


def metadata_filter(text: str | None) -> tuple[str | None, str | None]:
    """``"team"`` (has the key) or ``"team=payments"`` (the key's value) as key and value;
    ``(None, None)`` for no filter. Refused, naming ``metadata``, when too long or keyless."""
    if text is None or not text.strip():
        return None, None
    if len(text) > MAX_METADATA_FILTER_LENGTH:
        raise InvalidInputError(
            f"metadata filter is at most {MAX_METADATA_FILTER_LENGTH} characters",
            field="metadata",
        )
    key, equals, value = text.partition("=")
    key = key.strip()
    if not key or len(key) > MAX_JSON_KEY_LENGTH:
        raise InvalidInputError(
            f'metadata filter is "key" or "key=value", the key at most {MAX_JSON_KEY_LENGTH} '
            "characters",
            field="metadata",
        )
    return key, (value if equals else None)
