"""``Reads``: the read side of one app, a reader per kind of record."""

from __future__ import annotations

from tickwork.reads.audit import AuditReads
from tickwork.reads.flows import FlowReads
from tickwork.reads.nodes import NodeReads
from tickwork.reads.runs import RunReads
from tickwork.reads.schedules import ScheduleReads
from tickwork.reads.stats import StatsReads
from tickwork.storage.database import Database


class Reads:
    """Schedules, runs and their attempts, flows, figures, processes and the audit log, read for
    an actor. One per app (``app.reads``); every reader is safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self.schedules = ScheduleReads(db)
        self.runs = RunReads(db)
        self.stats = StatsReads(db)
        self.nodes = NodeReads(db)
        self.audit = AuditReads(db)
        self.flows = FlowReads(db)
