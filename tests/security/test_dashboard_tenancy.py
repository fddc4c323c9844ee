"""Finding 13: every tenant filter is in the query. The dashboard filtered overdue schedules
by tenant after the query's limit, so other tenants' schedules could crowd a tenant's own
out of its list."""

from __future__ import annotations

import re

from tests.support.web import Ui
from tickwork import FakeClock
from tickwork.storage.schedule_store import ScheduleStore

OVERDUE = re.compile(r"Overdue schedules:</span>(.*?)</p>", re.S)
LIST_LENGTH = 8


def _overdue_names(html: str) -> list[str]:
    found = OVERDUE.search(html)
    return (
        [] if found is None else re.findall(r'<a href="/schedules/\d+">([^<]+)</a>', found.group(1))
    )


def test_a_tenant_sees_its_overdue_schedules_however_many_others_have(
    ui: Ui, clock: FakeClock
) -> None:
    for i in range(2 * LIST_LENGTH):
        ui.app.schedules.create(name=f"acme-{i}", task="boom", interval=60, tenant_id="acme")
    clock.advance(1)
    ui.app.schedules.create(name="globex-late", task="boom", interval=60, tenant_id="globex")
    clock.advance(3600)
    client, _ = ui.login("viewer", tenant="globex")
    assert _overdue_names(client.get("/").text) == ["globex-late"]
    acme, _ = ui.login("viewer", tenant="acme")
    assert _overdue_names(acme.get("/").text) == [f"acme-{i}" for i in range(LIST_LENGTH)]


def test_the_overdue_query_applies_tenant_and_grace_before_its_limit(
    ui: Ui, clock: FakeClock
) -> None:
    for i in range(5):
        ui.app.schedules.create(name=f"acme-{i}", task="boom", interval=60, tenant_id="acme")
    # Overdue but within a long grace: never listed, and never takes a place in the list.
    ui.app.schedules.create(
        name="patient", task="boom", interval=60, misfire_grace=86_400, tenant_id="globex"
    )
    clock.advance(1)
    ui.app.schedules.create(name="globex-late", task="boom", interval=60, tenant_id="globex")
    clock.advance(3600)
    store = ScheduleStore(ui.app.db.dialect)
    with ui.app.db.read() as conn:
        now = ui.app.db.now()
        assert [s.name for s in store.overdue(conn, now, limit=1, restrict_tenant="globex")] == [
            "globex-late"
        ]
        assert [s.name for s in store.overdue(conn, now, limit=2)] == ["acme-0", "acme-1"]
        assert len(store.overdue(conn, now, limit=50)) == 6
