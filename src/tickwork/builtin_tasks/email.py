"""``email.send``: send by SMTP, or into a local outbox folder when no SMTP host is set."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator

from tickwork.configuration import mail_settings
from tickwork.context import Context
from tickwork.control import Cancel
from tickwork.domain.inputs import echo
from tickwork.services.mail import send_mail

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.settings import Settings

TASK = "email.send"


MAX_RECIPIENTS = 100
# An address or subject with a line break would add headers of the sender's choosing.
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class EmailConfig(BaseModel):
    """A plain-text email."""

    to: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS, description="Recipients")
    subject: str = Field(min_length=1, max_length=500, description="Subject line")
    body: str = Field(default="", max_length=100_000, description="Plain-text body")
    cc: list[str] = Field(
        default_factory=list, max_length=MAX_RECIPIENTS, description="Copy recipients"
    )

    @field_validator("to", "cc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            local, _, domain = value.partition("@")
            if (
                not local
                or not domain
                or " " in value
                or len(value) > 254
                or _NOT_IN_HEADERS.search(value)
            ):
                raise ValueError(f"{echo(value)} is not an email address")
        return values

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if _NOT_IN_HEADERS.search(value):
            raise ValueError("the subject must be one line without control characters")
        return value


def build_message(config: EmailConfig, sender: str, run_id: int) -> EmailMessage:
    """The message to send."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(config.to)
    if config.cc:
        message["Cc"] = ", ".join(config.cc)
    message["Subject"] = config.subject
    message["X-Tickwork-Run"] = str(run_id)
    message.set_content(config.body)
    return message


def register(app: Tickwork, settings: Settings) -> None:
    """Register ``email.send`` with the app's SMTP or outbox settings."""
    if TASK in app.registry:
        return

    def send(ctx: Context, config: EmailConfig) -> dict[str, Any]:
        """Send an email (SMTP, or the local outbox folder)."""
        if ctx.cancelled:
            raise Cancel("cancelled before the email was sent")
        message = build_message(config, settings.smtp_from, ctx.run_id)
        sent = send_mail(mail_settings(settings), message, file_prefix=f"run-{ctx.run_id}")
        if sent.path is not None:
            ctx.log.info("no SMTP host set: wrote the message to %s", sent.path)
            return {"delivered": "outbox", "path": sent.path}
        ctx.log.info(
            "sent to %d recipients via %s", len(config.to) + len(config.cc), settings.smtp_host
        )
        return {"delivered": "smtp", "refused": list(sent.refused)}

    app.task(
        TASK, config=EmailConfig, max_attempts=3, retry_backoff=30.0, description="Send an email"
    )(send)
