"""Every write on ``flows`` and ``run_dependencies``: creating a flow with its runs, settling
it (releasing, skipping, ending), cancelling and retrying it.

Every method takes the connection of the caller's transaction. Whoever changes a running
flow's runs holds the flow's row lock (:meth:`FlowStore.lock`, taken *before* the runs'), so
two workers finishing two runs of one flow settle it one after the other: ``max_parallel``
is counted on what the other committed, and no lock is ever taken in the other order.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.backfill import revived_columns
from tickwork.domain.errors import ConflictError
from tickwork.domain.flows import FlowStatus, SettlePlan, plan_settle
from tickwork.domain.models import PENDING_RUN_STATUSES, RunStatus, SkipReason
from tickwork.storage.dialect import CANCEL_CHANNEL, RUNS_CHANNEL, Dialect
from tickwork.storage.tables import (
    FIRE_TIME_KEY,
    FLOW_KEY_RUNNING,
    flow_gate,
    flows,
    run_attempts,
    run_dependencies,
    runs,
    tenant_scope,
)

_RUNNING = FlowStatus.RUNNING.value
_WAITING = RunStatus.WAITING.value
_ACTIVE_RUNS = (RunStatus.QUEUED.value, RunStatus.RETRYING.value, RunStatus.RUNNING.value)
_RETRIED = (RunStatus.FAILED.value, RunStatus.CANCELLED.value, RunStatus.SKIPPED.value)
_GATE = "release"
# What settling reads of a flow.
_HEAD_COLUMNS = (
    flows.c.id,
    flows.c.status,
    flows.c.max_parallel,
    flows.c.stagger,
    flows.c.next_release_at,
)


@dataclass(frozen=True, slots=True)
class NewStep:
    """One run of a flow to create: its task, its run columns and the tasks it waits for."""

    task: str
    values: dict[str, Any]
    depends_on: tuple[str, ...] = ()


@dataclass(slots=True)
class SettleReport:
    """What settling flows changed."""

    released: int = 0
    skipped: int = 0
    # Flows that ended, with their final status.
    ended: dict[int, str] | None = None


class FlowStore:
    """Creates, settles, cancels and retries flows.

    ``release_rate`` (runs per second, 0: no limit) paces the runs released by all flows
    together, through one shared row (``flow_gate``) every releasing transaction locks.
    """

    def __init__(self, dialect: Dialect, *, release_rate: float = 0.0) -> None:
        if release_rate < 0:
            raise ValueError("release_rate must not be negative")
        self.dialect = dialect
        self.release_rate = release_rate

    # -- creating ------------------------------------------------------------------------

    def create(
        self,
        conn: Connection,
        values: dict[str, Any],
        steps: Sequence[NewStep],
        now: datetime,
        *,
        start_at: datetime | None = None,
    ) -> int | None:
        """Insert a flow (``values``: its columns) with a ``waiting`` run per step and their
        dependencies, then release what may start (from ``start_at``, default ``now``);
        return its id.

        A fire time of a schedule that already has a flow, or a ``key`` a running flow of
        the tenant holds, inserts nothing and returns ``None``.
        """
        flow_id = self._insert_flow(conn, {**values, "status": _RUNNING})
        if flow_id is None:
            return None
        self._add_steps(conn, flow_id, steps, start_at or now)
        return flow_id

    def revive_skipped(
        self,
        conn: Connection,
        values: dict[str, Any],
        steps: Sequence[NewStep],
        now: datetime,
        *,
        start_at: datetime | None = None,
    ) -> int | None:
        """Turn the skipped flow of a schedule's fire time (``values`` name both) into the
        flow ``values`` and ``steps`` describe, keeping the skip's reason and details under
        ``details["skipped"]``; return its id, or ``None`` when that fire time has no
        skipped flow (any more: another process may have revived it first)."""
        where = (
            flows.c.schedule_id == values["schedule_id"],
            flows.c.scheduled_for == values["scheduled_for"],
            flows.c.status == FlowStatus.SKIPPED.value,
        )
        found = conn.execute(
            self.dialect.lock(
                sa.select(flows.c.id, flows.c.skip_reason, flows.c.details).where(*where)
            )
        ).first()
        if found is None:
            return None
        changes = revived_columns({**values, "status": _RUNNING}, found.skip_reason, found.details)
        changed = conn.execute(flows.update().where(flows.c.id == found.id, *where).values(changes))
        if not changed.rowcount:
            return None
        self._add_steps(conn, found.id, steps, start_at or now)
        return int(found.id)

    def _add_steps(
        self, conn: Connection, flow_id: int, steps: Sequence[NewStep], start_at: datetime
    ) -> None:
        rows = [{**step.values, "status": _WAITING, "flow_id": flow_id} for step in steps]
        inserted = conn.execute(
            runs.insert().returning(runs.c.id, sort_by_parameter_order=True), rows
        ).all()
        by_task = {step.task: row[0] for step, row in zip(steps, inserted, strict=True)}
        edges = [
            {"run_id": by_task[step.task], "depends_on": by_task[dep], "flow_id": flow_id}
            for step in steps
            for dep in step.depends_on
        ]
        if edges:
            conn.execute(run_dependencies.insert(), edges)
        self.settle(conn, [flow_id], start_at)

    def record_skip(self, conn: Connection, values: dict[str, Any]) -> bool:
        """Record a fire time of a group schedule that started no flow (``values`` has its
        ``skip_reason``); ``False`` if that fire time has a flow already."""
        return self._insert_flow(conn, {**values, "status": FlowStatus.SKIPPED.value}) is not None

    def _insert_flow(self, conn: Connection, values: dict[str, Any]) -> int | None:
        statement = self.dialect.insert(flows).values(**values)
        if values.get("schedule_id") is not None and values.get("scheduled_for") is not None:
            statement = statement.on_conflict_do_nothing(
                index_elements=[flows.c.schedule_id, flows.c.scheduled_for],
                index_where=sa.text(FIRE_TIME_KEY),
            )
        elif values.get("key") is not None:
            statement = statement.on_conflict_do_nothing(
                index_elements=[tenant_scope(flows.c.tenant_id), flows.c.key],
                index_where=sa.text(FLOW_KEY_RUNNING),
            )
        found: int | None = conn.execute(statement.returning(flows.c.id)).scalar_one_or_none()
        return found

    def running_with_key(self, conn: Connection, tenant_id: str | None, key: str) -> int | None:
        """The running flow of ``tenant_id`` holding ``key``, if one does."""
        found: int | None = conn.execute(
            sa.select(flows.c.id).where(
                tenant_scope(flows.c.tenant_id) == (tenant_id or ""),
                flows.c.key == key,
                flows.c.status == _RUNNING,
            )
        ).scalar_one_or_none()
        return found

    # -- locking and settling --------------------------------------------------------------

    def lock(self, conn: Connection, flow_ids: Sequence[int]) -> dict[int, str]:
        """Lock flows' rows (in id order, so two lockers never wait on each other in a
        circle); return their statuses by id."""
        return {head.id: head.status for head in self.lock_heads(conn, flow_ids)}

    def lock_heads(self, conn: Connection, flow_ids: Sequence[int]) -> list[Any]:
        """Lock flows' rows in id order and return what settling reads of them."""
        if not flow_ids:
            return []
        query = (
            sa.select(*_HEAD_COLUMNS)
            .where(flows.c.id.in_(sorted(set(flow_ids))))
            .order_by(flows.c.id)
        )
        return list(conn.execute(self.dialect.lock(query)))

    def settle(self, conn: Connection, flow_ids: Sequence[int], now: datetime) -> SettleReport:
        """Bring running flows up to date with their runs, in the caller's transaction.

        Waiting runs behind a run that failed, was cancelled or skipped are skipped (reason
        ``upstream_failed``); waiting runs whose dependencies all succeeded are queued, as
        ``max_parallel``, ``stagger`` and the release rate allow; a flow whose runs are all
        final ends ``succeeded`` or ``failed``. The caller holds the flows' locks (or just
        created them).
        """
        if not flow_ids:
            return SettleReport(ended={})
        heads = conn.execute(
            sa.select(*_HEAD_COLUMNS).where(
                flows.c.id.in_(sorted(set(flow_ids))), flows.c.status == _RUNNING
            )
        ).all()
        return self.settle_heads(conn, heads, now)

    def settle_heads(self, conn: Connection, heads: Sequence[Any], now: datetime) -> SettleReport:
        """:meth:`settle` of flows whose rows (:meth:`lock_heads`) the caller locked and
        read; only running ones are settled."""
        heads = [head for head in heads if head.status == _RUNNING]
        report = SettleReport(ended={})
        if not heads:
            return report
        ids = [head.id for head in heads]
        statuses: dict[int, dict[int, str]] = {flow_id: {} for flow_id in ids}
        tasks: dict[int, str] = {}
        waits: dict[int, list[int]] = {}
        # Each run with its dependencies, in one round trip (a run without any comes once
        # with NULL).
        for run_id, flow_id, status, task, depends_on in conn.execute(
            sa.select(
                runs.c.id,
                runs.c.flow_id,
                runs.c.status,
                runs.c.task,
                run_dependencies.c.depends_on,
            )
            .select_from(runs)
            .outerjoin(run_dependencies, run_dependencies.c.run_id == runs.c.id)
            .where(runs.c.flow_id.in_(ids))
        ):
            statuses[flow_id][run_id] = status
            tasks[run_id] = task
            if depends_on is not None:
                waits.setdefault(run_id, []).append(depends_on)
        # Runs released now and flows that ended, of every flow at once: a worker's batch
        # of outcomes settles its flows in a few statements, however many flows it touched.
        now_released: list[int] = []
        ended: dict[str, list[int]] = {}
        for head in heads:
            plan = plan_settle(statuses[head.id], waits, head.max_parallel)
            self._skip(conn, plan, tasks, now, report)
            if plan.release and (head.stagger or self.release_rate):
                self._release(conn, head, plan.release, now)
            else:
                now_released.extend(plan.release)
            report.released += len(plan.release)
            if plan.final_status is not None:
                ended.setdefault(plan.final_status.value, []).append(head.id)
        if now_released:
            conn.execute(
                runs.update()
                .where(runs.c.id.in_(now_released), runs.c.status == _WAITING)
                .values(status=RunStatus.QUEUED.value, run_at=now)
            )
        for status, flow_ids in ended.items():
            conn.execute(
                flows.update()
                .where(flows.c.id.in_(flow_ids), flows.c.status == _RUNNING)
                .values(status=status, finished_at=now)
            )
            assert report.ended is not None
            report.ended.update(dict.fromkeys(flow_ids, status))
        if report.released:
            self.dialect.notify(conn, RUNS_CHANNEL)
        return report

    def _skip(
        self,
        conn: Connection,
        plan: SettlePlan,
        tasks: dict[int, str],
        now: datetime,
        report: SettleReport,
    ) -> None:
        if not plan.skip:
            return
        conn.execute(
            runs.update()
            .where(runs.c.id == sa.bindparam("b_id"), runs.c.status == _WAITING)
            .values(
                status=RunStatus.SKIPPED.value,
                skip_reason=SkipReason.UPSTREAM_FAILED.value,
                finished_at=now,
                details=sa.bindparam("b_details"),
            ),
            [
                {"b_id": run_id, "b_details": {"upstream": [tasks[u] for u in upstream]}}
                for run_id, upstream in plan.skip.items()
            ],
        )
        report.skipped += len(plan.skip)

    def _release(self, conn: Connection, head: Any, run_ids: Sequence[int], now: datetime) -> None:
        """Queue ``run_ids`` (waiting runs of one flow), spaced by the flow's ``stagger`` and
        the shared release rate."""
        stagger = float(head.stagger or 0.0)
        gap = 1.0 / self.release_rate if self.release_rate else 0.0
        if not stagger and not gap:
            conn.execute(
                runs.update()
                .where(runs.c.id.in_(list(run_ids)), runs.c.status == _WAITING)
                .values(status=RunStatus.QUEUED.value, run_at=now)
            )
            return
        start = max(now, head.next_release_at or now)
        if gap:
            start = max(start, self._gate(conn, now))
        step = timedelta(seconds=max(stagger, gap))
        times = [start + step * index for index in range(len(run_ids))]
        conn.execute(
            runs.update()
            .where(runs.c.id == sa.bindparam("b_id"), runs.c.status == _WAITING)
            .values(status=RunStatus.QUEUED.value, run_at=sa.bindparam("b_run_at")),
            [{"b_id": run_id, "b_run_at": at} for run_id, at in zip(run_ids, times, strict=True)],
        )
        if stagger:
            conn.execute(
                flows.update()
                .where(flows.c.id == head.id)
                .values(next_release_at=times[-1] + timedelta(seconds=stagger))
            )
        if gap:
            conn.execute(
                flow_gate.update()
                .where(flow_gate.c.name == _GATE)
                .values(next_at=times[-1] + timedelta(seconds=gap))
            )

    def _gate(self, conn: Connection, now: datetime) -> datetime:
        """Lock the shared release row; return the earliest time the next run may start."""
        conn.execute(
            self.dialect.insert(flow_gate)
            .values(name=_GATE, next_at=now)
            .on_conflict_do_nothing(index_elements=[flow_gate.c.name])
        )
        found: datetime = conn.execute(
            self.dialect.lock(sa.select(flow_gate.c.next_at).where(flow_gate.c.name == _GATE))
        ).scalar_one()
        return found

    def stuck(self, conn: Connection, limit: int = 100) -> builtins.list[int]:
        """Running flows none of whose runs is queued or running: nothing will settle them
        unless someone looks (a run cancelled outside the flow, say)."""
        active = sa.select(runs.c.id).where(
            runs.c.flow_id == flows.c.id, runs.c.status.in_(_ACTIVE_RUNS)
        )
        query = (
            sa.select(flows.c.id)
            .where(flows.c.status == _RUNNING, ~sa.exists(active))
            .order_by(flows.c.id)
            .limit(limit)
        )
        return [row[0] for row in conn.execute(query)]

    # -- operators' actions ------------------------------------------------------------

    def cancel(self, conn: Connection, flow_id: int, now: datetime, reason: str) -> int:
        """Cancel a running flow (locked by the caller): its pending runs at once, its
        running ones by asking them to stop. Returns how many runs are asked to stop."""
        conn.execute(
            runs.update()
            .where(runs.c.flow_id == flow_id, runs.c.status.in_(PENDING_RUN_STATUSES))
            .values(status=RunStatus.CANCELLED.value, finished_at=now, error=reason, token=None)
        )
        running = conn.execute(
            runs.update()
            .where(runs.c.flow_id == flow_id, runs.c.status == RunStatus.RUNNING.value)
            .values(cancel_requested=True)
            .returning(runs.c.id)
        ).all()
        conn.execute(
            flows.update()
            .where(flows.c.id == flow_id, flows.c.status == _RUNNING)
            .values(status=FlowStatus.CANCELLED.value, finished_at=now)
        )
        if running:
            self.dialect.notify(conn, CANCEL_CHANNEL)
        return len(running)

    def running_for_schedule(self, conn: Connection, schedule_id: int) -> tuple[int, int]:
        """A group schedule's running flows: how many have not started a run yet, and how
        many have (its overlap policy counts them as pending and running)."""
        started = sa.select(runs.c.id).where(
            runs.c.flow_id == flows.c.id, runs.c.started_at.is_not(None)
        )
        rows = conn.execute(
            sa.select(sa.exists(started)).where(
                flows.c.schedule_id == schedule_id, flows.c.status == _RUNNING
            )
        ).all()
        running = sum(1 for row in rows if row[0])
        return len(rows) - running, running

    def cancel_for_schedule(
        self, conn: Connection, schedule_id: int, now: datetime, reason: str
    ) -> builtins.list[int]:
        """Cancel a schedule's running flows; return their ids."""
        ids = [
            row[0]
            for row in conn.execute(
                sa.select(flows.c.id).where(
                    flows.c.schedule_id == schedule_id, flows.c.status == _RUNNING
                )
            )
        ]
        for flow_id, status in self.lock(conn, ids).items():
            if status == _RUNNING:
                self.cancel(conn, flow_id, now, reason)
        return ids

    def retry(
        self,
        conn: Connection,
        flow_id: int,
        now: datetime,
        *,
        only: Sequence[int] | None = None,
    ) -> int:
        """Run a flow's failed, cancelled and skipped runs again (those of ``only`` and the
        skipped ones, when given), keeping its succeeded ones; the flow runs again. The
        caller holds the flow's lock. Returns how many runs go back to waiting."""
        query = sa.select(runs).where(runs.c.flow_id == flow_id, runs.c.status.in_(_RETRIED))
        again = [
            row
            for row in conn.execute(query)
            if only is None or row.id in only or row.status == RunStatus.SKIPPED.value
        ]
        if not again:
            return 0
        _keep_attempt_history(conn, [row for row in again if row.started_at is not None])
        for row in again:
            _reopen_run(conn, row, now)
        _reopen_flow(conn, flow_id)
        self.settle(conn, [flow_id], now)
        return len(again)

    def delete_finished_before(
        self, conn: Connection, cutoff: datetime, limit: int, *, tenant_id: str | None = None
    ) -> int:
        """Delete up to ``limit`` flows that ended before ``cutoff`` (only ``tenant_id``'s
        when given) and whose runs are gone; return how many."""
        left = sa.select(runs.c.id).where(runs.c.flow_id == flows.c.id)
        victims = (
            sa.select(flows.c.id)
            .where(flows.c.finished_at < cutoff, flows.c.status != _RUNNING, ~sa.exists(left))
            .limit(limit)
        )
        if tenant_id is not None:
            victims = victims.where(flows.c.tenant_id == tenant_id)
        ids = [row[0] for row in conn.execute(victims)]
        if ids:
            conn.execute(flows.delete().where(flows.c.id.in_(ids)))
        return len(ids)


