"""Processes whose wall clock is wrong, as on a machine whose NTP is off: libfaketime
(preloaded from the ``libfaketime`` package) shifts the wall clock by the offset written in a
file, which the test may rewrite at any time to step the clock. The monotonic clock is left
alone, as on a real machine whose wall clock is stepped."""

from __future__ import annotations

from pathlib import Path

import libfaketime


class SkewedClock:
    """A wall-clock offset for the processes started with :meth:`env`."""

    def __init__(self, folder: Path, name: str, seconds: float) -> None:
        self.path = folder / f"faketime-{name}"
        self.set(seconds)

    def set(self, seconds: float) -> None:
        """Make the wall clock ``seconds`` off (negative: behind); processes see it within
        a second."""
        self.path.write_text(f"{seconds:+.0f}s\n")

    def env(self) -> dict[str, str]:
        """Environment variables that give a process this clock."""
        library = Path(libfaketime.__file__).parent / "vendor/libfaketime/src/libfaketime.so.1"
        return {
            "LD_PRELOAD": str(library),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_CACHE_DURATION": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
