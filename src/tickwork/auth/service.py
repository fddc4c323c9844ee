"""Users, API tokens, logins and the shared session key: validated and audited.

The REST API, the web UI and the CLI all go through :class:`AuthService`, so every
change to users and tokens, and every login, lands in the audit log the same way.
"""

from __future__ import annotations

import builtins
import logging
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.auth.models import ApiToken, User
from tickwork.auth.passwords import Passwords, check_password, generate_password
from tickwork.auth.principal import Principal, PrincipalKind
from tickwork.auth.throttle import LoginThrottle
from tickwork.auth.tokens import generate_token, looks_like_token, shown_prefix, token_hash
from tickwork.domain import inputs
from tickwork.domain.actor import SYSTEM, Actor, Role
from tickwork.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.auth_store import AuthStore
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.auth")

INITIAL_ADMIN = "admin"
SESSION_KEY_NAME = "session_key"
# ``last_used_at`` is written at most this often per token, so API calls stay reads.
TOKEN_TOUCH_EVERY = timedelta(seconds=60)
MAX_NAME_LENGTH = 200

_UNSET: Any = object()
DEFAULT_CACHE_SECONDS = 1.0


class CredentialCache:
    """Credentials checked against the database in the last ``ttl`` seconds.

    A busy API client then costs one database read per token per ``ttl`` instead of one
    per request. Changes made through this process (revoking, disabling, demoting,
    changing a password) clear it at once; other processes notice within ``ttl``.
    """

    def __init__(self, ttl: float = DEFAULT_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[object, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: object) -> Any:
        """The value cached under ``key``, or ``None`` when absent or stale."""
        found = self._entries.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl:
            return None
        return found[1]

    def put(self, key: object, value: Any) -> None:
        """Remember ``value`` under ``key`` (a few thousand entries at most)."""
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic(), value)

    def clear(self) -> None:
        """Forget everything (after a change to users or tokens)."""
        with self._lock:
            self._entries.clear()


def _role(value: object, field: str = "role") -> Role:
    role: Role = inputs.choice(value, field, Role)
    return role


