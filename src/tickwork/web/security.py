"""Who is calling, and may they: FastAPI dependencies for the API and the UI's pages.

Modes (``TICKWORK_AUTH``):

- ``local``: browsers log in with a username and password and get a signed session
  cookie; scripts send an API token as ``Authorization: Bearer <token>``.
- ``proxy``: an SSO proxy at a trusted address (``TICKWORK_TRUSTED_PROXIES``) names the
  user in a header (``TICKWORK_PROXY_HEADER``); role and tenant headers are read only when
  configured (``TICKWORK_PROXY_ROLE_HEADER``, ``TICKWORK_PROXY_TENANT_HEADER``), and the
  proxy must strip client-sent copies of every one of them. API tokens work too.
- ``none``: everyone is an anonymous admin; only allowed when bound to loopback, and
  requests naming any other host are refused (DNS rebinding; see
  :mod:`tickwork.web.loopback`).

Unsafe requests (POST, PUT, PATCH, DELETE) from a browser must prove they come from this
site. Authenticated by the session cookie, they carry the session's CSRF token, as the
``X-CSRF-Token`` header or a ``csrf_token`` form field (the token is also in the readable
``tickwork_csrf`` cookie for scripts in the page). A proxy user or the anonymous admin has
no cookie, but its browser sends the proxy's credentials or reaches loopback with any
site's form: it carries the CSRF token its pages hold, or the browser's ``Sec-Fetch-Site``
or ``Origin`` header must say the request comes from this site. Bearer tokens cannot be
sent by another site, so API clients using them need none.

Example::

    @router.post("/things")
    def make(principal: Admin) -> ...:
        service.create(actor=principal.actor("api"))

    @ui.get("/page")
    def page(principal: PageViewer) -> ...: ...
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tickwork.auth.models import User
from tickwork.auth.principal import ANONYMOUS_ADMIN, Principal, PrincipalKind
from tickwork.auth.sessions import (
    CSRF_COOKIE,
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Session,
    SessionCodec,
    csrf_matches,
)
from tickwork.auth.token_service import TokenService
from tickwork.auth.user_service import UserService
from tickwork.domain import inputs
from tickwork.domain.actor import Role
from tickwork.domain.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    TickworkError,
)
from tickwork.settings import Settings
from tickwork.web.state import web_state

log = logging.getLogger("tickwork.web.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Principals without a session cookie whose CSRF token derives from who they are.
CSRF_DERIVED_KINDS = frozenset({PrincipalKind.PROXY, PrincipalKind.ANONYMOUS})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_STATE_KEY = "tickwork_principal"

# Shown in the OpenAPI document (Swagger's "Authorize" button); parsing is ours.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token: tw_...")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session cookie set by login"
)


class CsrfError(PermissionDeniedError):
    """Missing or wrong CSRF token: send the session's token as X-CSRF-Token."""

    code = "csrf_failed"


