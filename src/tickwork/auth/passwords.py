"""Password hashing with argon2id, and generated passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tickwork.domain.errors import InvalidInputError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class Passwords:
    """Hashes and verifies passwords (argon2id, argon2-cffi's recommended parameters).

    ``hasher`` lets tests use cheaper parameters; stored hashes carry their parameters, so
    a hash made with other parameters still verifies and is upgraded at the next login.
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    @property
    def dummy_hash(self) -> str:
        """Verified when a username does not exist, so the answer takes as long either way
        (made on first use: hashing is slow, and most processes never need it)."""
        if self._dummy is None:
            self._dummy = self.hash(secrets.token_urlsafe(16))
        return self._dummy

    def hash(self, password: str) -> str:
        """The argon2id hash of ``password``."""
        return str(self.hasher.hash(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash`` (``None``: burn the same time, False)."""
        try:
            if password_hash is None:
                self.hasher.verify(self.dummy_hash, password)
                return False
            return bool(self.hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""
        try:
            return bool(self.hasher.check_needs_rehash(password_hash))
        except (InvalidHashError, ValueError):
            return True


def check_password(password: object, field: str = "password") -> str:
    """A password that meets the length rules, or :class:`InvalidInputError` naming ``field``."""
    if not isinstance(password, str):
        raise InvalidInputError("expected a string", field=field)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"must be at least {MIN_PASSWORD_LENGTH} characters", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(f"must be at most {MAX_PASSWORD_LENGTH} characters", field=field)
    if "\x00" in password:
        raise InvalidInputError("must not contain NUL characters", field=field)
    return password


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)
