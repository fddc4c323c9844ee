"""How alerting runs in a process (:class:`AlertConfig`): thresholds, default channels,
delivery retries, and where email goes."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickwork.services.mail import MailSettings

DEFAULT_ALERT_AFTER = 1
DEFAULT_EVALUATE_INTERVAL = 5.0
DEFAULT_DELIVERY_POLL = 1.0
DEFAULT_SEND_TIMEOUT = 10.0
DEFAULT_RETRY_BASE = 10.0
DEFAULT_RETRY_MAX = 3600.0
DEFAULT_MAX_ATTEMPTS = 12
DEFAULT_DOWN_AFTER = 60.0
DEFAULT_LOST_AFTER = 60.0
DEFAULT_BACKLOG_AGE = 300.0
DEFAULT_BACKLOG_MAX = 100


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """How a process evaluates alert rules and delivers notifications.

    Every live process (scheduler, worker, web) runs the rules and delivers, so alerts still
    go out when one kind of process is down.
    """

    # Channels of schedules that name none, and of the global rules (process down, backlog).
    default_channels: tuple[str, ...] = ()
    # Failures in a row that open a ``schedule.failing`` incident when a schedule sets no
    # ``alert_after`` of its own.
    default_alert_after: int = DEFAULT_ALERT_AFTER
    # How often the rules are evaluated.
    evaluate_interval: float = DEFAULT_EVALUATE_INTERVAL
    # Longest wait between looks at the outbox for due notifications.
    delivery_poll: float = DEFAULT_DELIVERY_POLL
    # How long one delivery may take; a delivery is leased for this plus a margin, so a
    # process killed mid-delivery leaves it to another once the lease expires.
    send_timeout: float = DEFAULT_SEND_TIMEOUT
    # Backoff between attempts of one notification: base * 2^(attempt-1), at most max.
    retry_base: float = DEFAULT_RETRY_BASE
    retry_max: float = DEFAULT_RETRY_MAX
    # Attempts before a notification is given up as failed.
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    # ``process.down``: no live scheduler, or no live worker for a queue whose runs wait,
    # for longer than this.
    down_after: float = DEFAULT_DOWN_AFTER
    # A node silent for longer than this is marked lost (once).
    lost_after: float = DEFAULT_LOST_AFTER
    # ``queue.backlog``: runnable runs waiting longer than this, or more of them than
    # ``backlog_max`` in one queue.
    backlog_age: float = DEFAULT_BACKLOG_AGE
    backlog_max: int = DEFAULT_BACKLOG_MAX
    # The address of the web UI, for links in notifications (``TICKWORK_PUBLIC_URL``).
    public_url: str = "http://127.0.0.1:8787"
    # Where email channels send (the SMTP settings, or the outbox folder).
    mail: MailSettings = field(default_factory=MailSettings)

    def __post_init__(self) -> None:
        positive = {
            "evaluate_interval": self.evaluate_interval,
            "delivery_poll": self.delivery_poll,
            "send_timeout": self.send_timeout,
            "retry_base": self.retry_base,
            "retry_max": self.retry_max,
            "down_after": self.down_after,
            "lost_after": self.lost_after,
            "backlog_age": self.backlog_age,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive")
        if self.default_alert_after < 1 or self.max_attempts < 1 or self.backlog_max < 1:
            raise ValueError("default_alert_after, max_attempts and backlog_max must be >= 1")

    @property
    def lease(self) -> float:
        """How long a process holds a notification it is delivering."""
        return self.send_timeout + 5.0

    def retry_delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt."""
        return float(min(self.retry_max, self.retry_base * 2 ** max(0, attempts - 1)))

    def link(self, path: str) -> str:
        """An absolute link to ``path`` of the web UI."""
        return self.public_url.rstrip("/") + path
