"""API tokens: created, listed and revoked by admins, and checked on every API request;
validated and audited (``app.tokens``)."""

from __future__ import annotations

import builtins
import logging
from datetime import datetime, timedelta

from tickwork.auth.common import (
    MAX_NAME_LENGTH,
    AccountAudit,
    CredentialCache,
    bound_tenant,
    parse_role,
    parse_tenant,
    require_admin,
    token_json,
)
from tickwork.auth.models import ApiToken, User
from tickwork.auth.principal import Principal, PrincipalKind
from tickwork.auth.tokens import generate_token, looks_like_token, shown_prefix, token_hash
from tickwork.domain import inputs
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from tickwork.storage.auth_store import AuthStore
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.auth")

# ``last_used_at`` is written at most this often per token, so API calls stay reads.
TOKEN_TOUCH_EVERY = timedelta(seconds=60)


def _rights(
    actor: Actor, user: User | None, role: Role | str | None, tenant_id: str | None
) -> tuple[Role, str | None]:
    """The role and tenant of a new token: at most its user's rights, within its user's
    tenant and the actor's."""
    chosen = parse_role(role) if role is not None else (user.role if user else Role.VIEWER)
    if user is not None and not user.role.allows(chosen):
        raise InvalidInputError(
            f"a token cannot have more rights than its user ({user.role.value})", field="role"
        )
    tenant = parse_tenant(tenant_id)
    if user is not None and user.tenant_id is not None:
        if tenant not in (None, user.tenant_id):
            raise InvalidInputError(
                f"user {user.username!r} is bound to tenant {user.tenant_id!r}",
                field="tenant_id",
            )
        tenant = user.tenant_id
    return chosen, bound_tenant(actor, tenant)


def _expiry(
    now: datetime, expires_at: datetime | str | None, expires_in: float | str | None
) -> datetime | None:
    """When a new token stops working: at ``expires_at``, ``expires_in`` from ``now``, or
    never; a moment already past is refused."""
    expiry = None
    if expires_at is not None:
        expiry = inputs.moment(expires_at, "expires_at")
    elif expires_in is not None:
        seconds = inputs.duration(expires_in, "expires_in", minimum=1, maximum=3650 * 86400)
        expiry = now + timedelta(seconds=seconds)
    if expiry is not None and expiry <= now:
        raise InvalidInputError("must be in the future", field="expires_at")
    return expiry


