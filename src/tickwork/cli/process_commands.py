"""Commands that start or inspect processes: ``run``, ``scheduler``, ``worker``, ``web``,
``migrate``, ``health`` and ``prune``."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer

from tickwork.builtin_tasks.prune import MAX_DAYS, MIN_DAYS
from tickwork.cli.common import (
    AppOption,
    DbOption,
    JsonOption,
    console,
    load_app,
    print_json,
    settings,
    setup_logging,
    styled,
)
from tickwork.settings import Settings

log = logging.getLogger("tickwork.cli")

LogFormat = Annotated[
    str,
    typer.Option(
        "--log-format", envvar="TICKWORK_LOG_FORMAT", help="text or json [env: TICKWORK_LOG_FORMAT]"
    ),
]
LogLevel = Annotated[
    str,
    typer.Option(
        "--log-level",
        envvar="TICKWORK_LOG_LEVEL",
        help="DEBUG, INFO, WARNING [env: TICKWORK_LOG_LEVEL]",
    ),
]
Concurrency = Annotated[
    int,
    typer.Option(
        "--concurrency",
        "-c",
        envvar="TICKWORK_CONCURRENCY",
        min=1,
        max=10_000,
        help="Handlers running at once [env: TICKWORK_CONCURRENCY]",
    ),
]
Queues = Annotated[
    str | None,
    typer.Option(
        "--queues",
        "-q",
        envvar="TICKWORK_QUEUES",
        help="Comma-separated queues (default all) [env: TICKWORK_QUEUES]",
    ),
]
Host = Annotated[
    str, typer.Option("--host", envvar="TICKWORK_HOST", help="Address to bind [env: TICKWORK_HOST]")
]
Port = Annotated[
    int,
    typer.Option(
        "--port", envvar="TICKWORK_PORT", min=1, max=65535, help="Port [env: TICKWORK_PORT]"
    ),
]
Auth = Annotated[
    str | None,
    typer.Option(
        "--auth", envvar="TICKWORK_AUTH", help="local, proxy or none [env: TICKWORK_AUTH]"
    ),
]


def _serve(
    app_ref: str | None,
    db: str | None,
    config: Settings,
    *,
    scheduler: bool = False,
    worker: tuple[int, str | None] | None = None,
    web: bool = False,
    migrate_sqlite: bool = False,
) -> None:
    """Load the app and run the chosen services in this process until SIGTERM/SIGINT;
    ``worker`` is the worker's concurrency and comma-separated queues."""
    from tickwork.processes import assemble, worker_config

    setup_logging(config.log_level, config.log_format)
    if web:
        # An app that calls its own server (the demo's self-check) reads the port from the
        # environment when it is imported, so a --port flag must reach it there too.
        os.environ["TICKWORK_PORT"] = str(config.port)
    tickwork = load_app(app_ref, db, config)
    if migrate_sqlite and tickwork.db.dialect.is_sqlite:
        tickwork.migrate()
    process = assemble(
        tickwork,
        config,
        scheduler=scheduler,
        worker=None if worker is None else worker_config(config, *worker),
        web=web,
    )
    if process.web_app is not None:
        _announce_initial_admin(process.web_app, config)
        console.print(
            f"tickwork is serving http://{config.host}:{config.port}/  (Ctrl+C to stop)",
            highlight=False,
        )
    process.run()


def _announce_initial_admin(web_app: Any, config: Settings) -> None:
    """With local auth on a database without users, create ``admin`` and print its
    generated password once (as Airflow's standalone mode does)."""
    if config.auth != "local":
        return
    try:
        password = web_app.state.tickwork.tickwork.users.ensure_initial_admin()
    except Exception as exc:  # an unmigrated database: /readyz and the log say so
        log.warning("could not check for users (is the database migrated?): %s", exc)
        return
    if password:
        console.print(
            styled("created the admin user 'admin' with password: ", (password, "bold")),
            highlight=False,
        )
        console.print(
            f"(printed only this once: log in at http://{config.host}:{config.port}/login "
            "and keep it safe, or add users with 'tickwork users create')",
            highlight=False,
        )


