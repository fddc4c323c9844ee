"""Sending an email by SMTP, or into a local outbox folder when no SMTP host is set.

The built-in ``email.send`` task and email alert channels both send this way, with the
installation's SMTP settings (``TICKWORK_SMTP_*``).
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where mail goes: an SMTP server, or (``host`` unset) files in ``outbox_dir``."""

    host: str | None = None
    port: int = 587
    user: str | None = None
    password: str | None = None
    sender: str = "tickwork@localhost"
    starttls: bool = True
    outbox_dir: str = ".tickwork/outbox"
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Sent:
    """Where a message went: ``smtp`` (with the recipients refused) or ``outbox`` (a path)."""

    delivered: str
    refused: tuple[str, ...] = ()
    path: str | None = None


def send_mail(settings: MailSettings, message: EmailMessage, *, file_prefix: str) -> Sent:
    """Send ``message`` (its ``From`` is set to the sender when missing)."""
    if message["From"] is None:
        message["From"] = settings.sender
    if not settings.host:
        outbox = Path(settings.outbox_dir)
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{file_prefix}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        return Sent("outbox", path=str(path))
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        refused = smtp.send_message(message)
    return Sent("smtp", refused=tuple(sorted(refused)))
