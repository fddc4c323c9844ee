"""``/api/v1/users`` and ``/api/v1/tokens``: accounts and API tokens (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from tickwork.domain.errors import InvalidInputError
from tickwork.web.api.common import ERROR_RESPONSES, SOURCE, IdFilter, Limit, State, id_path, page
from tickwork.web.api.schemas import (
    TokenCreate,
    TokenCreated,
    TokenOut,
    TokenPage,
    UserCreate,
    UserCreated,
    UserOut,
    UserPage,
    UserUpdate,
)
from tickwork.web.security import Admin

router = APIRouter(responses=ERROR_RESPONSES)

UserId = Annotated[int, id_path("user")]
TokenId = Annotated[int, id_path("token")]


@router.get("/users", response_model=UserPage, tags=["users"], summary="List users")
def list_users(
    state: State, principal: Admin, after_id: IdFilter = None, limit: Limit = 50
) -> UserPage:
    """Users in id order (a tenant-bound admin sees its tenant's)."""
    found = state.tickwork.users.list_users(
        principal.actor(SOURCE), after_id=after_id, limit=limit + 1
    )
    items, next_id = page(found, limit)
    return UserPage(items=[UserOut.model_validate(u) for u in items], next_after_id=next_id)


@router.post(
    "/users",
    response_model=UserCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    summary="Create a user",
)
def create_user(state: State, principal: Admin, body: UserCreate) -> UserCreated:
    """Create a user; without ``password`` a password is generated and returned once."""
    user, generated = state.tickwork.users.create_user(
        principal.actor(SOURCE),
        body.username,
        role=body.role,
        tenant_id=body.tenant_id,
        password=body.password,
    )
    return UserCreated(user=UserOut.model_validate(user), password=generated)


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"], summary="Get a user")
def get_user(state: State, principal: Admin, user_id: UserId) -> UserOut:
    """One user."""
    return UserOut.model_validate(state.tickwork.users.get_user(principal.actor(SOURCE), user_id))


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"], summary="Change a user")
def update_user(state: State, principal: Admin, user_id: UserId, body: UserUpdate) -> UserOut:
    """Change a user's role, tenant, password, or disable it (its sessions and tokens stop
    working at once). The last admin cannot be demoted or disabled."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for key in ("role", "disabled", "password"):
        if key in changes and changes[key] is None:
            raise InvalidInputError("must not be null", field=key)
    if not changes:
        raise InvalidInputError("no field to change was given", field="body")
    user = state.tickwork.users.update_user(principal.actor(SOURCE), user_id, **changes)
    return UserOut.model_validate(user)


@router.get("/tokens", response_model=TokenPage, tags=["tokens"], summary="List API tokens")
def list_tokens(
    state: State,
    principal: Admin,
    user_id: IdFilter = None,
    include_revoked: Annotated[bool, Query()] = True,
    after_id: IdFilter = None,
    limit: Limit = 50,
) -> TokenPage:
    """Token records in id order (never their secrets)."""
    found = state.tickwork.tokens.list_tokens(
        principal.actor(SOURCE),
        user_id=user_id,
        include_revoked=include_revoked,
        after_id=after_id,
        limit=limit + 1,
    )
    items, next_id = page(found, limit)
    return TokenPage(items=[TokenOut.model_validate(t) for t in items], next_after_id=next_id)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["tokens"],
    summary="Create an API token",
)
def create_token(state: State, principal: Admin, body: TokenCreate) -> TokenCreated:
    """Create a token; its secret is in the response and never shown again."""
    token, secret = state.tickwork.tokens.create_token(
        principal.actor(SOURCE),
        body.name,
        role=body.role,
        tenant_id=body.tenant_id,
        user_id=body.user_id,
        expires_at=body.expires_at,
        expires_in=body.expires_in,
    )
    return TokenCreated(token=TokenOut.model_validate(token), secret=secret)


@router.get("/tokens/{token_id}", response_model=TokenOut, tags=["tokens"], summary="Get a token")
def get_token(state: State, principal: Admin, token_id: TokenId) -> TokenOut:
    """One token's record."""
    return TokenOut.model_validate(
        state.tickwork.tokens.get_token(principal.actor(SOURCE), token_id)
    )


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenOut,
    tags=["tokens"],
    summary="Revoke an API token",
)
def revoke_token(state: State, principal: Admin, token_id: TokenId) -> TokenOut:
    """Revoke a token: the next request using it is refused. Revoking twice is harmless."""
    return TokenOut.model_validate(
        state.tickwork.tokens.revoke_token(principal.actor(SOURCE), token_id)
    )
