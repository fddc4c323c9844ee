"""API token secrets: how they look, and how they are stored (a SHA-256 digest).

A token is ``tw_`` followed by 40 random URL-safe characters (240 bits). Such a secret
cannot be guessed, so a fast digest is enough to store it (as GitHub and Stripe do); a
slow password hash would only slow down every API request.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "tw_"
SHOWN_PREFIX_LENGTH = 8  # characters after ``tw_`` kept in clear to tell tokens apart


def generate_token() -> str:
    """A new token secret."""
    return TOKEN_PREFIX + secrets.token_urlsafe(30)


def token_hash(secret: str) -> str:
    """What is stored in place of the secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def shown_prefix(secret: str) -> str:
    """The start of the secret that lists may show, such as ``tw_AbC12xYz``."""
    return secret[: len(TOKEN_PREFIX) + SHOWN_PREFIX_LENGTH]


def looks_like_token(secret: str) -> bool:
    """Whether ``secret`` has a token's shape (anything else is refused without a lookup)."""
    return secret.startswith(TOKEN_PREFIX) and 20 <= len(secret) <= 200
