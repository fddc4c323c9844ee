"""``tickwork channels`` and ``tickwork alerts`` on SQLite and PostgreSQL: channels created,
listed, tested against a real receiver and deleted; incidents listed and acknowledged;
schedules given alert settings; bad input exits 2 with one line naming the problem."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cli import InProcessCli
from tests.support.local_servers import LocalHttpServer, local_http_server
from tickwork import Tickwork
from tickwork.storage.alert_store import AlertStore


@pytest.fixture
def receiver() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


def test_channels_are_created_listed_tested_and_deleted(
    tickwork: InProcessCli, receiver: LocalHttpServer
) -> None:
    created = tickwork(
        "channels", "create", "ops", "--url", f"{receiver.url}/hook", "--secret", "s3", "--json"
    )
    assert created.code == 0, created.err
    assert created.json()["has_secret"] is True
    mail = tickwork("channels", "create", "oncall", "--kind", "email", "--to", "a@x.io,b@x.io")
    assert mail.code == 0
    listed = tickwork("channels", "list", "--json").json()
    assert [(c["name"], c["kind"], c["to"]) for c in listed] == [
        ("oncall", "email", ["a@x.io", "b@x.io"]),
        ("ops", "webhook", None),
    ]
    assert "s3" not in tickwork("channels", "list").out
    sent = tickwork("channels", "test", "ops")
    assert sent.code == 0
    assert receiver.requests[-1].json()["id"] in sent.out
    tickwork("channels", "create", "broken", "--url", f"{receiver.url}/status/500")
    refused = tickwork("channels", "test", "broken")
    assert refused.code == 1
    assert refused.err.strip().startswith("error: the channel did not take the test")
    assert tickwork("channels", "delete", "broken").code == 0
    assert len(tickwork("channels", "list", "--json").json()) == 2


def test_bad_channel_input_exits_2_naming_the_field(tickwork: InProcessCli) -> None:
    bad_kind = tickwork("channels", "create", "x", "--kind", "pager", "--url", "https://h/")
    assert bad_kind.code == 2
    assert bad_kind.error_line().startswith("error (kind): 'pager' is not one of")
    no_url = tickwork("channels", "create", "x")
    assert no_url.error_line() == "error (url): a webhook channel needs a url"
    assert (
        tickwork("channels", "test", "nope").error_line() == "error (id): channel 'nope' not found"
    )
    long = tickwork("channels", "create", "x", "--url", "https://h/" + "x" * 10_000)
    assert long.code == 2
    assert long.error_line().startswith("error (url):")
    assert tickwork("channels", "list", "--json").json() == []


def test_schedule_alert_options_and_incidents(tickwork: InProcessCli, database_url: str) -> None:
    tickwork("channels", "create", "ops", "--url", "https://hooks.example/x")
    created = tickwork(
        "schedules",
        "create",
        "--name",
        "nightly",
        "--task",
        "noop",
        "--cron",
        "0 2 * * *",
        "--alert-after",
        "3",
        "--auto-pause-after",
        "10",
        "--alert-channels",
        "ops",
        "--json",
    )
    assert created.code == 0, created.err
    schedule = created.json()
    assert (schedule["alert_after"], schedule["auto_pause_after"]) == (3, 10)
    assert schedule["alert_channels"] == ["ops"]
    unknown = tickwork("schedules", "update", "nightly", "--alert-channels", "nope")
    assert unknown.error_line() == "error (alert_channels): no alert channel is called 'nope'"
    zero = tickwork("schedules", "update", "nightly", "--alert-after", "0")
    assert zero.error_line() == "error (alert_after): must be from 1 to 10000"
    app = Tickwork(database_url)
    try:
        with app.db.write() as conn:
            AlertStore(app.db.dialect).open_alert(
                conn,
                event="schedule.failing",
                subject=f"schedule:{schedule['id']}",
                text="nightly is failing",
                now=app.db.now(),
                schedule_id=schedule["id"],
            )
    finally:
        app.close()
    [alert] = tickwork("alerts", "list", "--json").json()
    assert (alert["event"], alert["open"]) == ("schedule.failing", True)
    assert "1 open incidents" in tickwork("alerts", "list").out
    assert tickwork("alerts", "ack", str(alert["id"])).code == 0
    [acked] = tickwork("alerts", "list", "--all", "--json").json()
    assert acked["acknowledged_by"] == "cli"
    missing = tickwork("alerts", "ack", "999999")
    assert missing.code == 2
    assert missing.error_line() == "error (id): alert 999999 not found"
