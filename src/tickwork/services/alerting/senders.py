"""Sending one notification to one channel: a signed webhook POST, a Slack message, or an
email (SMTP, or the outbox folder without an SMTP host).

Channel targets are chosen by admins bound to no tenant, so they are not held to the
``http.request`` task's rules for tenants' targets (an internal Alertmanager or a relay on
the private network is a normal target). Redirects are not followed: a notification goes
exactly where the admin said.
"""

from __future__ import annotations

import dataclasses
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from tickwork.domain.alerts import (
    Channel,
    ChannelKind,
    email_subject,
    email_text,
    encoded,
    signature,
    slack_body,
)
from tickwork.domain.errors import DeliveryError
from tickwork.services.mail import MailSettings, send_mail

USER_AGENT = "tickwork-alerts"
# How much of a refusing receiver's answer is kept in the notification's last error.
MAX_ANSWER_SHOWN = 200


def send(channel: Channel, body: dict[str, Any], *, timeout: float, mail: MailSettings) -> None:
    """Deliver ``body`` (an event: ``id``, ``event``, ``text``, ...) to ``channel``; raise
    :class:`DeliveryError` when it was not taken."""
    try:
        if channel.kind is ChannelKind.EMAIL:
            _email(channel, body, mail, timeout)
        elif channel.kind is ChannelKind.SLACK:
            _post(channel, encoded(slack_body(body)), {}, timeout)
        else:
            payload = encoded(body)
            headers = {"X-Tickwork-Event": str(body.get("event")), "X-Tickwork-Id": str(body["id"])}
            if channel.secret:
                headers["X-Tickwork-Signature"] = signature(channel.secret, payload)
            _post(channel, payload, headers, timeout)
    except DeliveryError:
        raise
    except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc


def _post(channel: Channel, payload: bytes, headers: dict[str, str], timeout: float) -> None:
    assert channel.url is not None
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        answer = client.post(
            channel.url,
            content=payload,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
    if not answer.is_success:
        raise DeliveryError(
            f"{channel.kind.value} answered {answer.status_code}: "
            f"{answer.text[:MAX_ANSWER_SHOWN]!r}"
        )


def _email(channel: Channel, body: dict[str, Any], mail: MailSettings, timeout: float) -> None:
    message = EmailMessage()
    message["To"] = ", ".join(channel.to)
    message["Subject"] = email_subject(body)
    message["X-Tickwork-Event"] = str(body.get("event"))
    message["X-Tickwork-Id"] = str(body["id"])
    message.set_content(email_text(body))
    sent = send_mail(
        dataclasses.replace(mail, timeout=timeout), message, file_prefix=f"alert-{body['id']}"
    )
    if sent.refused and len(sent.refused) == len(channel.to):
        raise DeliveryError(f"every recipient was refused: {', '.join(sent.refused)}")
