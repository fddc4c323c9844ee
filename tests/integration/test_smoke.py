"""End-to-end: a schedule fires, a worker runs it, the outcome is recorded."""

from __future__ import annotations

from tickwork import Context, FakeClock, Tickwork


def test_schedule_fires_and_worker_records(app: Tickwork, clock: FakeClock) -> None:
    @app.task("echo", max_attempts=2)
    def echo(ctx: Context, payload: dict) -> dict:
        ctx.log.info("echo %s", payload)
        return payload

    @app.task("boom", max_attempts=2, retry_backoff=1)
    def boom(ctx: Context) -> None:
        raise RuntimeError("nope")

    s = app.schedules.create(name="e", task="echo", interval=10, payload={"x": 1})
    app.enqueue("boom")
    clock.advance(25)
    report = app.scheduler().tick()
    assert report.runs == 2
    app.worker(concurrency=4).run_until_idle(10)
    runs = app.runs.list(schedule_id=s.id)
    assert [r.status.value for r in runs] == ["succeeded", "succeeded"]
    full = app.runs.get(runs[0].id)
    assert full.result == {"x": 1}
    assert full.logs
    assert "echo" in full.logs[0]["message"]
    failed = app.runs.list(task="boom")[0]
    assert failed.status.value == "retrying"
    assert failed.attempt == 2
    clock.advance(5)
    app.worker(concurrency=4).run_until_idle(10)
    failed = app.runs.get(failed.id)
    assert failed.status.value == "failed"
    assert "RuntimeError: nope" in (failed.error or "")
    assert [a.attempt for a in app.runs.attempts(failed.id)] == [1]
    assert app.schedules.get(s.id).last_status == "succeeded"
