"""``tickwork users create|list|show|update|disable|enable|set-password`` and
``tickwork tokens create|list|revoke``: accounts and API tokens, from the command line.

Passwords and token secrets are printed once, when they are made, and never stored.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from tickwork.app import Tickwork
from tickwork.auth.models import ApiToken, User
from tickwork.cli.common import (
    AppOption,
    DbOption,
    JsonOption,
    console,
    load_app,
    print_json,
    print_table,
    when,
)
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.settings import Settings

CLI_ACTOR = Actor(name="cli", source="cli")

users_cli = typer.Typer(no_args_is_help=True)
tokens_cli = typer.Typer(no_args_is_help=True)

UserRef = Annotated[str, typer.Argument(help="User name or id")]
RoleOption = Annotated[str | None, typer.Option("--role", help="viewer, operator or admin")]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="Bind to this tenant: it sees only that tenant's data"),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (else one is generated and printed)",
    ),
]


@contextmanager
def _app(db: str | None, app_ref: str | None = None) -> Iterator[Tickwork]:
    """The app whose accounts a command changes: ``--app``'s (an app may name its database
    in code), as every other command finds it, or one on ``db``."""
    app = load_app(app_ref, db) if app_ref is not None else Tickwork(db or Settings().database_url)
    try:
        yield app
    finally:
        app.close()


def _read_password() -> str:
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInputError("no password on standard input", field="password")
    return value


def _user_row(u: User) -> tuple[object, ...]:
    return (
        u.id,
        u.username,
        u.role.value,
        u.tenant_id or "",
        "disabled" if u.disabled else "active",
        when(u.created_at),
        when(u.last_login_at),
    )


def _token_row(t: ApiToken, now_usable: bool) -> tuple[object, ...]:
    if t.revoked_at is not None:
        state = "revoked"
    elif not now_usable:
        state = "expired"
    else:
        state = "active"
    return (
        t.id,
        t.name,
        t.prefix + "…",
        t.role.value,
        t.tenant_id or "",
        t.user_id or "",
        state,
        when(t.expires_at),
        when(t.last_used_at),
    )


# -- users ---------------------------------------------------------------------------------


@users_cli.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="The new user's name")],
    role: RoleOption = "viewer",
    tenant: TenantOption = None,
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app_ref: AppOption = None,
) -> None:
    """Create a user. Without --password-stdin a password is generated and printed once."""
    password = _read_password() if password_stdin else None
    with _app(db, app_ref) as app:
        user, generated = app.users.create_user(
            CLI_ACTOR, username, role=role or "viewer", tenant_id=tenant, password=password
        )
    if as_json:
        print_json({"user": user.to_dict(), "password": generated})
        return
    console.print(
        f"created user {user.username!r} (#{user.id}, {user.role.value}"
        + (f", tenant {user.tenant_id}" if user.tenant_id else "")
        + ")",
        highlight=False,
    )
    if generated:
        console.print(f"password: {generated}", highlight=False)
        console.print("(shown only now: keep it somewhere safe)", style="dim")


@users_cli.command("list")
def list_users(as_json: JsonOption = False, db: DbOption = None, app_ref: AppOption = None) -> None:
    """List users."""
    with _app(db, app_ref) as app:
        found = app.users.list_users(CLI_ACTOR, limit=100_000)
    if as_json:
        print_json([u.to_dict() for u in found])
        return
    print_table(
        f"{len(found)} users",
        ["id", "username", "role", "tenant", "status", "created", "last login"],
        [_user_row(u) for u in found],
    )


@users_cli.command("show")
def show_user(
    ref: UserRef, as_json: JsonOption = False, db: DbOption = None, app_ref: AppOption = None
) -> None:
    """Show one user."""
    with _app(db, app_ref) as app:
        user = app.users.find_user(CLI_ACTOR, ref)
    if as_json:
        print_json(user.to_dict())
        return
    for key, value in user.to_dict().items():
        console.print(f"  {key:>14}: {'' if value is None else value}", highlight=False)


@users_cli.command("update")
def update_user(
    ref: UserRef,
    role: RoleOption = None,
    tenant: TenantOption = None,
    no_tenant: Annotated[bool, typer.Option("--no-tenant", help="Unbind from its tenant")] = False,
    db: DbOption = None,
    app_ref: AppOption = None,
) -> None:
    """Change a user's role or tenant."""
    changes: dict[str, object] = {}
    if role is not None:
        changes["role"] = role
    if tenant is not None and no_tenant:
        raise InvalidInputError("give --tenant or --no-tenant, not both", field="tenant")
    if tenant is not None:
        changes["tenant_id"] = tenant
    if no_tenant:
        changes["tenant_id"] = None
    if not changes:
        raise InvalidInputError("nothing to change: give --role, --tenant or --no-tenant")
    with _app(db, app_ref) as app:
        user = app.users.update_user(CLI_ACTOR, app.users.find_user(CLI_ACTOR, ref).id, **changes)  # type: ignore[arg-type]
    console.print(
        f"user {user.username!r} is now {user.role.value}"
        + (f" in tenant {user.tenant_id}" if user.tenant_id else ""),
        highlight=False,
    )