def migrate(db: DbOption = None, app: AppOption = None) -> None:
    """Create or upgrade the database schema."""
    tickwork = load_app(app, db)
    tickwork.migrate()
    console.print(f"database is at the current schema ({tickwork.db})", highlight=False)


def scheduler(
    db: DbOption = None,
    app: AppOption = None,
    log_format: LogFormat = "text",
    log_level: LogLevel = "INFO",
) -> None:
    """Run a scheduler: fire due schedules until SIGTERM/SIGINT. Run as many as you like."""
    config = settings(database_url=db, log_format=log_format, log_level=log_level)
    _serve(app, db, config, scheduler=True)


def worker(
    concurrency: Concurrency = 10,
    queues: Queues = None,
    db: DbOption = None,
    app: AppOption = None,
    log_format: LogFormat = "text",
    log_level: LogLevel = "INFO",
) -> None:
    """Run a worker: execute queued runs until SIGTERM/SIGINT, then finish or release them."""
    config = settings(database_url=db, log_format=log_format, log_level=log_level)
    _serve(app, db, config, worker=(concurrency, queues))


def web(
    host: Host = "127.0.0.1",
    port: Port = 8787,
    auth: Auth = None,
    db: DbOption = None,
    app: AppOption = None,
    log_format: LogFormat = "text",
    log_level: LogLevel = "INFO",
) -> None:
    """Serve the web UI, the REST API, /metrics and health endpoints."""
    config = settings(
        database_url=db, host=host, port=port, auth=auth, log_format=log_format, log_level=log_level
    )
    _serve(app, db, config, web=True)


def run(
    db: DbOption = None,
    app: AppOption = None,
    host: Host = "127.0.0.1",
    port: Port = 8787,
    concurrency: Concurrency = 10,
    queues: Queues = None,
    auth: Auth = None,
    log_format: LogFormat = "text",
    log_level: LogLevel = "INFO",
) -> None:
    """Run everything in one process: migrations (SQLite), scheduler, worker and web server."""
    config = settings(
        database_url=db, host=host, port=port, auth=auth, log_format=log_format, log_level=log_level
    )
    _serve(
        app,
        db,
        config,
        scheduler=True,
        worker=(concurrency, queues),
        web=True,
        migrate_sqlite=True,
    )


def health(
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not require a worker heartbeat")
    ] = False,
    stale_after: Annotated[
        float,
        typer.Option("--stale-after", help="Heartbeats older than this many seconds are stale"),
    ] = 30.0,
    as_json: JsonOption = False,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Exit 0 when healthy, 1 when not; print the reasons either way."""
    from tickwork.services.health import check_health

    tickwork = load_app(app, db)
    report = check_health(tickwork.db, require_worker=not no_worker, stale_after=stale_after)
    if as_json:
        print_json(report.to_json())
    else:
        for check in report.checks:
            mark = ("ok  ", "green") if check.ok else ("FAIL", "red")
            console.print(styled(mark, f" {check.name}: {check.detail}"), highlight=False)
        console.print("healthy" if report.ok else styled(("unhealthy", "red")))
    raise typer.Exit(0 if report.ok else 1)


def prune(
    days: Annotated[
        float,
        typer.Option(
            envvar="TICKWORK_RETENTION_DAYS",
            help="Keep finished runs this many days, at least 1 [env: TICKWORK_RETENTION_DAYS]",
            min=MIN_DAYS,
            max=MAX_DAYS,
        ),
    ] = 30,
    db: DbOption = None,
    app: AppOption = None,
) -> None:
    """Delete finished runs older than --days."""
    from tickwork.builtin_tasks.prune import prune as prune_history

    result = prune_history(load_app(app, db), days)
    console.print(
        f"deleted {result['runs']} runs, {result['nodes']} stale node rows and "
        f"{result['alerts']} resolved alerts",
        highlight=False,
    )


def register(cli: typer.Typer) -> None:
    """Add these commands to the root command."""
    for command in (run, scheduler, worker, web, migrate, health, prune):
        cli.command(command.__name__)(command)
