"""Where ``http.request`` may connect: public addresses, plus what the operator allows.

A scheduled HTTP call must not become a way into the server's own network: by default a
target whose address is loopback, link-local (cloud metadata at 169.254.169.254), private,
shared (100.64.0.0/10), multicast, reserved or unspecified is refused. The check runs in
the connection path, on the addresses the name resolved to, and the connection is made to
the address that was checked, so a name that resolves differently a moment later (DNS
rebinding) cannot slip past it; every redirect opens its connection through the same path.

``TICKWORK_HTTP_ALLOW`` widens this with comma-separated entries, each an address, a network
(CIDR) or a host name (``*.example.com`` for its subdomains), optionally with ``:port``::

    TICKWORK_HTTP_ALLOW="127.0.0.1:8787,10.20.0.0/16,[::1]:9000,hooks.internal"

An allowed host name is trusted whatever it resolves to; an allowed address or network
permits exactly those addresses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from tickwork.domain.errors import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*")
MAX_ALLOW_ENTRIES = 1000


class TargetRefusedError(Exception):
    """The target's address is not one ``http.request`` may reach (see the module)."""


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached by default (``"a loopback address"``, ...), or
    ``None`` for a public unicast address. Addresses embedding an IPv4 address (mapped,
    6to4, NAT64) are judged by the embedded one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    checks = (
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
        ("not a globally routable address", not address.is_global),
    )
    for reason, matches in checks:
        if matches:
            return reason
    return None


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One entry of the allow-list: a network or a host name, on one port or any."""

    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def allows_address(self, address: IPAddress, port: int) -> bool:
        """Whether this entry permits connecting to ``address`` on ``port``."""
        return (
            self.network is not None
            and address.version == self.network.version
            and address in self.network
            and self.port in (None, port)
        )

    def allows_host(self, host: str, port: int) -> bool:
        """Whether this entry names ``host`` (or, as ``*.domain``, a subdomain of it)."""
        if self.host is None or self.port not in (None, port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidInputError(f"{entry!r}: {text!r} is not a port", field="http_allow")
    return int(text)


def parse_entry(entry: str) -> AllowEntry:
    """An allow-list entry from text such as ``10.0.0.0/8``, ``[::1]:8080``, ``host:443``."""
    text = entry.strip().lower()
    port: int | None = None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise InvalidInputError(f"{entry!r} is not an allow entry", field="http_allow")
            port = _port(rest[1:], entry)
        text = inside
    elif text.count(":") == 1:
        text, port_text = text.split(":")
        port = _port(port_text, entry)
    try:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False), port=port)
    except ValueError:
        pass
    name = text.rstrip(".")
    if len(name) > 253 or not _HOST_NAME.fullmatch(name):
        raise InvalidInputError(
            f"{entry!r} is not an address, network or host name (TICKWORK_HTTP_ALLOW)",
            field="http_allow",
        )
    return AllowEntry(host=name, port=port)


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """The allow-list, and the check every connection of ``http.request`` goes through."""

    allow: tuple[AllowEntry, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> TargetPolicy:
        """Parse ``TICKWORK_HTTP_ALLOW`` entries; a bad one raises
        :class:`InvalidInputError` naming ``http_allow``."""
        parsed = tuple(parse_entry(e) for e in entries if e.strip())
        if len(parsed) > MAX_ALLOW_ENTRIES:
            raise InvalidInputError(
                f"at most {MAX_ALLOW_ENTRIES} entries in TICKWORK_HTTP_ALLOW", field="http_allow"
            )
        return cls(parsed)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses ``host`` resolves to, each one allowed, in resolver order; raises
        :class:`TargetRefusedError` naming the first one that is not."""
        name = host.strip("[]").lower().rstrip(".")
        trusted_name = any(entry.allows_host(name, port) for entry in self.allow)
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {name!r}: {exc}") from exc
        found: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if address in found:
                continue
            reason = None if trusted_name else refusal(address)
            if reason is not None and not any(
                entry.allows_address(address, port) for entry in self.allow
            ):
                shown = name if name == str(address) else f"{name} ({address})"
                raise TargetRefusedError(
                    f"{shown} is {reason}; http.request may not reach it unless "
                    "TICKWORK_HTTP_ALLOW permits it"
                )
            found.append(address)
        if not found:
            raise httpcore.ConnectError(f"{name!r} has no address")
        return found


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allowed: the
    checked address itself, never the name again."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve and check ``host``, then connect to its first reachable address."""
        error: Exception | None = None
        for address in self.policy.addresses(host, port):
            try:
                return self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Never: ``http.request`` speaks only TCP."""
        raise TargetRefusedError("http.request does not connect to Unix sockets")

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retries use it)."""
        self._backend.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with every connection made through :class:`GuardedBackend`.

    Proxies from the environment are ignored: through a proxy, the target's address would
    be the proxy's to resolve, past this check.
    """

    def __init__(self, policy: TargetPolicy) -> None:
        super().__init__(trust_env=False)
        # httpx offers no argument for the network backend; its pool is rebuilt with ours
        # (the security tests connect through it, so a change in httpx shows at once).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=GuardedBackend(policy),
        )


IDENTITY_HEADER_PREFIXES = ("x-forwarded-", "x-auth-request-")
IDENTITY_HEADERS = frozenset(
    {"forwarded", "x-real-ip", "x-remote-user", "remote-user", "x-client-ip", "true-client-ip"}
)
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def identity_headers(configured: Sequence[str] = ()) -> frozenset[str]:
    """Lower-cased names of headers that claim an identity to a proxy-authenticated server
    (ours or another's): never sent by ``http.request``. ``configured`` adds the proxy header
    names this installation trusts."""
    return IDENTITY_HEADERS | {name.strip().lower() for name in configured if name.strip()}


def is_identity_header(name: str, extra: frozenset[str]) -> bool:
    """Whether ``name`` is an identity header (by prefix, or among ``extra``)."""
    lowered = name.strip().lower()
    return lowered in extra or lowered.startswith(IDENTITY_HEADER_PREFIXES)
