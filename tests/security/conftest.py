"""Fixtures of the security tests: the API and UI fixtures, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.api.conftest import api, schedule_body
from tests.ui.conftest import ui

__all__ = ["api", "schedule_body", "ui"]