@users_cli.command("disable")
def disable_user(ref: UserRef, db: DbOption = None, app_ref: AppOption = None) -> None:
    """Disable a user: its sessions and API tokens stop working at once."""
    with _app(db, app_ref) as app:
        user = app.users.disable_user(CLI_ACTOR, app.users.find_user(CLI_ACTOR, ref).id)
    console.print(f"user {user.username!r} is disabled", highlight=False)


@users_cli.command("enable")
def enable_user(ref: UserRef, db: DbOption = None, app_ref: AppOption = None) -> None:
    """Enable a disabled user again."""
    with _app(db, app_ref) as app:
        user = app.users.enable_user(CLI_ACTOR, app.users.find_user(CLI_ACTOR, ref).id)
    console.print(f"user {user.username!r} is enabled", highlight=False)


@users_cli.command("set-password")
def set_password(
    ref: UserRef,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
    app_ref: AppOption = None,
) -> None:
    """Set a user's password (its sessions end). Without --password-stdin a password is
    generated and printed once."""
    password = _read_password() if password_stdin else None
    from tickwork.auth.passwords import generate_password

    generated = None if password is not None else generate_password()
    new_password = password if password is not None else str(generated)
    with _app(db, app_ref) as app:
        user = app.users.update_user(
            CLI_ACTOR, app.users.find_user(CLI_ACTOR, ref).id, password=new_password
        )
    console.print(f"password of {user.username!r} changed", highlight=False)
    if generated:
        console.print(f"password: {generated}", highlight=False)


# -- tokens --------------------------------------------------------------------------------


@tokens_cli.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="What the token is for, such as 'ci-deploy'")],
    role: RoleOption = None,
    tenant: TenantOption = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Bind to this user (name or id): at most its rights"),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="A duration such as 30d or 12h, or an ISO 8601 time"),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    app_ref: AppOption = None,
) -> None:
    """Create an API token and print its secret (only now). Send it as
    'Authorization: Bearer <secret>'. Without --role and --user it is a viewer token."""
    expires_at = expires_in = None
    if expires is not None:
        if expires[:1].isdigit() and ("-" in expires or "T" in expires):
            expires_at = expires
        else:
            expires_in = expires
    with _app(db, app_ref) as app:
        user_id = None if user is None else app.users.find_user(CLI_ACTOR, user).id
        token, secret = app.tokens.create_token(
            CLI_ACTOR,
            name,
            role=role,
            tenant_id=tenant,
            user_id=user_id,
            expires_at=expires_at,
            expires_in=expires_in,
        )
    if as_json:
        print_json({"token": token.to_dict(), "secret": secret})
        return
    console.print(
        f"created token {token.name!r} (#{token.id}, {token.role.value}"
        + (f", tenant {token.tenant_id}" if token.tenant_id else "")
        + (f", expires {when(token.expires_at)}" if token.expires_at else "")
        + ")",
        highlight=False,
    )
    console.print(secret, highlight=False, soft_wrap=True)
    console.print("(shown only now: keep it somewhere safe)", style="dim")


@tokens_cli.command("list")
def list_tokens(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked tokens")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    app_ref: AppOption = None,
) -> None:
    """List API tokens (never their secrets)."""
    with _app(db, app_ref) as app:
        found = app.tokens.list_tokens(CLI_ACTOR, include_revoked=include_revoked, limit=100_000)
        now = app.now()
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    print_table(
        f"{len(found)} tokens",
        ["id", "name", "prefix", "role", "tenant", "user", "status", "expires", "last used"],
        [_token_row(t, t.usable_at(now)) for t in found],
    )


@tokens_cli.command("revoke")
def revoke_token(
    ref: Annotated[str, typer.Argument(help="Token id, or its name if unique")],
    db: DbOption = None,
    app_ref: AppOption = None,
) -> None:
    """Revoke an API token: the next request that uses it is refused."""
    with _app(db, app_ref) as app:
        token = app.tokens.revoke_token(CLI_ACTOR, app.tokens.find_token(CLI_ACTOR, ref).id)
    console.print(f"token {token.name!r} (#{token.id}) is revoked", highlight=False)


def register(cli: typer.Typer) -> None:
    """Add the ``users`` and ``tokens`` groups to the root command."""
    cli.add_typer(users_cli, name="users", help="Create, list, change and disable users.")
    cli.add_typer(tokens_cli, name="tokens", help="Create, list and revoke API tokens.")
