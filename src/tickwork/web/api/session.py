"""``/api/v1/auth``: log in (JSON or an HTML form), log out, who am I, change my password."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from tickwork.auth.principal import Principal, PrincipalKind
from tickwork.auth.user_service import UserService
from tickwork.domain.errors import (
    InvalidInputError,
    PermissionDeniedError,
    TickworkError,
)
from tickwork.web.api.common import ERROR_RESPONSES, State
from tickwork.web.api.schemas import LoginRequest, PasswordChange, PrincipalOut, UserOut
from tickwork.web.security import (
    CsrfError,
    check_csrf,
    end_session,
    get_principal,
    optional_principal,
    safe_next,
    same_origin,
    start_session,
)

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class LoginOut(PrincipalOut):
    """The logged-in user; the session cookie is set on the response."""

    user: UserOut


def _principal_out(principal: Principal, mode: Any) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.role,
        "kind": principal.kind.value,
        "tenant_id": principal.tenant_id,
        "user_id": principal.user_id,
        "token_id": principal.token_id,
        "csrf_token": principal.csrf_token,
        "auth_mode": mode,
    }


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in FORM_TYPES


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _login(request: Request, users: UserService, username: Any, password: Any) -> Any:
    return await run_in_threadpool(
        users.login, username, password, address=_client(request), source="api"
    )


REDIRECTED: dict[int | str, dict[str, Any]] = {
    303: {"description": "An HTML form submission is redirected"}
}


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in",
    responses=REDIRECTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {
                            "username": {"type": "string", "minLength": 1, "maxLength": 200},
                            "password": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "next": {"type": "string", "maxLength": 2000},
                        },
                    }
                },
            },
        }
    },
)
async def login(request: Request, state: State) -> Response:
    """Check a username and password (``local`` auth) and start a browser session: a signed
    HttpOnly session cookie plus a readable ``tickwork_csrf`` cookie whose value must come
    back as ``X-CSRF-Token`` on unsafe requests.

    JSON bodies get JSON back. An HTML form (``username``, ``password``, ``next``) is
    redirected (303) to ``next`` on success, or back to ``/login?error=...`` on failure.
    """
    if state.settings.auth != "local":
        raise InvalidInputError(
            f"logging in with a password needs --auth local (this server uses "
            f"{state.settings.auth})",
            field="username",
        )
    if _is_form(request):
        return await _form_login(request, state)
    try:
        data = await request.json()
    except ValueError:
        raise InvalidInputError("the body is not valid JSON", field="body") from None
    try:
        body = LoginRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInputError(f"{field}: {first['msg']}", field=field) from None
    user = await _login(request, state.tickwork.users, body.username, body.password)
    cookies = Response()
    session = start_session(request, cookies, user)
    principal = Principal(
        name=user.username,
        role=user.role,
        kind=PrincipalKind.USER,
        tenant_id=user.tenant_id,
        user_id=user.id,
        csrf_token=session.csrf_token,
    )
    out = LoginOut(
        **_principal_out(principal, state.settings.auth), user=UserOut.model_validate(user)
    )
    response = JSONResponse(out.model_dump(mode="json"))
    for key, value in cookies.headers.items():
        if key == "set-cookie":
            response.headers.append(key, value)
    return response


async def _form_login(request: Request, state: State) -> Response:
    form = await request.form()
    next_url = safe_next(str(form.get("next") or "/"))
    if not same_origin(request):
        raise CsrfError("cross-site login refused", field="origin")
    try:
        user = await _login(
            request, state.tickwork.users, form.get("username"), form.get("password")
        )
    except TickworkError as exc:
        if exc.status_code >= 500:
            raise
        query = urlencode({"error": exc.message, "next": next_url})
        return RedirectResponse(f"/login?{query}", status_code=status.HTTP_303_SEE_OTHER)
    response = RedirectResponse(next_url, status_code=status.HTTP_303_SEE_OTHER)
    start_session(request, response, user)
    return response


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Log out",
    responses=REDIRECTED,
)
async def logout(
    request: Request,
    state: State,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Response:
    """End the browser session (clears both cookies). With a valid session the CSRF token
    is required, so another site cannot log you out. An HTML form is redirected to
    ``/login``."""
    if principal is not None and principal.is_session:
        await check_csrf(request, principal)
        await run_in_threadpool(state.tickwork.users.record_logout, principal, source="api")
    response: Response
    if _is_form(request):
        response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    else:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
    end_session(response)
    return response


@router.get("/me", response_model=PrincipalOut, summary="Who am I")
async def me(state: State, principal: Annotated[Principal, Depends(get_principal)]) -> PrincipalOut:
    """The caller's name, role, tenant and how it authenticated; for a cookie session, the
    CSRF token to send back as ``X-CSRF-Token``."""
    return PrincipalOut(**_principal_out(principal, state.settings.auth))


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Change my password",
)
async def change_password(
    request: Request,
    state: State,
    principal: Annotated[Principal, Depends(get_principal)],
    body: PasswordChange,
) -> Response:
    """Change the logged-in user's password. Every other session of the user ends; this
    one gets a fresh cookie."""
    if principal.user_id is None or not principal.is_session:
        raise PermissionDeniedError("only a logged-in user can change its password")
    user = await run_in_threadpool(
        state.tickwork.users.change_password,
        principal.user_id,
        body.current_password,
        body.new_password,
        address=_client(request),
        source="api",
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    start_session(request, response, user)
    return response
