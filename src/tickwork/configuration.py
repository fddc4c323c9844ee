"""Service configurations built from :class:`~tickwork.settings.Settings`: the SMTP settings
email goes out with, and how alerting runs. The CLI and the processes it starts apply them
to the app they load."""

from __future__ import annotations

from tickwork.app import Tickwork
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.mail import MailSettings
from tickwork.settings import Settings


def mail_settings(settings: Settings) -> MailSettings:
    """The SMTP (or outbox) settings of ``settings``."""
    return MailSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        outbox_dir=settings.outbox_dir,
    )


def alert_config(settings: Settings) -> AlertConfig:
    """How alerting runs, from ``TICKWORK_ALERT_*`` and the related settings."""
    return AlertConfig(
        default_channels=tuple(settings.alert_channels),
        default_alert_after=settings.alert_after,
        evaluate_interval=settings.alert_interval,
        delivery_poll=min(1.0, settings.alert_interval),
        send_timeout=settings.alert_send_timeout,
        down_after=settings.process_down_after,
        lost_after=settings.node_lost_after,
        backlog_age=settings.backlog_age,
        backlog_max=settings.backlog_max,
        public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        mail=mail_settings(settings),
    )


def configure_app(app: Tickwork, settings: Settings) -> None:
    """Apply the settings' alerting configuration to ``app`` (before its services start)."""
    app.alert_config = alert_config(settings)
