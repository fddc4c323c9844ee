"""The enqueue statements, straight through the store: a run and its audit entry written
together, key dedupe, batches in order with one audit entry, and NUL characters."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tickwork import FakeClock
from tickwork.storage.audit_store import ENTRY_COLUMNS, insert_entry_sql
from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore
from tickwork.storage.tables import audit_log, runs

from .queue_helpers import claim, get, run_values, seconds


def audit_rows(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id))
        return [dict(row._mapping) for row in rows]


def count_runs(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())


def test_a_run_and_its_audit_entry_are_written_together(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    values = run_values(clock.now(), payload={"report": "weekly"}, tenant_id="acme", key="k1")
    with db.write_statement() as conn:
        run, created = store.enqueue_audited(conn, values, actor="ann", source="api")
    assert created
    assert get(db, run.id) == run
    (entry,) = audit_rows(db)
    assert {name: entry[name] for name in ENTRY_COLUMNS} == {
        "at": clock.now(),
        "actor": "ann",
        "source": "api",
        "action": "run.enqueue",
        "target_type": "run",
        "target_id": str(run.id),
        "tenant_id": "acme",
        "before": None,
        "after": {"task": "noop", "payload": {"report": "weekly"}, "key": "k1"},
    }


def test_a_key_held_by_a_pending_run_returns_that_run(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    with db.write_statement() as conn:
        first, created = store.enqueue_audited(
            conn, run_values(now, key="nightly"), actor="a", source="api"
        )
    assert created
    with db.write_statement() as conn:
        again, created = store.enqueue_audited(
            conn, run_values(now, key="nightly", payload={"other": 1}), actor="a", source="api"
        )
    assert (again.id, created) == (first.id, False)
    assert again.payload == {}
    assert count_runs(db) == 1
    assert [e["action"] for e in audit_rows(db)] == ["run.enqueue"]
    # A running run no longer holds its key: the next enqueue creates a run.
    claim(db, store, now)
    with db.write_statement() as conn:
        later, created = store.enqueue_audited(
            conn, run_values(now, key="nightly"), actor="a", source="api"
        )
    assert created
    assert later.id != first.id
    # A run without a key never conflicts.
    for _ in range(2):
        with db.write_statement() as conn:
            assert store.enqueue_audited(conn, run_values(now), actor="a", source="api")[1]
    assert count_runs(db) == 4


@pytest.mark.parametrize("shared", [True, False], ids=["shared-fields", "varying-fields"])
def test_a_batch_is_inserted_in_order_with_one_audit_entry(
    db: Database, store: RunStore, clock: FakeClock, shared: bool
) -> None:
    now = clock.now()
    rows = [
        {
            key: value
            for key, value in run_values(
                now if shared else now + seconds(i),
                payload={"n": i},
                priority=0 if shared else i,
                queue="default" if shared else f"q{i % 2}",
            ).items()
            if key != "key"
        }
        for i in range(5)
    ]
    with db.write_statement() as conn:
        ids = store.enqueue_many(
            conn, rows, audit={"at": now, "actor": "bob", "source": "cli", "tenant_id": None}
        )
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    stored = [get(db, run_id) for run_id in ids]
    assert [r.payload for r in stored] == [{"n": i} for i in range(5)]
    assert [r.priority for r in stored] == [0 if shared else i for i in range(5)]
    assert [r.run_at for r in stored] == [now if shared else now + seconds(i) for i in range(5)]
    (entry,) = audit_rows(db)
    assert (entry["action"], entry["actor"], entry["source"], entry["target_id"]) == (
        "run.enqueue_many",
        "bob",
        "cli",
        None,
    )
    assert entry["after"] == {"count": 5, "first_id": ids[0], "last_id": ids[-1]}


def test_nul_characters_are_kept_where_the_database_can_hold_them(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    with db.write_statement() as conn:
        run, _ = store.enqueue_audited(
            conn, run_values(clock.now(), payload={"text": "a\x00b"}), actor="a", source="api"
        )
    expected = "a\x00b" if db.dialect.stores_nul else "a\ufffdb"
    assert run.payload == {"text": expected}
    assert get(db, run.id).payload == {"text": expected}


def test_audit_inserts_are_checked_against_the_entry_columns() -> None:
    assert insert_entry_sql({name: f":{name}" for name in ENTRY_COLUMNS}).startswith(
        f"INSERT INTO audit_log ({', '.join(ENTRY_COLUMNS)}) VALUES (:at, "
    )
    with pytest.raises(ValueError, match="unknown \\['color'\\]"):
        insert_entry_sql(dict.fromkeys((*ENTRY_COLUMNS, "color"), "NULL"))
    with pytest.raises(ValueError, match="missing \\['actor'\\]"):
        insert_entry_sql({name: "NULL" for name in ENTRY_COLUMNS if name != "actor"})
