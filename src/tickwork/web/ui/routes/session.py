"""Logging in and out with a local account (``--auth local``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.domain.errors import PermissionDeniedError, TickworkError
from tickwork.web.security import (
    PageViewer,
    end_session,
    optional_principal,
    safe_next,
    same_origin,
    start_session,
)
from tickwork.web.state import web_state
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import (
    blocking,
    form_lists,
    redirect,
    render,
    viewer_for,
)

router = APIRouter(include_in_schema=False)


def _login_page(
    request: Request, *, next_url: str, username: str = "", error: str | None = None, status: int
) -> Response:
    ui = dependencies(request)
    context = {
        "view": viewer_for(request, None, ui),
        "title": "Log in",
        "nav_key": "",
        "notice": "You are logged out." if request.query_params.get("notice") else None,
        "next_url": safe_next(next_url),
        "username": username,
        "error": error,
    }
    response = render("pages/login.html", context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    """The login form (only with local auth; others go straight in)."""
    next_url = safe_next(request.query_params.get("next"))
    if web_state(request).settings.auth != "local":
        return redirect(next_url)
    if await optional_principal(request) is not None:
        return redirect(next_url)
    return await blocking(_login_page, request, next_url=next_url, status=200)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the password, start a session and go where the user was heading."""
    state = web_state(request)
    if not same_origin(request):
        raise PermissionDeniedError("the login form was posted from another site")
    raw = await form_lists(request)
    username = (raw.get("username") or [""])[-1]
    password = (raw.get("password") or [""])[-1]
    next_url = safe_next((raw.get("next") or ["/"])[-1])
    address = request.client.host if request.client else None

    def work() -> Response:
        try:
            if not username.strip() or not password:
                raise PermissionDeniedError("enter your username and password")
            user = state.tickwork.users.login(username, password, address=address, source="ui")
        except TickworkError as exc:
            status = 401 if exc.status_code in (401, 403, 422) else exc.status_code
            return _login_page(
                request, next_url=next_url, username=username, error=exc.message, status=status
            )
        response = redirect(next_url)
        start_session(request, response, user)
        return response

    return await blocking(work)


@router.post("/logout")
async def logout(request: Request, principal: PageViewer) -> Response:
    """End the session (the form carries the CSRF token)."""
    state = web_state(request)
    if principal.is_session:
        await blocking(state.tickwork.users.record_logout, principal, source="ui")
    response = redirect("/login?notice=logged-out")
    end_session(response)
    return response