def _keep_attempt_history(conn: Connection, ran: Sequence[sa.Row[Any]]) -> None:
    """Keep the attempts that ran in ``run_attempts`` before their runs start over."""
    if not ran:
        return
    conn.execute(
        run_attempts.insert(),
        [
            {
                "run_id": row.id,
                "attempt": row.attempt,
                "status": row.status,
                "worker_id": row.worker_id,
                "started_at": row.started_at,
                "finished_at": row.finished_at,
                "error": row.error,
                "traceback": row.traceback,
            }
            for row in ran
        ],
    )


def _reopen_run(conn: Connection, row: sa.Row[Any], now: datetime) -> None:
    """Put one ended run of a flow back to waiting (a new attempt when it had started)."""
    started = row.started_at is not None
    conn.execute(
        runs.update()
        .where(runs.c.id == row.id, runs.c.status == row.status)
        .values(
            status=_WAITING,
            attempt=row.attempt + 1 if started else row.attempt,
            max_attempts=max(row.max_attempts, row.attempt + 1) if started else row.max_attempts,
            run_at=now,
            started_at=None,
            finished_at=None,
            token=None,
            worker_id=None,
            heartbeat_at=None,
            error=None,
            traceback=None,
            result=None,
            skip_reason=None,
            details=None,
            cancel_requested=False,
        )
    )


def _reopen_flow(conn: Connection, flow_id: int) -> None:
    """Mark a flow running again; refused while another running flow holds its key."""
    try:
        with conn.begin_nested():
            conn.execute(
                flows.update()
                .where(flows.c.id == flow_id)
                .values(status=_RUNNING, finished_at=None, next_release_at=None)
            )
    except sa.exc.IntegrityError as exc:
        raise ConflictError(
            "another running flow holds this flow's key; wait for it to end", field="key"
        ) from exc
