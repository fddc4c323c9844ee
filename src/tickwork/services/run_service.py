"""Operations on runs: enqueue, cancel, retry, and reading history; audited."""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.errors import (
    InvalidInputError,
    InvalidTransitionError,
    TickworkError,
)
from tickwork.domain.models import Run, RunStatus, RunTrigger
from tickwork.domain.tasks import Task, TaskRegistry
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.run_store import RunStore


@dataclasses.dataclass(frozen=True, slots=True)
class RunRequest:
    """One run to enqueue, as :meth:`RunService.enqueue_many` takes it."""

    task: str
    payload: dict[str, Any] | None = None
    run_at: datetime | str | None = None
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    timeout: float | None = None
    tenant_id: str | None = None

    @property
    def overrides_defaults(self) -> bool:
        """Whether anything but the payload differs from what the task's defaults give."""
        return (
            self.run_at is not None
            or self.queue is not None
            or self.priority is not None
            or self.max_attempts is not None
            or self.timeout is not None
            or self.tenant_id is not None
        )


class RunService:
    """Enqueues, cancels and retries runs, and reads their history."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        *,
        max_payload_bytes: int,
        on_enqueue: Callable[[], None] = lambda: None,
        on_cancel: Callable[[], None] = lambda: None,
        flows: FlowStore | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.store = RunStore(db.dialect)
        self.flows = flows or FlowStore(db.dialect)
        self.audit = AuditStore()
        self.max_payload_bytes = max_payload_bytes
        self._on_enqueue = on_enqueue
        self._on_cancel = on_cancel

    def _values(self, actor: Actor, request: RunRequest, now: datetime) -> dict[str, Any]:
        task: Task = self.registry.get(request.task)
        tenant = actor.own_tenant(request.tenant_id)
        task.check_allowed(actor, tenant)
        run_at = now if request.run_at is None else inputs.moment(request.run_at, "run_at")
        return {
            "task": task.name,
            "payload": task.validate_payload(request.payload, max_bytes=self.max_payload_bytes),
            "status": RunStatus.QUEUED.value,
            "trigger": RunTrigger.API.value,
            "tenant_id": tenant,
            "queue": task.queue
            if request.queue is None
            else inputs.text(request.queue, "queue", max_length=100),
            "priority": task.priority
            if request.priority is None
            else inputs.integer(request.priority, "priority", minimum=-1000, maximum=1000),
            "max_attempts": task.max_attempts
            if request.max_attempts is None
            else inputs.integer(request.max_attempts, "max_attempts", minimum=1, maximum=1000),
            "retry_backoff": task.retry_backoff,
            "retry_backoff_max": task.retry_backoff_max,
            "timeout": task.timeout
            if request.timeout is None
            else inputs.duration(request.timeout, "timeout", minimum=0.001),
            "run_at": run_at,
            "created_at": now,
            "created_by": actor.name,
        }

    def _batch_values(
        self,
        actor: Actor,
        request: RunRequest,
        now: datetime,
        shared: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        if request.overrides_defaults:
            return self._values(actor, request, now)
        base = shared.get(request.task)
        if base is None:
            base = shared[request.task] = self._values(actor, RunRequest(request.task), now)
        task = self.registry.get(request.task)
        payload = task.validate_payload(request.payload, max_bytes=self.max_payload_bytes)
        return {**base, "payload": payload}

    def enqueue(self, actor: Actor, request: RunRequest, *, key: str | None = None) -> Run:
        """Queue one run; with ``key``, return the pending run holding that key if there is one."""
        if key is not None:
            key = inputs.text(key, "key")
        values = self._values(actor, request, self.db.now())
        values["key"] = key
        # One statement on PostgreSQL: the run, its audit entry and the workers' wake-up.
        with self.db.write_statement() as conn:
            run, created = self.store.enqueue_audited(
                conn, values, actor=actor.name, source=actor.source
            )
        if created:
            self._on_enqueue()
        return run

    def enqueue_many(self, actor: Actor, requests: Sequence[RunRequest]) -> builtins.list[int]:
        """Queue many runs in one transaction (one audit entry for the batch); return their ids."""
        if not requests:
            return []
        now = self.db.now()
        rows = self._batch_rows(actor, requests, now)
        with self.db.write_statement() as conn:
            ids = self.store.enqueue_many(
                conn,
                rows,
                audit={
                    "at": now,
                    "actor": actor.name,
                    "source": actor.source,
                    "tenant_id": actor.tenant_id,
                },
            )
        self._on_enqueue()
        return ids

    def _batch_rows(
        self, actor: Actor, requests: Sequence[RunRequest], now: datetime
    ) -> builtins.list[dict[str, Any]]:
        simple = self._simple_batch_rows(actor, requests, now)
        if simple is not None:
            return simple
        rows = []
        # Runs that only name a task and a payload share everything else: work it out once
        # per task.
        shared: dict[str, dict[str, Any]] = {}
        for index, request in enumerate(requests):
            try:
                rows.append(self._batch_values(actor, request, now, shared))
            except InvalidInputError as exc:
                raise type(exc)(
                    f"runs[{index}]: {exc.message}", field=f"runs[{index}].{exc.field}"
                ) from exc
        return rows

    def _simple_batch_rows(
        self, actor: Actor, requests: Sequence[RunRequest], now: datetime
    ) -> builtins.list[dict[str, Any]] | None:
        """The rows of a batch whose runs only name a task without a config model and a
        payload, with the payloads checked all at once; ``None`` for any other batch, or
        anything to complain about (the request-by-request path then names the culprit).

        Each payload must be a JSON object no bigger than the limit: when the whole list
        encodes within the limit, so does each of its items.
        """
        shared: dict[str, dict[str, Any]] = {}
        rows = []
        payloads = []
        for request in requests:
            if request.overrides_defaults:
                return None
            payload = {} if request.payload is None else request.payload
            if type(payload) is not dict:
                return None
            base = shared.get(request.task)
            if base is None:
                task = self.registry.find(request.task)
                if task is None or task.config is not None:
                    return None
                try:
                    base = shared[request.task] = self._values(actor, RunRequest(task.name), now)
                except TickworkError:
                    return None
            rows.append({**base, "payload": payload})
            payloads.append(payload)
        try:
            size = len(json.dumps(payloads, separators=(",", ":"), allow_nan=False))
        except (TypeError, ValueError):
            return None
        return rows if size <= self.max_payload_bytes else None

    def cancel(self, actor: Actor, run_id: int) -> Run:
        """Cancel a pending run, or ask a running one to stop (its handler sees it).

        A run of a flow is cancelled under its flow's lock, and the runs waiting for it are
        skipped in the same transaction."""
        with self.db.write() as conn:
            now = self.db.now()
            flow_id = self._lock_flow(conn, actor, run_id)
            before = self.store.get(conn, run_id, lock=True, restrict_tenant=actor.tenant_id)
            after = self.store.cancel(conn, before, now, f"cancelled by {actor.name}")
            if flow_id is not None and after.status.is_final:
                self.flows.settle(conn, [flow_id], now)
            self._audit_change(conn, actor, "run.cancel", before, after, now)
        if after.cancel_requested and after.status is RunStatus.RUNNING:
            self._on_cancel()
        return after

    def retry(self, actor: Actor, run_id: int) -> Run:
        """Queue a failed or cancelled run again as its next attempt.

        A run of a flow waits again for nothing but its own dependencies, its flow runs
        again, and the runs its failure skipped wait for it once more."""
        with self.db.write() as conn:
            now = self.db.now()
            flow_id = self._lock_flow(conn, actor, run_id)
            before = self.store.get(conn, run_id, lock=True, restrict_tenant=actor.tenant_id)
            if flow_id is None:
                after = self.store.retry(conn, before, now, actor.name)
            else:
                if before.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
                    raise InvalidTransitionError(
                        f"run {run_id} is {before.status.value}; only failed or cancelled runs "
                        "can be retried",
                        field="status",
                    )
                self.flows.retry(conn, flow_id, now, only=[run_id])
                after = self.store.get(conn, run_id)
            self._audit_change(conn, actor, "run.retry", before, after, now)
        self._on_enqueue()
        return after

    def _lock_flow(self, conn: Any, actor: Actor, run_id: int) -> int | None:
        """Lock the flow of run ``run_id``, if it has one (before the run: the order every
        writer of a flow's runs takes); return the flow's id."""
        run = self.store.get(conn, run_id, restrict_tenant=actor.tenant_id)
        if run.flow_id is not None:
            self.flows.lock(conn, [run.flow_id])
        return run.flow_id

    def _audit_change(
        self, conn: Any, actor: Actor, action: str, before: Run, after: Run, now: datetime
    ) -> None:
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type="run",
            target_id=before.id,
            tenant_id=before.tenant_id,
            before={"status": before.status.value, "attempt": before.attempt},
            after={
                "status": after.status.value,
                "attempt": after.attempt,
                "cancel_requested": after.cancel_requested,
            },
        )


__all__ = ["RunRequest", "RunService", "RunStatus"]
