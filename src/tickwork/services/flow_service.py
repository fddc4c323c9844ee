"""Operations on flows: start (a group, chosen tasks, or a group schedule now), cancel,
retry, and reading them; audited, each in one transaction."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import inputs
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import InvalidTransitionError, NotFoundError, PermissionDeniedError
from tickwork.domain.flows import Flow, FlowStatus, GroupInfo
from tickwork.domain.models import RunTrigger, Schedule
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.flow_steps import FlowTarget, flow_columns, flow_steps, resolve_target
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database
from tickwork.storage.flow_queries import FlowReader
from tickwork.storage.flow_store import FlowStore


@dataclasses.dataclass(frozen=True, slots=True)
class FlowRequest:
    """A flow to start: a ``group``, or ``tasks`` (their dependencies come too), with an
    optional payload per task and a ``key`` (at most one running flow per key and tenant)."""

    group: str | None = None
    tasks: list[str] | None = None
    payload: dict[str, Any] | None = None
    key: str | None = None
    tenant_id: str | None = None


class FlowService:
    """Starts, cancels and retries flows, and reads the groups (flows are read through
    :mod:`tickwork.reads.flows`)."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        store: FlowStore,
        *,
        max_payload_bytes: int,
        on_enqueue: Callable[[], None] = lambda: None,
        on_cancel: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.store = store
        self.reader = FlowReader(db.dialect)
        self.audit = AuditStore()
        self.max_payload_bytes = max_payload_bytes
        self._on_enqueue = on_enqueue
        self._on_cancel = on_cancel

    # -- groups ----------------------------------------------------------------------------

    def groups(self) -> builtins.list[GroupInfo]:
        """Every group: its tasks, the dependencies it pulls in, its edges and waves."""
        graph = self.registry.check_flows()
        return [graph.info(name) for name in graph.groups]

    def everything(self) -> GroupInfo:
        """Every task that belongs to a group, as one pseudo-group (what "run all" starts)."""
        return self.registry.check_flows().everything()

    def group(self, name: str) -> GroupInfo:
        """One group, or :class:`NotFoundError`."""
        graph = self.registry.check_flows()
        if not isinstance(name, str) or not graph.members.get(name):
            raise NotFoundError(f"group {inputs.echo(name)} not found", field="name")
        return graph.info(name)

    # -- starting --------------------------------------------------------------------------

    def start(self, actor: Actor, request: FlowRequest, *, trigger: str = "api") -> Flow:
        """Create a flow and all its runs in one transaction: runs with no unmet dependency
        are queued (as the group's ``max_parallel`` and ``stagger`` allow), the others wait.
        With a ``key`` a running flow of the tenant holds, that flow is returned instead."""
        target = resolve_target(
            self.registry.check_flows(), group=request.group, tasks=request.tasks
        )
        tenant = self._tenant_for(actor, request.tenant_id)
        payloads = self._payloads(actor, target, request.payload, tenant)
        key = None if request.key is None else inputs.text(request.key, "key")
        with self.db.write() as conn:
            now = self.db.now()
            common: dict[str, Any] = {
                "trigger": trigger,
                "tenant_id": tenant,
                "now": now,
                "created_by": actor.name,
            }
            flow_id = self.store.create(
                conn,
                flow_columns(target, key=key, **common),
                flow_steps(self.registry, target, payloads, **common),
                now,
            )
            if flow_id is None:
                assert key is not None
                existing = self.store.running_with_key(conn, tenant, key)
                if existing is None:  # pragma: no cover - it ended between the two statements
                    raise InvalidTransitionError("the flow holding this key just ended; try again")
                return self.reader.get(conn, existing)
            self._record(conn, actor, "flow.start", flow_id, tenant, now, target)
            flow = self.reader.get(conn, flow_id)
        self._on_enqueue()
        return flow

    def run_schedule(
        self, actor: Actor, schedule: Schedule, payload: dict[str, Any] | None = None
    ) -> Flow:
        """Start a group schedule's flow now (Run Now): its ``next_run_at`` is left alone. A
        ``payload`` replacing the schedule's needs an admin."""
        assert schedule.group is not None
        target = resolve_target(self.registry.check_flows(), group=schedule.group)
        if payload is None:
            payloads = self.registry.validate_flow_payload(target.tasks, schedule.payload)
            self._check_tasks(actor, target, schedule.tenant_id)
        else:
            payloads = self._payloads(actor, target, payload, schedule.tenant_id)
        with self.db.write() as conn:
            now = self.db.now()
            common: dict[str, Any] = {
                "trigger": RunTrigger.MANUAL.value,
                "tenant_id": schedule.tenant_id,
                "now": now,
                "created_by": actor.name,
            }
            flow_id = self.store.create(
                conn,
                flow_columns(target, schedule_id=schedule.id, **common),
                flow_steps(self.registry, target, payloads, schedule=schedule, **common),
                now,
            )
            assert flow_id is not None
            self.audit.record(
                conn,
                at=now,
                actor=actor.name,
                source=actor.source,
                action="schedule.run_now",
                target_type="schedule",
                target_id=schedule.id,
                tenant_id=schedule.tenant_id,
                after={"flow_id": flow_id, "payload": payloads},
            )
            flow = self.reader.get(conn, flow_id)
        self._on_enqueue()
        return flow

    def _tenant_for(self, actor: Actor, requested: str | None) -> str | None:
        if requested is not None:
            requested = inputs.text(requested, "tenant_id", max_length=100)
        return actor.own_tenant(requested)

    def _payloads(
        self, actor: Actor, target: FlowTarget, payload: Any, tenant: str | None
    ) -> dict[str, dict[str, Any]]:
        if payload is not None and not actor.role.allows(Role.ADMIN):
            raise PermissionDeniedError(
                "only admins may start a flow with a payload", field="payload"
            )
        self._check_tasks(actor, target, tenant)
        return self.registry.validate_flow_payload(
            target.tasks, payload, max_bytes=self.max_payload_bytes
        )

    def _check_tasks(self, actor: Actor, target: FlowTarget, tenant: str | None) -> None:
        for name in target.tasks:
            self.registry.get(name).check_allowed(actor, tenant)

    # -- operators' actions ------------------------------------------------------------

    def cancel(self, actor: Actor, flow_id: int) -> Flow:
        """Cancel a running flow: its waiting and queued runs at once, its running runs by
        asking them to stop."""
        with self.db.write() as conn:
            now = self.db.now()
            before = self._locked(conn, actor, flow_id)
            if before.status is not FlowStatus.RUNNING:
                raise InvalidTransitionError(
                    f"flow {flow_id} is {before.status.value}; only running flows can be cancelled",
                    field="status",
                )
            stopping = self.store.cancel(conn, flow_id, now, f"flow cancelled by {actor.name}")
            self._record(conn, actor, "flow.cancel", flow_id, before.tenant_id, now)
            after = self.reader.get(conn, flow_id)
        if stopping:
            self._on_cancel()
        return after

    def retry(self, actor: Actor, flow_id: int) -> Flow:
        """Run a failed or cancelled flow's failed, cancelled and skipped runs again; its
        succeeded runs are kept."""
        with self.db.write() as conn:
            now = self.db.now()
            before = self._locked(conn, actor, flow_id)
            if before.status not in (FlowStatus.FAILED, FlowStatus.CANCELLED):
                raise InvalidTransitionError(
                    f"flow {flow_id} is {before.status.value}; only failed or cancelled flows "
                    "can be retried",
                    field="status",
                )
            again = self.store.retry(conn, flow_id, now)
            self._record(conn, actor, "flow.retry", flow_id, before.tenant_id, now, runs=again)
            after = self.reader.get(conn, flow_id)
        self._on_enqueue()
        return after

    def _locked(self, conn: Connection, actor: Actor, flow_id: int) -> Flow:
        self.reader.get(conn, flow_id, restrict_tenant=actor.tenant_id)
        self.store.lock(conn, [flow_id])
        return self.reader.get(conn, flow_id)

    def _record(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        flow_id: int,
        tenant_id: str | None,
        now: Any,
        target: FlowTarget | None = None,
        runs: int | None = None,
    ) -> None:
        after: dict[str, Any] = {}
        if target is not None:
            after = {"group": target.group, "tasks": list(target.tasks)}
        if runs is not None:
            after["runs"] = runs
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type="flow",
            target_id=flow_id,
            tenant_id=tenant_id,
            after=after or None,
        )
