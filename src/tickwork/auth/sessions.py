"""Browser sessions: a signed cookie that names the user, plus its CSRF token.

The cookie is signed (itsdangerous, HMAC-SHA1 over the key derived from the secret key)
and time-stamped, so it cannot be forged and expires. It also carries a fingerprint of the
user's password hash, so changing a password ends every session of that user, and the
user row is read on every request, so disabling a user ends them at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "tickwork_session"
CSRF_COOKIE = "tickwork_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
DEFAULT_SESSION_MAX_AGE = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    """What a session cookie says."""

    user_id: int
    password_fingerprint: str
    csrf_token: str
    issued_at: float


class SessionCodec:
    """Signs and reads session cookies with the app's secret key."""

    def __init__(self, secret_key: str, *, max_age: int = DEFAULT_SESSION_MAX_AGE) -> None:
        self._secret = secret_key.encode()
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt="tickwork.session")

    def fingerprint(self, password_hash: str) -> str:
        """A keyed digest of the password hash (changes when the password does)."""
        digest = hmac.new(self._secret, password_hash.encode(), hashlib.sha256)
        return digest.hexdigest()[:24]

    def issue(self, user_id: int, password_hash: str, now: float) -> Session:
        """A new session for ``user_id`` with a fresh CSRF token."""
        return Session(user_id, self.fingerprint(password_hash), secrets.token_urlsafe(24), now)

    def dumps(self, session: Session) -> str:
        """The cookie value for ``session``."""
        return str(
            self._serializer.dumps(
                {
                    "u": session.user_id,
                    "p": session.password_fingerprint,
                    "c": session.csrf_token,
                    "t": session.issued_at,
                }
            )
        )

    def loads(self, value: str) -> Session | None:
        """The session in a cookie value, or ``None`` if it is forged, expired or malformed."""
        try:
            data: Any = self._serializer.loads(value, max_age=self.max_age)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict):
            return None
        user_id, fingerprint, csrf, issued = (
            data.get("u"),
            data.get("p"),
            data.get("c"),
            data.get("t"),
        )
        if not (
            isinstance(user_id, int)
            and isinstance(fingerprint, str)
            and isinstance(csrf, str)
            and isinstance(issued, int | float)
        ):
            return None
        return Session(user_id, fingerprint, csrf, float(issued))

    def principal_csrf_token(self, identity: str) -> str:
        """The CSRF token of a principal without a session cookie (a proxy user, the
        anonymous admin of ``--auth none``): a keyed digest of who it is, so the pages served
        to it can carry one and another site cannot compute it."""
        digest = hmac.new(self._secret, b"tickwork.csrf\x00" + identity.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def matches(self, session: Session, password_hash: str) -> bool:
        """Whether the session was issued for the user's current password."""
        return hmac.compare_digest(session.password_fingerprint, self.fingerprint(password_hash))


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one sent."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))
