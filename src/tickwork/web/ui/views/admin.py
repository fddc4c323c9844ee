"""Context functions of the admin pages: users and API tokens (``app.users``, ``app.tokens``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tickwork.auth.models import ApiToken, User
from tickwork.domain.actor import Role
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer

LIST_LIMIT = 500
EXPIRY_CHOICES = {
    "": "Never",
    "1d": "1 day",
    "7d": "7 days",
    "30d": "30 days",
    "90d": "90 days",
    "365d": "1 year",
}
# What a new token's expiry offers first: a token nobody remembers should not live forever.
DEFAULT_TOKEN_EXPIRY = "90d"


@dataclass(frozen=True, slots=True)
class RowError:
    """Why a change of one user was refused, shown next to their row."""

    message: str
    # Whether it was the role (the role select is then marked invalid) or, say, disabling.
    on_role: bool


def users_context(
    ui: UiDependencies,
    viewer: Viewer,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    created: tuple[User, str | None] | None = None,
    reset: tuple[User, str] | None = None,
    row_errors: Mapping[int, RowError] | None = None,
) -> dict[str, Any]:
    """The users page: the list (with a refused change's message next to its user), and the
    create form (with errors after a refused save)."""
    users = ui.app.users.list_users(viewer.actor, limit=LIST_LIMIT)
    return {
        "users": users,
        "row_errors": dict(row_errors or {}),
        "roles": [r.value for r in Role],
        "values": dict(values or {"role": Role.VIEWER.value}),
        "errors": dict(errors or {}),
        "created": created,
        "reset": reset,
        "auth_mode": ui.settings.auth,
        "view": viewer,
        "title": "Users",
        "nav_key": "users",
        "notice": None,
    }


def tokens_context(
    ui: UiDependencies,
    viewer: Viewer,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    created: tuple[ApiToken, str] | None = None,
) -> dict[str, Any]:
    """The tokens page: the list, the create form, and a new token's secret (shown once)."""
    actor = viewer.actor
    tokens = ui.app.tokens.list_tokens(actor, limit=LIST_LIMIT)
    users = ui.app.users.list_users(actor, limit=LIST_LIMIT)
    return {
        "tokens": sorted(tokens, key=lambda t: (t.revoked_at is not None, -t.id)),
        "users": {u.id: u for u in users},
        "user_choices": [u for u in users if not u.disabled],
        "roles": [r.value for r in Role],
        "expiries": EXPIRY_CHOICES,
        "values": dict(values or {"role": Role.VIEWER.value, "expires_in": DEFAULT_TOKEN_EXPIRY}),
        "errors": dict(errors or {}),
        "created": created,
        "view": viewer,
        "title": "API tokens",
        "nav_key": "tokens",
        "notice": None,
    }
