"""The database schema, as SQLAlchemy Core tables. Alembic's target metadata."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from tickwork.storage.types import UTCDateTime, json_type

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid), not a BIGINT one.
Id = BigInteger().with_variant(Integer(), "sqlite")

# Ids are never handed out twice: a deleted row's id stays retired, so nothing that still
# points at it (runs of a deleted schedule, audit entries, tokens of a deleted user) can
# be inherited by a newer row. PostgreSQL's sequences never go back; SQLite needs
# AUTOINCREMENT, without which it reuses the highest id after that row is deleted.
NEVER_REUSE_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


def tenant_scope(column: Any) -> ColumnElement[Any]:
    """The tenant a row belongs to as a unique index sees it: rows without a tenant share
    one scope of their own (NULLs would never collide). Tenant ids are never empty."""
    return func.coalesce(column, literal_column("''"))


# The predicate of the unique fire-time keys of runs and of flows (one entry per fire time of
# a schedule, however many schedulers run); an ON CONFLICT on either must name it.
FIRE_TIME_KEY = "schedule_id IS NOT NULL AND scheduled_for IS NOT NULL"


def _where(condition: str) -> dict[str, Any]:
    """A partial-index predicate for both dialects."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


schedules = Table(
    "schedules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("tenant_id", String(100)),
    # A schedule targets one task or one group (then ``task`` is NULL).
    Column("task", String(200)),
    Column("group", String(200)),
    Column("payload", json_type(), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("cron", String(200)),
    Column("interval", Float),
    Column("run_at", UTCDateTime()),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("description", Text),
    Column("start_at", UTCDateTime()),
    Column("end_at", UTCDateTime()),
    Column("anchor_at", UTCDateTime()),
    Column("jitter", Float, nullable=False, server_default="0"),
    Column("misfire_policy", String(16), nullable=False),
    Column("misfire_grace", Float, nullable=False),
    Column("misfire_cap", Integer, nullable=False),
    Column("overlap_policy", String(16), nullable=False),
    Column("max_runs", Integer),
    Column("run_count", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer),
    Column("retry_backoff", Float),
    Column("retry_backoff_max", Float),
    Column("timeout", Float),
    Column("queue", String(100)),
    Column("priority", Integer),
    Column("windows", json_type()),
    Column("blackout_dates", json_type()),
    Column("condition", String(200)),
    Column("status", String(16), nullable=False),
    Column("next_run_at", UTCDateTime()),
    Column("last_run_at", UTCDateTime()),
    Column("last_status", String(16)),
    Column("pause_note", Text),
    Column("paused_by", String(200)),
    Column("paused_at", UTCDateTime()),
    Column("paused_until", UTCDateTime()),
    Column("source", String(8), nullable=False),
    Column("orphaned", Boolean, nullable=False, server_default=text("false")),
    Column("code_hash", String(64)),
    Column("created_by", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    # Alerting (issue 11): thresholds and channels, and the failures in a row that the
    # worker counts as it records final outcomes (a success resets it).
    Column("alert_after", Integer),
    Column("auto_pause_after", Integer),
    Column("alert_channels", json_type()),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    # Free-form JSON object the operator attaches (NULL reads as {}).
    Column("metadata", json_type()),
    Column("last_success_at", UTCDateTime()),
    # The scheduler's only scan: due active schedules, cheapest first. Its cost follows
    # the number of due schedules, not the size of the table.
    Index("ix_schedules_due", "next_run_at", **_where("status = 'active'")),
    Index(
        "ix_schedules_paused_until",
        "paused_until",
        **_where("status = 'paused' AND paused_until IS NOT NULL"),
    ),
    Index("ix_schedules_task", "task"),
    # The claim's hold: runs of paused schedules wait (migration 0010).
    Index("ix_schedules_paused", "id", **_where("status = 'paused'")),
    # The alert monitor's scan: schedules whose latest runs failed.
    Index("ix_schedules_failing", "id", **_where("consecutive_failures > 0")),
    Index("ix_schedules_tenant_id", "tenant_id"),
    **NEVER_REUSE_IDS,
)
# Names are unique within a tenant (and among schedules without one), so creating a
# schedule never tells one tenant what another has named its schedules.
Index(
    "ux_schedules_tenant_name", tenant_scope(schedules.c.tenant_id), schedules.c.name, unique=True
)

runs = Table(
    "runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("schedule_id", BigInteger),
    Column("task", String(200), nullable=False),
    Column("payload", json_type(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("tenant_id", String(100)),
    Column("queue", String(100), nullable=False, server_default="default"),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("max_attempts", Integer, nullable=False, server_default="1"),
    Column("retry_backoff", Float, nullable=False, server_default="2"),
    Column("retry_backoff_max", Float, nullable=False, server_default="600"),
    Column("timeout", Float),
    Column("run_at", UTCDateTime(), nullable=False),
    Column("scheduled_for", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("heartbeat_at", UTCDateTime()),
    Column("worker_id", String(200)),
    Column("token", String(64)),
    Column("key", String(200)),
    Column("flow_id", BigInteger),
    Column("error", Text),
    Column("traceback", Text),
    Column("result", json_type()),
    Column("logs", json_type()),
    Column("skip_reason", String(32)),
    Column("details", json_type()),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    Column("created_by", String(200)),
    # Exactly once per fire time: a second insert for the same fire time is a no-op.
    # Indexes are partial where they can be: each status change of a run writes an entry
    # into every index whose predicate the new row version meets (migration 0003).
    Index(
        "ux_runs_fire_time",
        "schedule_id",
        "scheduled_for",
        unique=True,
        **_where(FIRE_TIME_KEY),
    ),
    # The claim path: runnable runs by priority, then due time.
    Index(
        "ix_runs_claim",
        text("priority DESC"),
        "run_at",
        "id",
        **_where("status IN ('queued', 'retrying')"),
    ),
    # Stall detection looks only at running runs.
    Index("ix_runs_running", "heartbeat_at", **_where("status = 'running'")),
    Index("ix_runs_schedule_id", "schedule_id", "id", **_where("schedule_id IS NOT NULL")),
    # Queued runs are in the claim index, running ones in the heartbeat index, and
    # succeeded ones are what a scan by id finds at once.
    Index(
        "ix_runs_status",
        "status",
        "id",
        **_where("status IN ('waiting', 'retrying', 'failed', 'cancelled', 'skipped')"),
    ),
    Index("ix_runs_task", "task", "id"),
    Index("ix_runs_tenant_id", "tenant_id", "id", **_where("tenant_id IS NOT NULL")),
    Index("ix_runs_finished_at", "finished_at", **_where("finished_at IS NOT NULL")),
    Index("ix_runs_flow_id", "flow_id", "id", **_where("flow_id IS NOT NULL")),
    # Time-range filters of run history. BRIN on PostgreSQL: runs are created in time
    # order, so a few bytes per block range find any window, and updates stay cheap.
    Index("ix_runs_created_at", "created_at", postgresql_using="brin"),
    **NEVER_REUSE_IDS,
)
# At most one pending run per key within a tenant (and among runs without one): a key
# another tenant holds is none of the caller's business.
RUN_KEY_PENDING = "key IS NOT NULL AND status IN ('waiting', 'queued', 'retrying')"
Index(
    "ux_runs_key",
    tenant_scope(runs.c.tenant_id),
    runs.c.key,
    unique=True,
    **_where(RUN_KEY_PENDING),
)

run_attempts = Table(
    "run_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("worker_id", String(200)),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("error", Text),
    Column("traceback", Text),
    Column("logs", json_type()),
    Index("ix_run_attempts_run_id", "run_id", "attempt"),
    **NEVER_REUSE_IDS,
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
    Column("stopped_at", UTCDateTime()),
    # Set once when the node went silent past the lost threshold (killed, or its machine
    # gone); a heartbeat after that clears it.
    Column("lost_at", UTCDateTime()),
    Column("info", json_type(), nullable=False),
    Index("ix_nodes_heartbeat_at", "heartbeat_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("source", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(64)),
    Column("tenant_id", String(100)),
    Column("before", json_type()),
    Column("after", json_type()),
    Index("ix_audit_log_target", "target_type", "target_id"),
    Index("ix_audit_log_tenant_id", "tenant_id", "id"),
    **NEVER_REUSE_IDS,
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("tenant_id", String(100)),
    Column("disabled", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200)),
    Column("last_login_at", UTCDateTime()),
    UniqueConstraint("username"),
    **NEVER_REUSE_IDS,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("user_id", BigInteger),
    Column("token_hash", String(128), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("tenant_id", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200)),
    Column("last_used_at", UTCDateTime()),
    Column("expires_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    UniqueConstraint("token_hash"),
    **NEVER_REUSE_IDS,
)

# Values every process must share and nobody edits by hand, such as the session signing
# key generated when TICKWORK_SECRET_KEY is not set.
secrets = Table(
    "secrets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# A flag without a tenant is the installation's; a tenant's flags are its own. A schedule's
# condition naming a flag needs every flag of that name it can see to be on.
flags = Table(
    "flags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("tenant_id", String(100)),
    Column("enabled", Boolean, nullable=False),
    Column("description", Text),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200)),
    **NEVER_REUSE_IDS,
)
Index("ux_flags_tenant_name", tenant_scope(flags.c.tenant_id), flags.c.name, unique=True)

# Login attempts reserved per user name and client address, and per address: the
# progressive delay of :mod:`tickwork.auth.throttle`, shared by every web process.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("blocked_until", UTCDateTime(), nullable=False),
    Column("last_attempt_at", UTCDateTime(), nullable=False),
    Index("ix_login_throttle_last_attempt_at", "last_attempt_at"),
)

# One run of a group (or of chosen tasks): its runs carry its id in ``runs.flow_id``. A fire
# time of a group schedule that started no flow is a ``skipped`` flow with its reason.
flows = Table(
    "flows",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group", String(200)),
    Column("schedule_id", BigInteger),
    Column("scheduled_for", UTCDateTime()),
    Column("tenant_id", String(100)),
    Column("status", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("key", String(200)),
    # The tasks asked for, when started with ``tasks=`` rather than a group.
    Column("tasks", json_type()),
    # The group's settings when the flow started.
    Column("max_parallel", Integer),
    Column("stagger", Float, nullable=False, server_default="0"),
    # When the next of the flow's runs may start, with ``stagger``.
    Column("next_release_at", UTCDateTime()),
    Column("skip_reason", String(32)),
    Column("details", json_type()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("created_by", String(200)),
    # Exactly one flow per fire time of a group schedule, however many schedulers run.
    Index(
        "ux_flows_fire_time",
        "schedule_id",
        "scheduled_for",
        unique=True,
        **_where(FIRE_TIME_KEY),
    ),
    Index("ix_flows_schedule_id", "schedule_id", "id", **_where("schedule_id IS NOT NULL")),
    Index("ix_flows_running", "id", **_where("status = 'running'")),
    Index("ix_flows_status", "status", "id"),
    Index("ix_flows_tenant_id", "tenant_id", "id", **_where("tenant_id IS NOT NULL")),
    Index("ix_flows_finished_at", "finished_at", **_where("finished_at IS NOT NULL")),
    **NEVER_REUSE_IDS,
)
FLOW_KEY_RUNNING = "key IS NOT NULL AND status = 'running'"
# At most one running flow per key within a tenant (like run keys).
Index(
    "ux_flows_key",
    tenant_scope(flows.c.tenant_id),
    flows.c.key,
    unique=True,
    **_where(FLOW_KEY_RUNNING),
)

# Which runs of a flow wait for which: ``run_id`` starts once ``depends_on`` succeeded.
run_dependencies = Table(
    "run_dependencies",
    metadata,
    Column("run_id", BigInteger, primary_key=True),
    Column("depends_on", BigInteger, primary_key=True),
    Column("flow_id", BigInteger, nullable=False),
    Index("ix_run_dependencies_flow_id", "flow_id"),
)

# Shared pacing of runs released by all flows together (the flow release rate): the earliest
# time the next released run may start.
flow_gate = Table(
    "flow_gate",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("next_at", UTCDateTime(), nullable=False),
)

# Where alerts go: a webhook, a Slack incoming webhook or email recipients. Created only
# by admins bound to no tenant; ``secret`` signs webhook bodies.
channels = Table(
    "channels",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", String(2000)),
    Column("recipients", json_type()),
    Column("secret", String(500)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200)),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name"),
    **NEVER_REUSE_IDS,
)

# Incidents: one row from the moment a rule fires until it clears. At most one open row per
# event and subject (a schedule, a role, a queue), so any number of processes may evaluate
# the rules and only one opens the incident.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event", String(32), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("schedule_id", BigInteger),
    Column("tenant_id", String(100)),
    Column("text", Text, nullable=False),
    Column("details", json_type()),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("acknowledged_at", UTCDateTime()),
    Column("acknowledged_by", String(200)),
    Index("ix_alerts_schedule_id", "schedule_id", "id", **_where("schedule_id IS NOT NULL")),
    Index("ix_alerts_open", "opened_at", **_where("resolved_at IS NULL")),
    Index("ix_alerts_tenant_id", "tenant_id", "id", **_where("tenant_id IS NOT NULL")),
    **NEVER_REUSE_IDS,
)
Index(
    "ux_alerts_open_subject",
    alerts.c.event,
    alerts.c.subject,
    unique=True,
    **_where("resolved_at IS NULL"),
)

# The durable outbox of notifications: one row per event and channel, delivered (and
# retried with backoff) by whichever live process leases it first. ``event_id`` is the
# event's ``id`` every channel receives, so a receiver can drop a repeat.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("event", String(32), nullable=False),
    Column("alert_id", BigInteger),
    Column("channel_id", BigInteger),
    Column("channel_name", String(100), nullable=False),
    Column("body", json_type(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("leased_by", String(200)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    Index("ix_notifications_due", "next_attempt_at", **_where("status = 'pending'")),
    Index("ix_notifications_alert_id", "alert_id"),
    **NEVER_REUSE_IDS,
)

# Queues an operator paused: workers claim no run of a queue named here until it is resumed.
queue_pauses = Table(
    "queue_pauses",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("paused_at", UTCDateTime(), nullable=False),
    Column("paused_by", String(200)),
    Column("note", Text),
)