def _tenant(value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return inputs.text(value, "tenant_id", max_length=100)


class AuthService:
    """Manages users and API tokens, checks credentials, and keeps the session key."""

    def __init__(
        self,
        db: Database,
        *,
        passwords: Passwords | None = None,
        throttle: LoginThrottle | None = None,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
    ) -> None:
        self.db = db
        self.cache = CredentialCache(cache_seconds)
        self.store = AuthStore(db.dialect)
        self.audit = AuditStore()
        self.passwords = passwords or Passwords()
        self.throttle = throttle or LoginThrottle()
        self._secret_key: str | None = None
        self._lock = threading.Lock()

    # -- helpers -----------------------------------------------------------------------

    def _record(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: int | None,
        tenant_id: str | None,
        before: Any,
        after: Any,
        now: datetime,
    ) -> None:
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type=target_type,
            target_id=target_id,
            tenant_id=tenant_id,
            before=before,
            after=after,
        )

    @staticmethod
    def _require_admin(actor: Actor) -> None:
        if not actor.role.allows(Role.ADMIN):
            raise PermissionDeniedError("only admins may manage users and tokens")

    @staticmethod
    def _bound_tenant(actor: Actor, requested: str | None) -> str | None:
        if actor.tenant_id is None:
            return requested
        if requested not in (None, actor.tenant_id):
            raise PermissionDeniedError(
                f"you may only use tenant {actor.tenant_id!r}", field="tenant_id"
            )
        return actor.tenant_id

    @staticmethod
    def _user_json(user: User) -> dict[str, Any]:
        return {
            "username": user.username,
            "role": user.role.value,
            "tenant_id": user.tenant_id,
            "disabled": user.disabled,
        }

    @staticmethod
    def _token_json(token: ApiToken) -> dict[str, Any]:
        return {
            "name": token.name,
            "prefix": token.prefix,
            "role": token.role.value,
            "tenant_id": token.tenant_id,
            "user_id": token.user_id,
            "expires_at": None if token.expires_at is None else token.expires_at.isoformat(),
            "revoked_at": None if token.revoked_at is None else token.revoked_at.isoformat(),
        }

    def _check_not_last_admin(
        self, conn: Connection, user: User, role: Role, disabled: bool
    ) -> None:
        """Refuse to demote or disable the last enabled admin not bound to a tenant."""
        if not user.is_unbound_admin or user.disabled:
            return
        if role is Role.ADMIN and not disabled:
            return
        others = [
            u
            for u in self.store.list_users(conn, limit=100_000)
            if u.id != user.id and u.is_unbound_admin and not u.disabled
        ]
        if not others:
            raise ConflictError(
                f"{user.username!r} is the last admin; create another admin first",
                field="role" if role is not Role.ADMIN else "disabled",
            )

    # -- users -------------------------------------------------------------------------

    def create_user(
        self,
        actor: Actor,
        username: str,
        *,
        role: Role | str = Role.VIEWER,
        tenant_id: str | None = None,
        password: str | None = None,
    ) -> tuple[User, str | None]:
        """Create a user; without ``password`` one is generated and returned (shown once)."""
        self._require_admin(actor)
        name = inputs.text(username, "username", max_length=MAX_NAME_LENGTH)
        chosen_role = _role(role)
        tenant = self._bound_tenant(actor, _tenant(tenant_id))
        generated = None
        if password is None:
            generated = password = generate_password()
        password = check_password(password)
        password_hash = self.passwords.hash(password)
        with self.db.write() as conn:
            now = self.db.now()
            user = self.store.insert_user(
                conn,
                {
                    "username": name,
                    "password_hash": password_hash,
                    "role": chosen_role.value,
                    "tenant_id": tenant,
                    "disabled": False,
                    "created_at": now,
                    "created_by": actor.name,
                },
            )
            self._record(
                conn,
                actor,
                "user.create",
                "user",
                user.id,
                tenant,
                None,
                self._user_json(user),
                now,
            )
        return user, generated

    def ensure_initial_admin(self, username: str = INITIAL_ADMIN) -> str | None:
        """On a database without users, create an admin and return its generated password.

        Returns ``None`` when users exist already (or another process just created one).
        """
        with self.db.read() as conn:
            if self.store.count_users(conn) > 0:
                return None
        password = generate_password()
        password_hash = self.passwords.hash(password)
        with self.db.write() as conn:
            if self.store.count_users(conn) > 0:
                return None
            now = self.db.now()
            try:
                user = self.store.insert_user(
                    conn,
                    {
                        "username": username,
                        "password_hash": password_hash,
                        "role": Role.ADMIN.value,
                        "tenant_id": None,
                        "disabled": False,
                        "created_at": now,
                        "created_by": SYSTEM.name,
                    },
                )
            except ConflictError:
                return None
            self._record(
                conn, SYSTEM, "user.create", "user", user.id, None, None, self._user_json(user), now
            )
        log.info("created the initial admin user %r", username)
        return password

    def get_user(self, actor: Actor, user_id: int) -> User:
        """A user by id (a tenant-bound admin sees only its tenant's users)."""
        self._require_admin(actor)
        with self.db.read() as conn:
            return self.store.get_user(conn, user_id, restrict_tenant=actor.tenant_id)

    def find_user(self, actor: Actor, ref: int | str) -> User:
        """A user by id or username."""
        self._require_admin(actor)
        ident = inputs.record_id(ref)
        if ident is not None:
            with self.db.read() as conn:
                user: User | None = self.store.get_user(
                    conn, ident, restrict_tenant=actor.tenant_id
                )
        elif not isinstance(ref, str) or len(ref) > MAX_NAME_LENGTH:
            user = None
        else:
            with self.db.read() as conn:
                user = self.store.find_user(conn, ref)
            if (
                user is not None
                and actor.tenant_id is not None
                and user.tenant_id != actor.tenant_id
            ):
                user = None
        if user is None:
            raise NotFoundError(f"user {inputs.echo(ref)} not found", field="username")
        return user

    def list_users(
        self, actor: Actor, *, after_id: int | None = None, limit: int = 100
    ) -> builtins.list[User]:
        """Users in id order (a tenant-bound admin sees only its tenant's)."""
        self._require_admin(actor)
        with self.db.read() as conn:
            return self.store.list_users(
                conn, restrict_tenant=actor.tenant_id, after_id=after_id, limit=limit
            )

    def update_user(
        self,
        actor: Actor,
        user_id: int,
        *,
        role: Role | str = _UNSET,
        tenant_id: str | None = _UNSET,
        disabled: bool = _UNSET,
        password: str = _UNSET,
    ) -> User:
        """Change a user's role, tenant, disabled flag or password; audited as one change."""
        self._require_admin(actor)
        values: dict[str, Any] = {}
        if role is not _UNSET:
            values["role"] = _role(role).value
        if tenant_id is not _UNSET:
            values["tenant_id"] = self._bound_tenant(actor, _tenant(tenant_id))
        if disabled is not _UNSET:
            if not isinstance(disabled, bool):
                raise InvalidInputError("expected true or false", field="disabled")
            values["disabled"] = disabled
        if password is not _UNSET:
            values["password_hash"] = self.passwords.hash(check_password(password))
        if not values:
            raise InvalidInputError("nothing to change", field="role")
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get_user(conn, user_id, restrict_tenant=actor.tenant_id, lock=True)
            self._check_not_last_admin(
                conn,
                before,
                Role(values.get("role", before.role.value)),
                bool(values.get("disabled", before.disabled)),
            )
            after = self.store.update_user(conn, user_id, values)
            self.cache.clear()
            if set(values) == {"disabled"}:
                action = "user.disable" if after.disabled else "user.enable"
            elif set(values) == {"password_hash"}:
                action = "user.password"
            else:
                action = "user.update"
            after_json: dict[str, Any] = self._user_json(after)
            if "password_hash" in values:
                after_json["password"] = "changed"
            self._record(
                conn,
                actor,
                action,
                "user",
                user_id,
                after.tenant_id,
                self._user_json(before),
                after_json,
                now,
            )
        return after

    def disable_user(self, actor: Actor, user_id: int) -> User:
        """Disable a user: its sessions and its tokens stop working at once."""
        return self.update_user(actor, user_id, disabled=True)

    def enable_user(self, actor: Actor, user_id: int) -> User:
        """Enable a disabled user again."""
        return self.update_user(actor, user_id, disabled=False)

    # -- logging in --------------------------------------------------------------------

    def login(
        self, username: object, password: object, *, address: str | None = None, source: str = "api"
    ) -> User:
        """Check a username and password; audited either way.

        Raises :class:`AuthenticationError` for a wrong or unknown name, a wrong password or
        a disabled user (the same message for all, so names cannot be probed), and
        :class:`~tickwork.auth.throttle.TooManyAttemptsError` after too many failures.
        """
        name = inputs.text(username, "username", max_length=MAX_NAME_LENGTH)
        if not isinstance(password, str) or not password:
            raise InvalidInputError("must not be empty", field="password")
        self.throttle.check(name, address)
        with self.db.read() as conn:
            user = self.store.find_user(conn, name)
        matched = self.passwords.verify(None if user is None else user.password_hash, password)
        reason = None
        if user is None:
            reason = "unknown user"
        elif not matched:
            reason = "wrong password"
        elif user.disabled:
            reason = "user disabled"
        with self.db.write() as conn:
            now = self.db.now()
            if reason is not None:
                self._record(
                    conn,
                    Actor(name=name, source=source, role=Role.VIEWER),
                    "auth.login_failed",
                    "user",
                    None if user is None else user.id,
                    None if user is None else user.tenant_id,
                    None,
                    {"username": name, "reason": reason, "address": address},
                    now,
                )
            else:
                assert user is not None
                values: dict[str, Any] = {"last_login_at": now}
                if self.passwords.needs_rehash(user.password_hash):
                    values["password_hash"] = self.passwords.hash(password)
                user = self.store.update_user(conn, user.id, values)
                self._record(
                    conn,
                    Actor(name=user.username, source=source, role=user.role),
                    "auth.login",
                    "user",
                    user.id,
                    user.tenant_id,
                    None,
                    {"address": address},
                    now,
                )
        if reason is not None or user is None:
            self.throttle.failed(name, address)
            raise AuthenticationError("invalid username or password", field="password")
        self.throttle.succeeded(name)
        return user

    def change_password(
        self,
        user_id: int,
        current_password: object,
        new_password: object,
        *,
        address: str | None = None,
        source: str = "api",
    ) -> User:
        """A user changes its own password (the current one is checked; throttled like a
        login). Every session issued for the old password ends."""
        with self.db.read() as conn:
            user = self.store.get_user(conn, user_id)
        if user.disabled:
            raise AuthenticationError("this user is disabled")
        self.throttle.check(user.username, address)
        if not isinstance(current_password, str) or not self.passwords.verify(
            user.password_hash, current_password
        ):
            self.throttle.failed(user.username, address)
            raise AuthenticationError("the current password is wrong", field="current_password")
        password_hash = self.passwords.hash(check_password(new_password, "new_password"))
        actor = Actor(name=user.username, source=source, role=user.role, tenant_id=user.tenant_id)
        with self.db.write() as conn:
            now = self.db.now()
            after = self.store.update_user(conn, user_id, {"password_hash": password_hash})
            self.cache.clear()
            self._record(
                conn,
                actor,
                "user.password",
                "user",
                user_id,
                user.tenant_id,
                None,
                {"password": "changed"},
                now,
            )
        return after

    def record_logout(self, principal: Principal, *, source: str = "api") -> None:
        """Write the logout of a session user to the audit log."""
        with self.db.write() as conn:
            self._record(
                conn,
                principal.actor(source),
                "auth.logout",
                "user",
                principal.user_id,
                principal.tenant_id,
                None,
                None,
                self.db.now(),
            )

    def session_user(self, user_id: int) -> User | None:
        """The enabled user a session names, or ``None``."""
        cached = self.cached_session_user(user_id)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            try:
                user = self.store.get_user(conn, user_id)
            except NotFoundError:
                return None
        if user.disabled:
            return None
        self.cache.put(("user", user_id), user)
        return user

    def cached_session_user(self, user_id: int) -> User | None:
        """The user a session names if it was read moments ago (no database access)."""
        user: User | None = self.cache.get(("user", user_id))
        return user

    # -- API tokens --------------------------------------------------------------------

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
        self._require_admin(actor)
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
            chosen = _role(role) if role is not None else (user.role if user else Role.VIEWER)
            if user is not None and not user.role.allows(chosen):
                raise InvalidInputError(
                    f"a token cannot have more rights than its user ({user.role.value})",
                    field="role",
                )
            tenant = _tenant(tenant_id)
            if user is not None and user.tenant_id is not None:
                if tenant not in (None, user.tenant_id):
                    raise InvalidInputError(
                        f"user {user.username!r} is bound to tenant {user.tenant_id!r}",
                        field="tenant_id",
                    )
                tenant = user.tenant_id
            tenant = self._bound_tenant(actor, tenant)
            expiry = None
            if expires_at is not None:
                expiry = inputs.moment(expires_at, "expires_at")
            elif expires_in is not None:
                expiry = now + timedelta(
                    seconds=inputs.duration(
                        expires_in, "expires_in", minimum=1, maximum=3650 * 86400
                    )
                )
            if expiry is not None and expiry <= now:
                raise InvalidInputError("must be in the future", field="expires_at")
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
            self._record(
                conn,
                actor,
                "token.create",
                "token",
                token.id,
                tenant,
                None,
                self._token_json(token),
                now,
            )
        return token, secret

    def get_token(self, actor: Actor, token_id: int) -> ApiToken:
        """A token's record by id."""
        self._require_admin(actor)
        with self.db.read() as conn:
            return self.store.get_token(conn, token_id, restrict_tenant=actor.tenant_id)

    def find_token(self, actor: Actor, ref: int | str) -> ApiToken:
        """A token by id, or by name when exactly one token has it."""
        self._require_admin(actor)
        ident = inputs.record_id(ref)
        if ident is not None:
            return self.get_token(actor, ident)
        if not isinstance(ref, str) or len(ref) > MAX_NAME_LENGTH:
            raise NotFoundError(f"token {inputs.echo(ref)} not found", field="name")
        with self.db.read() as conn:
            found = [
                t
                for t in self.store.find_tokens_by_name(conn, ref)
                if actor.tenant_id is None or t.tenant_id == actor.tenant_id
            ]
        if not found:
            raise NotFoundError(f"token {inputs.echo(ref)} not found", field="name")
        if len(found) > 1:
            raise ConflictError(
                f"{len(found)} tokens are called {ref!r}; give the id instead", field="name"
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
        self._require_admin(actor)
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
        self._require_admin(actor)
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get_token(
                conn, token_id, restrict_tenant=actor.tenant_id, lock=True
            )
            after = self.store.revoke_token(conn, token_id, now)
            self.cache.clear()
            if before.revoked_at is None:
                self._record(
                    conn,
                    actor,
                    "token.revoke",
                    "token",
                    token_id,
                    after.tenant_id,
                    self._token_json(before),
                    self._token_json(after),
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

    # -- the session key ---------------------------------------------------------------

    def secret_key(self, configured: str | None = None) -> str:
        """``configured`` (``TICKWORK_SECRET_KEY``), else the key generated once and kept in
        the database, so every web process of a fleet signs sessions alike."""
        if configured:
            return configured
        with self._lock:
            if self._secret_key is None:
                with self.db.read() as conn:
                    stored = self.store.secret(conn, SESSION_KEY_NAME)
                if stored is None:
                    with self.db.write() as conn:
                        stored = self.store.create_secret(
                            conn, SESSION_KEY_NAME, secrets.token_urlsafe(48), self.db.now()
                        )
                self._secret_key = stored
            return self._secret_key
