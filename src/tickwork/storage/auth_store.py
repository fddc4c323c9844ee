"""Every query on ``users``, ``api_tokens`` and ``secrets``."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from tickwork.domain.accounts import ApiToken, User
from tickwork.domain.actor import Role
from tickwork.domain.errors import DuplicateNameError, NotFoundError
from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import api_tokens, secrets, users


def _user(row: sa.Row[Any]) -> User:
    data = dict(row._mapping)
    data["role"] = Role(data["role"])
    data["disabled"] = bool(data["disabled"])
    return User(**data)


def _token(row: sa.Row[Any]) -> ApiToken:
    data = dict(row._mapping)
    data.pop("token_hash", None)
    data["role"] = Role(data["role"])
    return ApiToken(**data)


class AuthStore:
    """Reads and writes users, API tokens and shared secrets.

    Every method takes the connection of the caller's transaction.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    # -- users -------------------------------------------------------------------------

    def insert_user(self, conn: Connection, values: dict[str, Any]) -> User:
        """Insert a user; a taken username raises :class:`DuplicateNameError`."""
        try:
            with conn.begin_nested():
                row = conn.execute(users.insert().values(**values).returning(users)).one()
        except IntegrityError as exc:
            raise DuplicateNameError(
                f"a user named {values.get('username')!r} already exists", field="username"
            ) from exc
        return _user(row)

    def get_user(
        self,
        conn: Connection,
        user_id: int,
        *,
        restrict_tenant: str | None = None,
        lock: bool = False,
    ) -> User:
        """The user with ``user_id``, or :class:`NotFoundError`."""
        query = sa.select(users).where(users.c.id == user_id)
        if restrict_tenant is not None:
            query = query.where(users.c.tenant_id == restrict_tenant)
        if lock:
            query = self.dialect.lock(query)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} not found", field="id")
        return _user(row)

    def find_user(self, conn: Connection, username: str) -> User | None:
        """The user called ``username``, if any."""
        row = conn.execute(sa.select(users).where(users.c.username == username)).one_or_none()
        return None if row is None else _user(row)

    def list_users(
        self,
        conn: Connection,
        *,
        restrict_tenant: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[User]:
        """Users in id order, keyset-paginated by ``after_id``."""
        query = sa.select(users).order_by(users.c.id).limit(limit)
        if restrict_tenant is not None:
            query = query.where(users.c.tenant_id == restrict_tenant)
        if after_id is not None:
            query = query.where(users.c.id > after_id)
        return [_user(r) for r in conn.execute(query)]

    def count_users(self, conn: Connection) -> int:
        """How many users exist (disabled ones included)."""
        return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def update_user(self, conn: Connection, user_id: int, values: dict[str, Any]) -> User:
        """Change a user's row and return it."""
        row = conn.execute(
            users.update().where(users.c.id == user_id).values(**values).returning(users)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"user {user_id} not found", field="id")
        return _user(row)

    # -- API tokens --------------------------------------------------------------------

    def insert_token(self, conn: Connection, values: dict[str, Any]) -> ApiToken:
        """Insert a token (its hash, never the secret)."""
        row = conn.execute(api_tokens.insert().values(**values).returning(api_tokens)).one()
        return _token(row)

    def get_token(
        self,
        conn: Connection,
        token_id: int,
        *,
        restrict_tenant: str | None = None,
        lock: bool = False,
    ) -> ApiToken:
        """The token with ``token_id``, or :class:`NotFoundError`."""
        query = sa.select(api_tokens).where(api_tokens.c.id == token_id)
        if restrict_tenant is not None:
            query = query.where(api_tokens.c.tenant_id == restrict_tenant)
        if lock:
            query = self.dialect.lock(query)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"token {token_id} not found", field="id")
        return _token(row)

    def find_tokens_by_name(self, conn: Connection, name: str) -> builtins.list[ApiToken]:
        """Tokens called ``name`` (names need not be unique)."""
        query = sa.select(api_tokens).where(api_tokens.c.name == name).order_by(api_tokens.c.id)
        return [_token(r) for r in conn.execute(query)]

    def token_by_hash(
        self, conn: Connection, token_hash: str
    ) -> tuple[ApiToken, User | None] | None:
        """The token whose secret hashes to ``token_hash``, with the user it belongs to."""
        query = sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
        row = conn.execute(query).one_or_none()
        if row is None:
            return None
        token = _token(row)
        user = None
        if token.user_id is not None:
            user_row = conn.execute(
                sa.select(users).where(users.c.id == token.user_id)
            ).one_or_none()
            user = None if user_row is None else _user(user_row)
        return token, user

    def list_tokens(
        self,
        conn: Connection,
        *,
        restrict_tenant: str | None = None,
        user_id: int | None = None,
        include_revoked: bool = True,
        after_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[ApiToken]:
        """Tokens in id order, keyset-paginated by ``after_id``."""
        c = api_tokens.c
        query = sa.select(api_tokens).order_by(c.id).limit(limit)
        if restrict_tenant is not None:
            query = query.where(c.tenant_id == restrict_tenant)
        if user_id is not None:
            query = query.where(c.user_id == user_id)
        if not include_revoked:
            query = query.where(c.revoked_at.is_(None))
        if after_id is not None:
            query = query.where(c.id > after_id)
        return [_token(r) for r in conn.execute(query)]

    def revoke_token(self, conn: Connection, token_id: int, now: datetime) -> ApiToken:
        """Mark a token revoked (once; a second revoke keeps the first time)."""
        row = conn.execute(
            api_tokens.update()
            .where(api_tokens.c.id == token_id)
            .values(revoked_at=sa.func.coalesce(api_tokens.c.revoked_at, now))
            .returning(api_tokens)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"token {token_id} not found", field="id")
        return _token(row)

    def touch_token(self, conn: Connection, token_id: int, now: datetime) -> None:
        """Record that a token was just used."""
        conn.execute(
            api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=now)
        )

    # -- shared secrets ----------------------------------------------------------------

    def secret(self, conn: Connection, name: str) -> str | None:
        """The shared secret called ``name``, if it exists."""
        value: str | None = conn.execute(
            sa.select(secrets.c.value).where(secrets.c.name == name)
        ).scalar_one_or_none()
        return value

    def create_secret(self, conn: Connection, name: str, value: str, now: datetime) -> str:
        """Store ``value`` under ``name`` unless another process got there first.

        Returns the value that is stored, whichever process wrote it.
        """
        statement = (
            self.dialect.insert(secrets)
            .values(name=name, value=value, created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        conn.execute(statement)
        stored = self.secret(conn, name)
        assert stored is not None
        return stored
