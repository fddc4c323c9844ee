"""What the UI's routes and context functions use: the app and its settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from tickwork.web.state import web_state

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.domain.actor import Actor
    from tickwork.settings import Settings


@dataclass(slots=True)
class UiDependencies:
    """One per web app: built at mount time from the web layer's state."""

    app: Tickwork
    settings: Settings
    _code_hashes: dict[str, str | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def task_choices(self, actor: Actor) -> list[str]:
        """The task names filter lists offer: to a principal bound to a tenant, only the
        tasks its tenant uses; to others, every registered task and every task a schedule
        names."""
        in_use = self.app.reads.schedules.tasks_in_use(actor)
        if actor.tenant_id is not None:
            return in_use
        return sorted({t.name for t in self.app.registry} | set(in_use))

    def code_hash(self, name: str) -> str | None:
        """The fingerprint of the code-defined schedule ``name`` as the code now declares it.

        ``None`` when the code no longer declares it (or declares something invalid).
        """
        with self._lock:
            if self._code_hashes is None:
                self._code_hashes = self.app.code_sync.fingerprints(
                    self.app.code_schedules.values()
                )
            return self._code_hashes.get(name)


STATE_KEY = "tickwork_ui"


def dependencies(request: Request) -> UiDependencies:
    """The UI's dependencies for the app serving ``request`` (built on first use)."""
    found: UiDependencies | None = getattr(request.app.state, STATE_KEY, None)
    if found is None:
        state = web_state(request)
        found = UiDependencies(
            app=state.tickwork,
            settings=state.settings,
        )
        setattr(request.app.state, STATE_KEY, found)
    return found
