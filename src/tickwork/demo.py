"""The demo app ``tickwork run`` uses without ``--app``: the built-in tasks plus two
code-defined schedules that are on from the start, so a newcomer sees real runs, history and
charts within a minute."""

from __future__ import annotations

import os

from tickwork.app import Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.settings import Settings


def build_demo_app(settings: Settings | None = None) -> Tickwork:
    """A :class:`Tickwork` with the built-in tasks and the demo schedules."""
    settings = settings or Settings()
    app = Tickwork(
        settings.database_url,
        max_payload_bytes=settings.max_payload_bytes,
        backfill_cap=settings.backfill_cap,
        backfill_rate=settings.backfill_rate,
    )
    port = int(os.environ.get("TICKWORK_PORT", settings.port))
    # http.request refuses loopback targets unless TICKWORK_HTTP_ALLOW permits them; the
    # self-check calls this very server, so the demo allows exactly its address and port.
    self_check = f"127.0.0.1:{port}"
    register_builtin_tasks(
        app, settings.model_copy(update={"http_allow": [*settings.http_allow, self_check]})
    )
    app.periodic(
        "demo.self-check",
        task="http.request",
        interval=30,
        description=f"Call this server's /healthz every 30 seconds (allowed: {self_check})",
        payload={"url": f"http://127.0.0.1:{port}/healthz", "expected_status": [200]},
        misfire_policy="skip",
        overlap_policy="skip",
        enabled=True,
    )
    app.periodic(
        "demo.history-export",
        task="data.export",
        cron="*/2 * * * *",
        description="Export the last hour of run history as CSV every 2 minutes",
        payload={"format": "csv", "since_hours": 1, "name": "last-hour"},
        misfire_policy="run_once",
        overlap_policy="skip",
        enabled=True,
    )
    return app


app = build_demo_app()
