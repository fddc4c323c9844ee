"""What a tenant-bound actor may see: its tenant, written into every filter it reads with."""

from __future__ import annotations

import dataclasses
from typing import Protocol, TypeVar

from tickwork.domain.actor import Actor


class _Scoped(Protocol):
    @property
    def restrict_tenant(self) -> str | None: ...


F = TypeVar("F", bound=_Scoped)


def scoped(filters: F, actor: Actor) -> F:
    """``filters`` narrowed to ``actor``'s tenant (unchanged for an actor bound to none)."""
    return dataclasses.replace(filters, restrict_tenant=actor.tenant_id)  # type: ignore[type-var]