class TokenService:
    """``app.tokens``: manages API tokens and tells the principal a token stands for."""

    def __init__(self, db: Database, *, cache: CredentialCache) -> None:
        self.db = db
        self.cache = cache
        self.store = AuthStore(db.dialect)
        self._audit = AccountAudit()

    def create_token(
        self,
        actor: Actor,
        name: str,
        *,
        role: Role | str | None = None,
        tenant_id: str | None = None,
        user_id: int | None = None,
        expires_at: datetime | str | None = None,
        expires_in: float | str | None = None,
    ) -> tuple[ApiToken, str]:
        """Create an API token; returns it and its secret, which is shown only this once.

        A token bound to a user acts with at most that user's role and tenant, and stops
        working when the user is disabled. ``expires_at`` (a moment) or ``expires_in`` (a
        duration such as ``"30d"``) ends it; without either it works until revoked.
        """
        require_admin(actor)
        label = inputs.text(name, "name", max_length=MAX_NAME_LENGTH)
        if expires_at is not None and expires_in is not None:
            raise InvalidInputError("give expires_at or expires_in, not both", field="expires_in")
        secret = generate_token()
        with self.db.write() as conn:
            now = self.db.now()
            user = None
            if user_id is not None:
                user = self.store.get_user(
                    conn,
                    inputs.integer(user_id, "user_id", minimum=1),
                    restrict_tenant=actor.tenant_id,
                )
                if user.disabled:
                    raise InvalidInputError(f"user {user.username!r} is disabled", field="user_id")
            chosen, tenant = _rights(actor, user, role, tenant_id)
            expiry = _expiry(now, expires_at, expires_in)
            token = self.store.insert_token(
                conn,
                {
                    "name": label,
                    "user_id": None if user is None else user.id,
                    "token_hash": token_hash(secret),
                    "prefix": shown_prefix(secret),
                    "role": chosen.value,
                    "tenant_id": tenant,
                    "created_at": now,
                    "created_by": actor.name,
                    "expires_at": expiry,
                },
            )
            after = token_json(token)
            self._audit.record(
                conn, actor, "token.create", "token", token.id, tenant, None, after, now
            )
        return token, secret

    def get_token(self, actor: Actor, token_id: int) -> ApiToken:
        """A token's record by id."""
        require_admin(actor)
        with self.db.read() as conn:
            return self.store.get_token(conn, token_id, restrict_tenant=actor.tenant_id)

    def find_token(self, actor: Actor, ref: int | str) -> ApiToken:
        """A token by id, or by name when exactly one token has it."""
        require_admin(actor)
        ident = inputs.record_id(ref)
        if ident is not None:
            return self.get_token(actor, ident)
        if not isinstance(ref, str) or len(ref) > MAX_NAME_LENGTH:
            raise NotFoundError(f"token {inputs.echo(ref)} not found", field="name")
        with self.db.read() as conn:
            found = self.store.find_tokens_by_name(conn, str(ref), restrict_tenant=actor.tenant_id)
        if not found:
            raise NotFoundError(f"token {inputs.echo(ref)} not found", field="name")
        if len(found) > 1:
            raise ConflictError(
                f"several tokens are called {ref!r}; give the id instead", field="name"
            )
        return found[0]

    def list_tokens(
        self,
        actor: Actor,
        *,
        user_id: int | None = None,
        include_revoked: bool = True,
        after_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[ApiToken]:
        """Token records in id order (never their secrets)."""
        require_admin(actor)
        with self.db.read() as conn:
            return self.store.list_tokens(
                conn,
                restrict_tenant=actor.tenant_id,
                user_id=user_id,
                include_revoked=include_revoked,
                after_id=after_id,
                limit=limit,
            )

    def revoke_token(self, actor: Actor, token_id: int) -> ApiToken:
        """Revoke a token: the next request that uses it is refused."""
        require_admin(actor)
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get_token(
                conn, token_id, restrict_tenant=actor.tenant_id, lock=True
            )
            after = self.store.revoke_token(conn, token_id, now)
            self.cache.clear()
            if before.revoked_at is None:
                self._audit.record(
                    conn,
                    actor,
                    "token.revoke",
                    "token",
                    token_id,
                    after.tenant_id,
                    token_json(before),
                    token_json(after),
                    now,
                )
        return after

    def cached_token(self, secret: str) -> Principal | None:
        """The principal of a token checked moments ago (no database access), or ``None``."""
        found = self.cache.get(("token", token_hash(secret)))
        if found is None:
            return None
        principal, expires_at = found
        if expires_at is not None and expires_at <= self.db.now():
            return None
        result: Principal = principal
        return result

    def authenticate_token(self, secret: str) -> Principal:
        """The principal an API token stands for, or :class:`AuthenticationError`."""
        invalid = AuthenticationError("invalid, expired or revoked API token")
        if not looks_like_token(secret):
            raise invalid
        cached = self.cached_token(secret)
        if cached is not None:
            return cached
        digest = token_hash(secret)
        with self.db.read() as conn:
            found = self.store.token_by_hash(conn, digest)
        now = self.db.now()
        if found is None:
            raise invalid
        token, user = found
        if not token.usable_at(now):
            raise invalid
        role, tenant, name = token.role, token.tenant_id, f"token:{token.name}"
        if token.user_id is not None:
            if user is None or user.disabled:
                raise invalid
            if not user.role.allows(role):
                role = user.role  # the user was demoted since: the token follows
            tenant = user.tenant_id if user.tenant_id is not None else tenant
            name = f"{user.username} (token {token.name})"
        if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_EVERY:
            try:
                with self.db.write() as conn:
                    self.store.touch_token(conn, token.id, now)
            except Exception as exc:  # bookkeeping must never fail the request
                log.warning("could not record use of token %s: %s", token.id, exc)
        principal = Principal(
            name=name[:MAX_NAME_LENGTH],
            role=role,
            kind=PrincipalKind.TOKEN,
            tenant_id=tenant,
            user_id=token.user_id,
            token_id=token.id,
        )
        self.cache.put(("token", digest), (principal, token.expires_at))
        return principal
