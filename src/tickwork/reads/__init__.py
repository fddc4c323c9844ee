"""The read side: every query behind the REST API, the UI, the CLI and ``/metrics``.

Each query takes the acting :class:`~tickwork.domain.actor.Actor`; a principal bound to a
tenant sees only that tenant's rows, filtered in the SQL. Reach it as ``app.reads``.

Example::

    page = app.reads.runs.page(actor, RunFilter(status=["failed"]), limit=50)
    stats = app.reads.stats.stats(actor, hours=24)
"""

from tickwork.reads.service import Reads

__all__ = ["Reads"]
