"""The same class as findings 1 to 3, in the other built-in tasks' payloads: what reaches a
mail header or an HTTP header is checked when the run is enqueued, and lists are bounded.

``email.send`` accepted a subject or an address with a line break (extra mail headers of
the sender's choosing; the run then failed at send time) and any number of recipients;
``http.request`` accepted header names and values that are not headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tickwork import PayloadError, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.settings import Settings


@pytest.fixture
def builtin(tmp_path: Path) -> Iterator[Tickwork]:
    """The built-in tasks on a SQLite file (payload checks do not touch the database)."""
    app = Tickwork(f"sqlite:///{tmp_path / 'payloads.db'}")
    app.migrate()
    register_builtin_tasks(app, Settings(export_dir=str(tmp_path), outbox_dir=str(tmp_path)))
    yield app
    app.close()


def refused(app: Tickwork, task: str, payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as error:
        app.enqueue(task, payload)
    assert error.value.field is not None
    assert error.value.field.startswith(field), error.value.field


MAIL = {"to": ["ops@example.com"], "subject": "report"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": "hi\r\nBcc: victim@example.com"}, "payload.subject"),
        ({"subject": "hi\nthere"}, "payload.subject"),
        ({"to": ["a@example.com\r\nBcc: victim@example.com"]}, "payload.to"),
        ({"cc": ["a@example.com\x00"]}, "payload.cc"),
        ({"to": [f"user{i}@example.com" for i in range(101)]}, "payload.to"),
        ({"to": ["a" * 300 + "@example.com"]}, "payload.to"),
    ],
)
def test_email_headers_stay_headers(builtin: Tickwork, change: dict[str, Any], field: str) -> None:
    refused(builtin, "email.send", {**MAIL, **change}, field)


def test_a_valid_email_still_goes_to_the_outbox(builtin: Tickwork) -> None:
    run = builtin.enqueue("email.send", {**MAIL, "cc": ["boss@example.com"]})
    builtin.worker(concurrency=1).run_until_idle(20)
    assert builtin.runs.get(run.id).status.value == "succeeded"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nX-Injected: 1"},
        {"X-Evil": "a\nb"},
        {"Bad Name": "x"},
        {"X-Nul\x00": "x"},
        {"": "x"},
        {f"X-{i}": "x" for i in range(101)},
    ],
)
def test_http_request_headers_are_headers(builtin: Tickwork, headers: dict[str, str]) -> None:
    refused(builtin, "http.request", {"url": "https://example.com/", "headers": headers}, "payload")


def test_export_filters_are_bounded(builtin: Tickwork) -> None:
    refused(builtin, "data.export", {"task": "t" * 10_000}, "payload.task")
    refused(builtin, "data.export", {"status": "s" * 10_000}, "payload.status")
