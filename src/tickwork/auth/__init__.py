"""Authentication and authorisation: users, API tokens, sessions, roles.

``tickwork.auth.user_service.UserService`` (``app.users``) manages users, logins and the
session key, ``tickwork.auth.token_service.TokenService`` (``app.tokens``) API tokens (import
them from there: the storage layer imports this package's models); ``Principal`` is who a
request comes from; ``SessionCodec`` signs browser session cookies.
"""

from tickwork.auth.models import ApiToken, User
from tickwork.auth.passwords import Passwords, generate_password
from tickwork.auth.principal import ANONYMOUS_ADMIN, Principal, PrincipalKind
from tickwork.auth.sessions import (
    CSRF_COOKIE,
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Session,
    SessionCodec,
)
from tickwork.auth.throttle import LoginThrottle, TooManyAttemptsError

__all__ = [
    "ANONYMOUS_ADMIN",
    "CSRF_COOKIE",
    "CSRF_FORM_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "ApiToken",
    "LoginThrottle",
    "Passwords",
    "Principal",
    "PrincipalKind",
    "Session",
    "SessionCodec",
    "TooManyAttemptsError",
    "User",
    "generate_password",
]
