"""Fixtures for the UI tests: the web app in-process (pages through the ASGI test client, on
SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.apps.ui_app import register_ui_tasks
from tests.support.web import Ui, make_web
from tickwork import Tickwork


@pytest.fixture
def ui(app: Tickwork) -> Ui:
    """The UI of a fresh app with local auth (tasks from ``tests/apps/ui_app.py``)."""
    register_ui_tasks(app)
    return Ui(app, make_web(app))
