"""Users: accounts, logins, password changes, the sessions they open, and the key that
signs those sessions; validated and audited.

The REST API, the web UI and the CLI all go through :class:`UserService` (``app.users``),
so every change to users, and every login, lands in the audit log the same way.
"""

from __future__ import annotations

import builtins
import logging
import secrets
import threading
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.auth.common import (
    MAX_NAME_LENGTH,
    AccountAudit,
    CredentialCache,
    bound_tenant,
    parse_role,
    parse_tenant,
    require_admin,
    user_json,
)
from tickwork.auth.models import User
from tickwork.auth.passwords import Passwords, check_password, generate_password
from tickwork.auth.principal import Principal
from tickwork.auth.throttle import LoginThrottle
from tickwork.domain import inputs
from tickwork.domain.actor import SYSTEM, Actor, Role
from tickwork.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from tickwork.storage.auth_store import AuthStore
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.auth")

INITIAL_ADMIN = "admin"
SESSION_KEY_NAME = "session_key"

_UNSET: Any = object()


class UserService:
    """``app.users``: manages users, checks logins, and keeps the session key."""

    def __init__(
        self,
        db: Database,
        *,
        cache: CredentialCache,
        passwords: Passwords | None = None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.db = db
        self.cache = cache
        self.store = AuthStore(db.dialect)
        self.passwords = passwords or Passwords()
        self.throttle = throttle or LoginThrottle(db)
        self._audit = AccountAudit()
        self._secret_key: str | None = None
        self._lock = threading.Lock()

    def _check_not_last_admin(
        self, conn: Connection, user: User, role: Role, disabled: bool
    ) -> None:
        """Refuse to demote or disable the last enabled admin not bound to a tenant."""
        if not user.is_unbound_admin or user.disabled:
            return
        if role is Role.ADMIN and not disabled:
            return
        if not self.store.count_other_admins(conn, user.id):
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
        require_admin(actor)
        name = inputs.text(username, "username", max_length=MAX_NAME_LENGTH)
        chosen_role = parse_role(role)
        tenant = bound_tenant(actor, parse_tenant(tenant_id))
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
            self._audit.record(
                conn,
                actor,
                "user.create",
                "user",
                user.id,
                tenant,
                None,
                user_json(user),
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
            self._audit.record(
                conn, SYSTEM, "user.create", "user", user.id, None, None, user_json(user), now
            )
        log.info("created the initial admin user %r", username)
        return password

    def get_user(self, actor: Actor, user_id: int) -> User:
        """A user by id (a tenant-bound admin sees only its tenant's users)."""
        require_admin(actor)
        with self.db.read() as conn:
            return self.store.get_user(conn, user_id, restrict_tenant=actor.tenant_id)

    def find_user(self, actor: Actor, ref: int | str) -> User:
        """A user by id or username."""
        require_admin(actor)
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
                user = self.store.find_user(conn, str(ref), restrict_tenant=actor.tenant_id)
        if user is None:
            raise NotFoundError(f"user {inputs.echo(ref)} not found", field="username")
        return user

    def list_users(
        self, actor: Actor, *, after_id: int | None = None, limit: int = 100
    ) -> builtins.list[User]:
        """Users in id order (a tenant-bound admin sees only its tenant's)."""
        require_admin(actor)
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
        require_admin(actor)
        values: dict[str, Any] = {}
        if role is not _UNSET:
            values["role"] = parse_role(role).value
        if tenant_id is not _UNSET:
            values["tenant_id"] = bound_tenant(actor, parse_tenant(tenant_id))
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
            after_json: dict[str, Any] = user_json(after)
            if "password_hash" in values:
                after_json["password"] = "changed"
            self._audit.record(
                conn,
                actor,
                action,
                "user",
                user_id,
                after.tenant_id,
                user_json(before),
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
        :class:`~tickwork.auth.throttle.TooManyAttemptsError` when this name and address
        (or this address) must wait: the attempt is reserved before the password is checked.
        """
        name = inputs.text(username, "username", max_length=MAX_NAME_LENGTH)
        if not isinstance(password, str) or not password:
            raise InvalidInputError("must not be empty", field="password")
        self.throttle.reserve(name, address)
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
                self._audit.record(
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
                self._audit.record(
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
            raise AuthenticationError("invalid username or password", field="password")
        self.throttle.succeeded(name, address)
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
        self.throttle.reserve(user.username, address)
        if not isinstance(current_password, str) or not self.passwords.verify(
            user.password_hash, current_password
        ):
            raise AuthenticationError("the current password is wrong", field="current_password")
        self.throttle.succeeded(user.username, address)
        password_hash = self.passwords.hash(check_password(new_password, "new_password"))
        actor = Actor(name=user.username, source=source, role=user.role, tenant_id=user.tenant_id)
        with self.db.write() as conn:
            now = self.db.now()
            after = self.store.update_user(conn, user_id, {"password_hash": password_hash})
            self.cache.clear()
            self._audit.record(
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
            self._audit.record(
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
