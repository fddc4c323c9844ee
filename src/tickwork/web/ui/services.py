"""What the UI's routes and context functions use: the app, its settings, the read stores."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from tickwork.storage.timeline_store import TimelineStore
from tickwork.web.state import web_state

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.auth.service import AuthService
    from tickwork.settings import Settings


@dataclass(slots=True)
class UiServices:
    """One per web app: built at mount time from the web layer's state."""

    app: Tickwork
    settings: Settings
    auth: AuthService | None
    timeline: TimelineStore
    _code_hashes: dict[str, str | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

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


def services(request: Request) -> UiServices:
    """The UI services of the app serving ``request`` (built on first use)."""
    found: UiServices | None = getattr(request.app.state, STATE_KEY, None)
    if found is None:
        state = web_state(request)
        found = UiServices(
            app=state.tickwork,
            settings=state.settings,
            auth=state.auth,
            timeline=TimelineStore(state.tickwork.db.dialect),
        )
        setattr(request.app.state, STATE_KEY, found)
    return found
