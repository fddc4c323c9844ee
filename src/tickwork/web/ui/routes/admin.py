"""Routes of the admin pages: users and API tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.auth.passwords import generate_password
from tickwork.domain.errors import TickworkError
from tickwork.web.security import PageAdmin
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import RecordId, blocking, form_lists, redirect, render
from tickwork.web.ui.routes.common import viewer_for as _viewer
from tickwork.web.ui.views import admin

router = APIRouter(include_in_schema=False)

USER_FIELDS = ("username", "password", "role", "tenant_id")
TOKEN_FIELDS = ("name", "role", "user_id", "tenant_id", "expires_in")


def _values(raw: dict[str, list[str]], names: tuple[str, ...]) -> dict[str, str]:
    return {name: (raw.get(name) or [""])[-1].strip() for name in names}


def _error_fields(exc: TickworkError, known: tuple[str, ...]) -> dict[str, str]:
    if exc.field in known:
        return {str(exc.field): exc.message}
    return {"form": exc.message}


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, principal: PageAdmin) -> Response:
    """Users: list, create, change role, disable."""
    ui = dependencies(request)
    viewer = _viewer(request, principal, ui)
    return render("pages/users.html", admin.users_context(ui, viewer))


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(request: Request, principal: PageAdmin) -> Response:
    """Create a user (a generated password is shown once)."""
    ui = dependencies(request)
    raw = await form_lists(request)
    values = _values(raw, USER_FIELDS)

    def work() -> Response:
        viewer = _viewer(request, principal, ui)
        try:
            created = ui.app.users.create_user(
                viewer.actor,
                values["username"],
                role=values["role"] or "viewer",
                tenant_id=values["tenant_id"] or None,
                password=values["password"] or None,
            )
        except TickworkError as exc:
            context = admin.users_context(
                ui,
                viewer,
                values={k: v for k, v in values.items() if k != "password"},
                errors=_error_fields(exc, USER_FIELDS),
            )
            return render("pages/users.html", context, status_code=exc.status_code)
        context = admin.users_context(ui, viewer, created=created)
        return render("pages/users.html", context)

    return await blocking(work)


async def _update_user(request: Request, principal: Any, user_id: int, **change: Any) -> Response:
    """Change a user, then back to the list; a refusal (such as demoting or disabling the
    last admin) is the users page with the message next to that user's row."""
    ui = dependencies(request)
    raw = await form_lists(request)
    if "role" in change:
        change["role"] = (raw.get("role") or [""])[-1]

    def work() -> Response:
        try:
            ui.app.users.update_user(principal.actor("ui"), user_id, **change)
        except TickworkError as exc:
            viewer = _viewer(request, principal, ui)
            refused = admin.RowError(exc.message, on_role=exc.field == "role")
            context = admin.users_context(ui, viewer, row_errors={user_id: refused})
            return render("pages/users.html", context, status_code=exc.status_code)
        return redirect("/admin/users")

    return await blocking(work)


@router.post("/admin/users/{user_id}/role")
async def set_role(request: Request, user_id: RecordId, principal: PageAdmin) -> Response:
    """Change a user's role."""
    return await _update_user(request, principal, user_id, role="")


@router.post("/admin/users/{user_id}/disable")
async def disable_user(request: Request, user_id: RecordId, principal: PageAdmin) -> Response:
    """Disable a user: sessions and tokens stop working at once."""
    return await _update_user(request, principal, user_id, disabled=True)


@router.post("/admin/users/{user_id}/enable")
async def enable_user(request: Request, user_id: RecordId, principal: PageAdmin) -> Response:
    """Enable a disabled user."""
    return await _update_user(request, principal, user_id, disabled=False)


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
async def reset_password(request: Request, user_id: RecordId, principal: PageAdmin) -> Response:
    """Give a user a new generated password, shown once; its sessions end."""
    ui = dependencies(request)

    def work() -> Response:
        viewer = _viewer(request, principal, ui)
        password = generate_password()
        user = ui.app.users.update_user(viewer.actor, user_id, password=password)
        context = admin.users_context(ui, viewer, reset=(user, password))
        response = render("pages/users.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response

    return await blocking(work)


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, principal: PageAdmin) -> Response:
    """API tokens: list, create, revoke."""
    ui = dependencies(request)
    viewer = _viewer(request, principal, ui)
    return render("pages/tokens.html", admin.tokens_context(ui, viewer))


@router.post("/admin/tokens", response_class=HTMLResponse)
async def create_token(request: Request, principal: PageAdmin) -> Response:
    """Create a token; its secret is shown on the page that answers, and never again."""
    ui = dependencies(request)
    raw = await form_lists(request)
    values = _values(raw, TOKEN_FIELDS)

    def work() -> Response:
        viewer = _viewer(request, principal, ui)
        try:
            created = ui.app.tokens.create_token(
                viewer.actor,
                values["name"],
                role=values["role"] or None,
                tenant_id=values["tenant_id"] or None,
                user_id=int(values["user_id"]) if values["user_id"].isdigit() else None,
                expires_in=values["expires_in"] or None,
            )
        except TickworkError as exc:
            context = admin.tokens_context(
                ui, viewer, values=values, errors=_error_fields(exc, TOKEN_FIELDS)
            )
            return render("pages/tokens.html", context, status_code=exc.status_code)
        response = render("pages/tokens.html", admin.tokens_context(ui, viewer, created=created))
        response.headers["Cache-Control"] = "no-store"
        return response

    return await blocking(work)


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: RecordId, principal: PageAdmin) -> Response:
    """Revoke a token."""
    ui = dependencies(request)

    def work() -> Response:
        ui.app.tokens.revoke_token(principal.actor("ui"), token_id)
        return redirect("/admin/tokens")

    return await blocking(work)
