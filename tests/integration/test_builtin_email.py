"""``email.send`` over SMTP to a real local server (aiosmtpd), with and without a login, and
into the outbox folder when no SMTP host is set."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest

from tests.support.local_servers import LocalSmtpServer, local_smtp_server
from tickwork import PayloadError, Run, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.domain.models import RunStatus
from tickwork.settings import Settings

MAIL = {
    "to": ["ops@example.com", "dev@example.com"],
    "cc": ["boss@example.com"],
    "subject": "Nightly report",
    "body": "All green.\n",
}


def _smtp(smtp: LocalSmtpServer, **settings: object) -> Settings:
    """Settings that send to the local SMTP server (no TLS: it has no certificate)."""
    return Settings(smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False, **settings)


def _send(app: Tickwork, payload: dict[str, object]) -> Run:
    run = app.enqueue("email.send", payload, max_attempts=1)
    app.worker(concurrency=1).run_until_idle(60)
    return app.runs.get(run.id)


def test_email_is_delivered_over_smtp_to_every_recipient(app: Tickwork) -> None:
    with local_smtp_server() as smtp:
        register_builtin_tasks(app, _smtp(smtp, smtp_from="tickwork@example.com"))
        run = _send(app, MAIL)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.result == {"delivered": "smtp", "refused": []}
    (mail,) = smtp.received
    assert mail.sender == "tickwork@example.com"
    assert sorted(mail.recipients) == ["boss@example.com", "dev@example.com", "ops@example.com"]
    assert mail.message["From"] == "tickwork@example.com"
    assert mail.message["To"] == "ops@example.com, dev@example.com"
    assert mail.message["Cc"] == "boss@example.com"
    assert mail.message["Subject"] == "Nightly report"
    assert mail.message["X-Tickwork-Run"] == str(run.id)
    assert mail.message.get_payload(decode=True).replace(b"\r\n", b"\n") == b"All green.\n"
    assert mail.login is None


def test_email_logs_in_with_the_configured_credentials(app: Tickwork) -> None:
    with local_smtp_server(credentials=("mailer", "s3cret")) as smtp:
        register_builtin_tasks(app, _smtp(smtp, smtp_user="mailer", smtp_password="s3cret"))
        run = _send(app, MAIL)
    assert run.status is RunStatus.SUCCEEDED, run.error
    (mail,) = smtp.received
    assert mail.login == "mailer"


def test_wrong_smtp_credentials_fail_the_run_and_send_nothing(app: Tickwork) -> None:
    with local_smtp_server(credentials=("mailer", "s3cret")) as smtp:
        register_builtin_tasks(app, _smtp(smtp, smtp_user="mailer", smtp_password="wrong"))
        run = _send(app, MAIL)
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "SMTPAuthenticationError" in run.error
    assert smtp.received == []


def test_email_goes_to_the_outbox_without_an_smtp_host(app: Tickwork, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    register_builtin_tasks(app, Settings(outbox_dir=str(outbox)))
    run = _send(app, MAIL)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.result["delivered"] == "outbox"
    path = Path(run.result["path"])
    assert path.parent == outbox
    message = message_from_bytes(path.read_bytes())
    assert message["To"] == "ops@example.com, dev@example.com"
    assert message["Subject"] == "Nightly report"


def test_bad_addresses_are_refused_when_the_run_is_made(app: Tickwork, tmp_path: Path) -> None:
    register_builtin_tasks(app, Settings(outbox_dir=str(tmp_path)))
    with pytest.raises(PayloadError) as error:
        app.enqueue("email.send", {"to": ["nobody"], "subject": "x"})
    assert error.value.field == "payload.to"
    with pytest.raises(PayloadError) as error:
        app.enqueue("email.send", {"to": ["a@example.com"], "cc": ["a b@c"], "subject": "x"})
    assert error.value.field == "payload.cc"
    assert app.runs.list() == []
