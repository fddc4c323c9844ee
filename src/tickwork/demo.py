"""The demo app ``tickwork run`` uses without ``--app``: the built-in tasks plus code-defined
schedules that are on from the start (two of tasks, one of a group: a flow every minute), so
a newcomer sees real runs, a flow in waves, history and charts within a minute."""

from __future__ import annotations

import dataclasses
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
    _add_pipeline(app, port)
    return app


PIPELINE = "demo.pipeline"
# The demo pipeline's steps: a built-in task type each, and the steps each waits for.
PIPELINE_STEPS = {
    "demo.check-health": ("http.request", ()),
    "demo.export-history": ("data.export", ("demo.check-health",)),
    "demo.export-failures": ("data.export", ("demo.check-health",)),
    "demo.mail-summary": ("email.send", ("demo.export-history", "demo.export-failures")),
}


def _add_pipeline(app: Tickwork, port: int) -> None:
    """A group of real work in waves: check this server's health, then export the last
    hour's history and its failures side by side, then mail a note (to the outbox folder
    unless SMTP is set up). Its steps are the built-in task types under their own names."""
    for name, (builtin, depends_on) in PIPELINE_STEPS.items():
        base = app.registry.get(builtin)
        app.registry.register(
            dataclasses.replace(
                base,
                name=name,
                groups=(PIPELINE,),
                depends_on=depends_on,
                description=f"{base.description} (a step of {PIPELINE})",
            )
        )
    app.group(
        PIPELINE,
        max_parallel=2,
        description="Check health, export history and failures in parallel, mail a summary",
    )
    app.periodic(
        PIPELINE,
        group=PIPELINE,
        interval=60,
        description="A flow every minute: health check, two exports side by side, a summary",
        payload={
            "demo.check-health": {
                "url": f"http://127.0.0.1:{port}/healthz",
                "expected_status": [200],
            },
            "demo.export-history": {"format": "csv", "since_hours": 1, "name": "pipeline"},
            "demo.export-failures": {
                "format": "json",
                "since_hours": 1,
                "status": "failed",
                "name": "pipeline-failures",
            },
            "demo.mail-summary": {
                "to": ["operators@example.com"],
                "subject": "tickwork demo pipeline: history exported",
                "body": "The last hour's run history and its failures were exported.",
            },
        },
        misfire_policy="skip",
        overlap_policy="skip",
        enabled=True,
    )


app = build_demo_app()