class LoginRequired(Exception):
    """A page needs a login; the handler redirects to ``/login?next=...``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the server reachable from this machine only."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth_settings(settings: Settings) -> None:
    """Refuse settings that would expose the server: ``none`` on a non-loopback address."""
    if settings.auth == "none" and not is_loopback(settings.host):
        raise InvalidInputError(
            f"--auth none is only allowed on a loopback address (127.0.0.1, ::1), "
            f"not {settings.host!r}: anyone who can reach it would be an admin",
            field="auth",
        )


def _networks(settings: Settings) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in settings.trusted_proxies:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise InvalidInputError(
                f"{entry!r} in TICKWORK_TRUSTED_PROXIES is not an IP address or network",
                field="trusted_proxies",
            ) from exc
    return networks


class Authenticator:
    """Turns a request's credentials into a :class:`Principal` (or ``None``)."""

    def __init__(self, settings: Settings, users: UserService, tokens: TokenService) -> None:
        check_auth_settings(settings)
        self.settings = settings
        self.mode = settings.auth
        self.users = users
        self.tokens = tokens
        self.networks = _networks(settings)
        self._codec: SessionCodec | None = None
        self._lock = threading.Lock()

    @property
    def codec(self) -> SessionCodec:
        """The session cookie codec (its key may come from the database, so it is lazy)."""
        if self._codec is None:
            with self._lock:
                if self._codec is None:
                    self._codec = SessionCodec(self.users.secret_key(self.settings.secret_key))
        return self._codec

    def authenticate(self, request: Request) -> Principal | None:
        """The caller, ``None`` when no credentials came, or :class:`AuthenticationError`
        when credentials came and are wrong."""
        if self.mode == "none":
            return ANONYMOUS_ADMIN
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credentials = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise AuthenticationError("send an API token as 'Authorization: Bearer <token>'")
            return self.tokens.authenticate_token(credentials.strip())
        if self.mode == "proxy":
            return self._from_proxy(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        return self._from_session(cookie)

    def with_csrf_token(self, principal: Principal) -> Principal:
        """``principal`` carrying its CSRF token: a proxy user's and the anonymous admin's
        derive from who they are (sessions carry their own)."""
        if principal.csrf_token is not None or principal.kind not in CSRF_DERIVED_KINDS:
            return principal
        identity = "\x00".join(
            (principal.kind.value, principal.name, principal.role.value, principal.tenant_id or "")
        )
        return dataclasses.replace(principal, csrf_token=self.codec.principal_csrf_token(identity))

    @property
    def has_codec(self) -> bool:
        """Whether the signing key is loaded (deriving tokens then needs no database)."""
        return self._codec is not None

    def authenticate_quickly(self, request: Request) -> Principal | None:
        """The caller when that needs no database access (credentials checked moments ago,
        proxy headers, ``--auth none``); ``None`` means "ask :meth:`authenticate`"."""
        if self.mode == "none":
            return ANONYMOUS_ADMIN
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credentials = header.strip().partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return self.tokens.cached_token(credentials.strip())
            return None
        if self.mode == "proxy":
            return self._from_proxy(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or self._codec is None:
            return None
        session = self._codec.loads(cookie)
        if session is None:
            return None
        return self._session_principal(session, self.users.cached_session_user(session.user_id))

    def _session_principal(self, session: Session, user: User | None) -> Principal | None:
        if user is None or not self.codec.matches(session, user.password_hash):
            return None
        return Principal(
            name=user.username,
            role=user.role,
            kind=PrincipalKind.USER,
            tenant_id=user.tenant_id,
            user_id=user.id,
            csrf_token=session.csrf_token,
        )

    def _from_session(self, cookie: str) -> Principal | None:
        session = self.codec.loads(cookie)
        if session is None:
            return None
        return self._session_principal(session, self.users.session_user(session.user_id))

    def _trusted(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def _from_proxy(self, request: Request) -> Principal | None:
        settings = self.settings
        name = request.headers.get(settings.proxy_header)
        if name is None:
            return None
        address = request.client.host if request.client else None
        if not self._trusted(address):
            log.warning(
                "ignoring %s from %s: not a trusted proxy address", settings.proxy_header, address
            )
            return None
        name = inputs.text(name, settings.proxy_header, max_length=200)
        role = Role(settings.proxy_default_role)
        # Role and tenant come from headers only when configured: a proxy that sets just
        # the user header would otherwise pass a client's own X-Forwarded-Role through.
        role_header = settings.proxy_role_header
        role_value = None if role_header is None else request.headers.get(role_header)
        if role_header is not None and role_value is not None and role_value.strip():
            try:
                role = Role(role_value.strip().lower())
            except ValueError:
                raise AuthenticationError(
                    f"{role_header}: {role_value!r} is not one of viewer, operator, admin",
                    field=role_header,
                ) from None
        tenant_header = settings.proxy_tenant_header
        tenant_value = None if tenant_header is None else request.headers.get(tenant_header)
        tenant = None
        if tenant_header is not None and tenant_value is not None and tenant_value.strip():
            tenant = inputs.text(tenant_value, tenant_header, max_length=100)
        return Principal(name=name, role=role, kind=PrincipalKind.PROXY, tenant_id=tenant)


# -- sessions --------------------------------------------------------------------------


def start_session(request: Request, response: Response, user: User) -> Session:
    """Log ``user`` in: set the session cookie and the readable CSRF cookie on ``response``."""
    codec = web_state(request).authenticator.codec
    session = codec.issue(user.id, user.password_hash, time.time())
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        codec.dumps(session),
        max_age=codec.max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        session.csrf_token,
        max_age=codec.max_age,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )
    request.state.tickwork_principal = None
    return session


def end_session(response: Response) -> None:
    """Log out: remove both cookies."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from this site, or sent no word on it
    (form logins use it; see :func:`cross_origin`)."""
    return cross_origin(request) is None


# -- dependencies ----------------------------------------------------------------------


async def resolve_principal(request: Request) -> Principal | None:
    """The caller, or ``None`` when unauthenticated (computed once per request)."""
    if hasattr(request.state, _STATE_KEY) and request.state.tickwork_principal is not None:
        principal: Principal | None = request.state.tickwork_principal
        return principal
    authenticator = web_state(request).authenticator
    principal = authenticator.authenticate_quickly(request)
    if principal is None:
        principal = await run_in_threadpool(authenticator.authenticate, request)
    if principal is not None and principal.kind in CSRF_DERIVED_KINDS:
        if authenticator.has_codec:
            principal = authenticator.with_csrf_token(principal)
        else:
            principal = await run_in_threadpool(authenticator.with_csrf_token, principal)
    request.state.tickwork_principal = principal
    return principal


def cross_origin(request: Request) -> str | None:
    """Why the browser says this request comes from another site, or ``None``.

    The browser's own word first: ``Sec-Fetch-Site`` (every current browser sends it) must
    be ``same-origin`` (or ``none``, a request the user made directly). Without it, an
    ``Origin`` header must name this host. A request with neither comes from a program, or
    from a browser too old to send either on a cross-site form (the rule of Go's
    ``http.CrossOriginProtection``).
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() in ("same-origin", "none"):
            return None
        return f"Sec-Fetch-Site {site[:40]!r}"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    host = (request.headers.get("host") or "").lower()
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:  # not a URL at all ("http://[::1")
        netloc = ""
    if origin != "null" and host and netloc == host:
        return None
    return f"Origin {origin[:200]!r}"


async def _sent_csrf_token(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            value = form.get(CSRF_FORM_FIELD)
            given = value if isinstance(value, str) else None
    return given


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse an unsafe request a browser may have sent from another site.

    A session (cookie) needs its CSRF token. A proxy user or the anonymous admin needs its
    CSRF token or a browser saying the request is same-origin (:func:`cross_origin`). A
    bearer token needs nothing: no other site can make a browser send it.
    """
    if request.method in SAFE_METHODS or principal.kind is PrincipalKind.TOKEN:
        return
    given = await _sent_csrf_token(request)
    if csrf_matches(principal.csrf_token, given):
        return
    if principal.is_session:
        raise CsrfError(
            f"missing or wrong CSRF token: send the {CSRF_COOKIE} cookie's value as the "
            f"{CSRF_HEADER} header or the {CSRF_FORM_FIELD} form field",
            field=CSRF_HEADER,
        )
    refused = cross_origin(request)
    if refused is not None:
        raise CsrfError(
            f"refused a cross-site request ({refused}): send the page's CSRF token as the "
            f"{CSRF_HEADER} header or the {CSRF_FORM_FIELD} form field",
            field=CSRF_HEADER,
        )


async def get_principal(
    request: Request,
    _bearer: Annotated[object, Security(bearer_scheme)] = None,
    _cookie: Annotated[object, Security(cookie_scheme)] = None,
) -> Principal:
    """The authenticated caller of an API route; 401 when there is none, 403 on CSRF."""
    principal = await resolve_principal(request)
    if principal is None:
        raise AuthenticationError(
            "authentication required: log in, or send 'Authorization: Bearer <token>'"
        )
    await check_csrf(request, principal)
    return principal


async def optional_principal(request: Request) -> Principal | None:
    """The caller if authenticated, else ``None`` (bad credentials count as none)."""
    try:
        return await resolve_principal(request)
    except TickworkError:
        return None


def require_role(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the caller if its role includes ``role`` (else 403)."""

    async def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.allows(role):
            raise PermissionDeniedError(
                f"this needs the {role.value} role; {principal.name!r} is {principal.role.value}"
            )
        return principal

    dependency.__name__ = f"require_{role.value}"
    return dependency


def return_path(request: Request) -> str:
    """Where to come back to after logging in: the page asked for; for htmx's requests (a
    list's poll, a fragment, an action's POST) the page that sent them, which htmx names in
    ``HX-Current-URL`` (a fragment is no page, and a POST's path answers no GET)."""
    path, query = request.url.path, request.url.query
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-current-url"):
        page = urlsplit(request.headers["hx-current-url"])
        path, query = page.path, page.query
    return path + (f"?{query}" if query else "")


async def get_page_principal(request: Request) -> Principal:
    """The caller of an HTML page; unauthenticated callers are sent to ``/login``."""
    principal = await optional_principal(request)
    if principal is None:
        raise LoginRequired(return_path(request))
    await check_csrf(request, principal)
    return principal


def require_page_role(role: Role) -> Callable[..., Awaitable[Principal]]:
    """Like :func:`require_role` for HTML pages (login redirect, then 403)."""

    async def dependency(
        principal: Annotated[Principal, Depends(get_page_principal)],
    ) -> Principal:
        if not principal.allows(role):
            raise PermissionDeniedError(
                f"this needs the {role.value} role; {principal.name!r} is {principal.role.value}"
            )
        return principal

    dependency.__name__ = f"require_page_{role.value}"
    return dependency


def login_url(next_url: str) -> str:
    """``/login`` with a ``next`` parameter that returns there after logging in."""
    return "/login?next=" + quote(safe_next(next_url), safe="/")


def safe_next(next_url: str | None) -> str:
    """``next_url`` if it is a path on this site, else ``/`` (no open redirects)."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    if "\\" in next_url or any(ord(ch) < 32 for ch in next_url):
        return "/"
    return next_url


Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
PageViewer = Annotated[Principal, Depends(require_page_role(Role.VIEWER))]
PageOperator = Annotated[Principal, Depends(require_page_role(Role.OPERATOR))]
PageAdmin = Annotated[Principal, Depends(require_page_role(Role.ADMIN))]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
