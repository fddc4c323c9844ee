"""Exponential backoff with jitter for retried runs."""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_BACKOFF = 2.0
DEFAULT_BACKOFF_MAX = 600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before attempt ``n + 1`` after attempt ``n`` failed.

    The delay doubles with each attempt from ``backoff`` seconds up to ``backoff_max``; half
    of it is randomised ("equal jitter") so that runs failing together do not retry in step.
    """

    backoff: float = DEFAULT_BACKOFF
    backoff_max: float = DEFAULT_BACKOFF_MAX

    def ceiling(self, attempt: int) -> float:
        """The delay before jitter after attempt number ``attempt`` (1-based) failed."""
        exponent = min(max(attempt - 1, 0), 62)
        return float(min(self.backoff_max, self.backoff * (2**exponent)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A jittered delay in ``[ceiling / 2, ceiling]``."""
        ceiling = self.ceiling(attempt)
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2
