"""An app factory for in-process CLI tests: ``--app tests.apps.cli_app:build``.

Every call builds a fresh app (the CLI points it at the test's database), and
:func:`close_all` closes them all afterwards.
"""

from __future__ import annotations

import pydantic

from tickwork import Context, Tickwork

_built: list[Tickwork] = []


class DigestConfig(pydantic.BaseModel):
    """The payload of ``digest``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    recipients: list[str]
    hours: int = pydantic.Field(default=24, ge=1, le=168)


def build() -> Tickwork:
    """A new app with the tasks ``noop`` and ``digest``."""
    app = Tickwork()

    @app.task("noop")
    def noop(ctx: Context) -> None:
        """Do nothing."""

    @app.task("digest", config=DigestConfig)
    def digest(ctx: Context, config: DigestConfig) -> None:
        """Never runs: the CLI tests only create schedules and runs."""

    _built.append(app)
    return app


def close_all() -> None:
    """Close every app built so far."""
    while _built:
        _built.pop().close()
