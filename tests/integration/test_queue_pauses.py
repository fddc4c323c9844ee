"""Pausing a queue: workers claim none of its runs (and do not spin on them) until it is
resumed; running runs carry on; only principals bound to no tenant may pause."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support.schedules import audit_actions
from tests.support.waiting import wait_for
from tickwork import Context, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import InvalidInputError, PermissionDeniedError
from tickwork.duties.worker import WorkerConfig
from tickwork.storage.run_store import RunStore


def _recording(app: Tickwork) -> list[str]:
    done: list[str] = []

    @app.task("record")
    def record(ctx: Context, payload: dict[str, Any]) -> None:
        done.append(payload["name"])

    return done


def test_a_paused_queue_is_not_claimed_until_it_is_resumed(app: Tickwork) -> None:
    done = _recording(app)
    slow = [app.enqueue("record", {"name": f"slow-{i}"}, queue="slow") for i in range(2)]
    app.enqueue("record", {"name": "default"})
    state = app.queues.pause("slow", note="upstream down")
    assert (state.paused, state.pending, state.pause and state.pause.note) == (
        True,
        2,
        "upstream down",
    )
    app.worker(WorkerConfig(concurrency=2)).run_until_idle(30)
    assert done == ["default"]
    assert {app.runs.get(r.id).status.value for r in slow} == {"queued"}
    # An idle worker does not wake up for runs it may not claim.
    with app.db.read() as conn:
        assert RunStore(app.db.dialect).next_run_at(conn) is None

    listed = {q.name: q for q in app.queues.list()}
    assert listed["slow"].paused
    assert "default" not in listed  # nothing waits in it
    assert app.queues.pause("slow").pause.note == "upstream down"  # type: ignore[union-attr]

    assert not app.queues.resume("slow").paused
    app.worker(WorkerConfig(concurrency=2)).run_until_idle(30)
    assert sorted(done) == ["default", "slow-0", "slow-1"]
    assert audit_actions(app).count("queue.pause") == 1
    assert audit_actions(app).count("queue.resume") == 1


def test_resuming_wakes_a_running_worker(app: Tickwork) -> None:
    done = _recording(app)
    app.queues.pause("default")
    app.enqueue("record", {"name": "waiting"})
    stop = threading.Event()
    worker = app.worker(WorkerConfig(concurrency=1, poll_interval=60))
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(worker.started.is_set, what="the worker started")
        app.queues.resume("default")
        wait_for(lambda: done == ["waiting"], what="the resumed queue's run ran")
    finally:
        stop.set()
        thread.join(30)


def test_only_unbound_operators_pause_queues(app: Tickwork) -> None:
    with pytest.raises(PermissionDeniedError):
        app.queues.pause("default", actor=Actor(name="v", role=Role.VIEWER))
    with pytest.raises(PermissionDeniedError):
        app.queues.pause("default", actor=Actor(name="o", role=Role.OPERATOR, tenant_id="acme"))
    for bad in ("", "x" * 101, "bad\x00name"):
        with pytest.raises(InvalidInputError) as caught:
            app.queues.pause(bad)
        assert caught.value.field == "queue"
    app.queues.pause("default", actor=Actor(name="o", role=Role.OPERATOR))
    assert app.queues.list(actor=Actor(name="t", role=Role.VIEWER, tenant_id="acme")) == []
