"""The app the benchmarks run in real ``tickwork worker`` and ``tickwork scheduler``
processes: ``tickwork worker --app bench.tickwork_bench_app:app --db URL`` (from the
repository's root).

``noop`` does nothing, except note when it began (``BENCH_LATENCY_FILE``) for latency runs.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tickwork import Context, Tickwork

app = Tickwork()
_LATENCY_FILE = os.environ.get("BENCH_LATENCY_FILE")


@app.task("noop")
def noop(ctx: Context, payload: dict[str, Any]) -> None:
    """Do nothing; in latency runs, note when job ``payload["i"]`` began."""
    if _LATENCY_FILE and "i" in payload:
        with open(_LATENCY_FILE, "a") as handle:
            handle.write(f"{payload['i']} {time.time()}\n")
