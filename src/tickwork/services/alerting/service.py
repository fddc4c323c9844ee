"""The alerting duty of a process: evaluate the rules every ``evaluate_interval`` and
deliver due notifications in between."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tickwork.domain.errors import DatabaseUnavailableError
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.alerting.delivery import Delivery
from tickwork.services.alerting.monitor import AlertMonitor
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.alerts")


class AlertingService:
    """Runs :class:`AlertMonitor` and :class:`Delivery` on one thread (:meth:`run`)."""

    def __init__(
        self, db: Database, config: AlertConfig, *, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self.config = config
        self.monitor = AlertMonitor(db, config, on_change=on_change)
        self.delivery = Delivery(db, config)
        # Set to make the loop look at once (tests, and this process queueing a notification).
        self.wakeup = threading.Event()
        # Set after each evaluation and each delivery round (tests wait on them).
        self.evaluated = threading.Event()
        self.delivered = threading.Event()

    def step(self) -> None:
        """Evaluate the rules, then deliver what is due."""
        self.monitor.evaluate()
        self.evaluated.set()
        self.deliver()

    def deliver(self) -> None:
        """Deliver due notifications until none is left."""
        while self.delivery.deliver_due():
            self.delivered.set()

    def run(self, stop: threading.Event) -> None:
        """Evaluate and deliver until ``stop`` is set."""
        next_evaluation = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_evaluation:
                    next_evaluation = time.monotonic() + self.config.evaluate_interval
                    self.step()
                else:
                    self.deliver()
            except DatabaseUnavailableError as exc:
                log.warning("alerting paused: %s", exc)
            except Exception:
                log.exception("alerting failed; trying again")
            wait = min(self.config.delivery_poll, max(0.0, next_evaluation - time.monotonic()))
            self.wakeup.wait(wait)
            self.wakeup.clear()
