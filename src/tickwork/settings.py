"""Settings from flags or ``TICKWORK_*`` environment variables. Only the CLI and
``create_app`` read the environment; everything else takes explicit arguments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tickwork.domain.backfill import (
    DEFAULT_BACKFILL_CAP,
    DEFAULT_BACKFILL_RATE,
    MAX_BACKFILL_CAP,
)
from tickwork.domain.tasks import DEFAULT_MAX_PAYLOAD_BYTES
from tickwork.storage.database import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    """Every setting, with its default. ``TICKWORK_<NAME>`` overrides each."""

    model_config = SettingsConfigDict(env_prefix="TICKWORK_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    app: str | None = Field(default=None, description="module:attribute of the Tickwork app")
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=1, le=65535)
    auth: Literal["local", "proxy", "none"] = "local"
    secret_key: str | None = None
    proxy_header: str = "X-Forwarded-User"
    # Role and tenant headers are trusted only when named here (for instance
    # X-Forwarded-Role): a proxy that does not set them would pass on the client's copies.
    proxy_role_header: str | None = None
    proxy_tenant_header: str | None = None
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    proxy_default_role: Literal["viewer", "operator", "admin"] = "viewer"
    concurrency: int = Field(default=10, ge=1, le=10_000)
    queues: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1024)
    max_request_bytes: int = Field(default=1024 * 1024, ge=4096)
    stall_timeout: float = Field(default=30.0, gt=0)
    heartbeat_interval: float = Field(default=5.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    scheduler_lookahead: float = Field(default=1.0, ge=0, le=60)
    shutdown_grace: float = Field(default=30.0, ge=0)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "tickwork@localhost"
    smtp_starttls: bool = True
    outbox_dir: str = ".tickwork/outbox"
    export_dir: str = ".tickwork/exports"
    shell_enabled: bool = False
    # Addresses, networks and host names http.request may reach although they are not
    # public (loopback, private, link-local, ...): comma-separated, each optionally with
    # :port, such as "127.0.0.1:8787,10.0.0.0/8,hooks.internal". Empty: public ones only.
    http_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    retention_days: int = Field(default=30, ge=1)
    # Most runs released by all flows together per second, in every process that settles
    # flows (workers, schedulers, web servers); 0: no limit.
    flow_release_rate: float = Field(default=0.0, ge=0, le=100_000)
    # Most fire times one backfill creates, and how many of its runs may start per second.
    backfill_cap: int = Field(default=DEFAULT_BACKFILL_CAP, ge=1, le=MAX_BACKFILL_CAP)
    backfill_rate: float = Field(default=DEFAULT_BACKFILL_RATE, gt=0, le=100_000)
    # Alerting: channels of schedules that name none and of the global rules (comma-
    # separated channel names), the failures in a row that make a schedule "failing" when
    # it sets no alert_after, and the thresholds of the global rules, in seconds.
    alert_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alert_after: int = Field(default=1, ge=1, le=10_000)
    alert_interval: float = Field(default=5.0, gt=0, le=3600)
    alert_send_timeout: float = Field(default=10.0, gt=0, le=300)
    process_down_after: float = Field(default=60.0, gt=0)
    node_lost_after: float = Field(default=60.0, gt=0)
    backlog_age: float = Field(default=300.0, gt=0)
    backlog_max: int = Field(default=100, ge=1)
    # The address of the web UI as people reach it, for links in notifications.
    public_url: str | None = None

    @field_validator("http_allow", "alert_channels", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
