"""Who the tests act as, and how cheaply passwords hash for them."""

from __future__ import annotations

from argon2 import PasswordHasher

from tickwork.auth.passwords import Passwords
from tickwork.domain.actor import Actor, Role

# Cheap argon2 parameters: the tests exercise the logic, not the hash's cost.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
# The actor that sets a test up (creates users, tokens, schedules) outside the interface
# under test.
ADMIN_ACTOR = Actor(name="test-admin", source="test", role=Role.ADMIN)
# Every test user's password.
PASSWORD = "correct horse battery"
# An admin bound to tenant ``acme``: an admin within that tenant, never of the whole
# installation.
ACME_ADMIN_ACTOR = Actor(name="acme-admin", source="test", role=Role.ADMIN, tenant_id="acme")
# An operator of the whole installation.
OPERATOR_ACTOR = Actor(name="test-operator", source="test", role=Role.OPERATOR)
