"""The queues page: each queue's waiting and running runs, and whether it is paused."""

from __future__ import annotations

from typing import Any

from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer


def list_context(ui: UiDependencies, viewer: Viewer) -> dict[str, Any]:
    """The queues; only operators bound to no tenant may pause or resume them."""
    return {
        "queues": ui.app.queues.list(actor=viewer.actor),
        "view": viewer,
        "can_pause": viewer.can_operate and not viewer.tenant_bound,
    }
