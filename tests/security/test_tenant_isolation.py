"""Tenant isolation, route by route: a principal of one tenant never receives another
tenant's ids, names or payloads, never changes its rows, and cannot tell its objects exist.

Tenant A (and the rows of no tenant) are seeded with schedules, runs with keys, payloads,
results and logs, flags, users, tokens and audit entries; every id A owns lies in a range
no other row uses, and every name A chose carries a random marker. Then every route of the
web app, enumerated from the app itself (the OpenAPI document's API routes and the UI's
routes, so a new route is covered without editing this test), is called by tenant B's
viewer, operator and admin with A's ids, names, keys and tenant in its path, query and
body, and with B's own and never-used ones. For each call:

- the response (body and redirect) holds no marker and no id of A that B did not send
  itself (in this call, or in an earlier one that stored it in B's own rows: reads run
  first, before B stores anything);
- a call whose path names A's object answers exactly as the same call naming an id or
  name nobody uses (no oracle such as 403 against 404; names and keys in bodies are
  covered by ``test_tenant_names`` and ``test_run_keys``);
- after every call that may change something, A's rows and the rows of no tenant are what
  they were.

A route for whose path parameters no values are known fails the test, naming it.
"""

from __future__ import annotations

import json
import re
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tests.support.accounts import ADMIN_ACTOR, PASSWORD
from tests.support.web import Api
from tickwork.domain.actor import Actor, Role
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.database import Database
from tickwork.storage.tables import metadata

ROLES = ("viewer", "operator", "admin")
A_BASE = 7_340_000  # every id tenant A owns is in [A_BASE, A_BASE + 1000)
B_BASE = 8_150_000
UNUSED_ID = A_BASE + 777  # in A's range, never handed out
UNUSED_FLAG = "flag-nobody-has"
A_ID = re.compile(r"(?<![\w.])734\d{4}(?![\w])")
SAFE = frozenset({"GET", "HEAD"})
# Anyone may try to log in as anyone: a failed login is audited in the user's tenant.
LOGIN_ROUTES = frozenset({"/api/v1/auth/login", "/login"})
# Tables whose rows tenant B must never change: A's and those of no tenant.
GUARDED = (
    "schedules",
    "runs",
    "flags",
    "users",
    "api_tokens",
    "audit_log",
    "run_attempts",
    "flows",
    "alerts",
    "channels",
)


def _flatten(web: FastAPI) -> Iterator[tuple[frozenset[str], str, bool]]:
    """Every route of ``web`` as (methods, path template, in the OpenAPI document)."""
    for route in web.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        found = contexts() if callable(contexts) else [route]
        for item in found:
            methods = getattr(item, "methods", None)
            path = getattr(item, "path", None)
            if not methods or not path:
                continue  # mounts of static files
            yield frozenset(methods) - {"HEAD"}, path, bool(getattr(item, "include_in_schema", 0))


def _set_sequences(db: Database, start: int) -> None:
    """Make every id table hand out ids from ``start`` on."""
    with db.engine.begin() as conn:
        for table in GUARDED:
            if db.dialect.is_sqlite:
                updated = conn.exec_driver_sql(
                    "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (start, table)
                ).rowcount
                if not updated:
                    conn.exec_driver_sql(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, start)
                    )
            else:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {start})"
                )


@dataclass
class World:
    """What the test seeded: A's markers and ids, B's own ids, and B's clients."""

    api: Api
    tenant_a: str
    markers: set[str] = field(default_factory=set)
    a: dict[str, list[Any]] = field(default_factory=dict)
    b: dict[str, list[Any]] = field(default_factory=dict)
    clients: dict[str, TestClient] = field(default_factory=dict)


def _seed(api: Api) -> World:
    app = api.app
    mark = secrets.token_hex(4)
    world = World(api, tenant_a=f"acme-{mark}")
    tenant_a = world.tenant_a
    a_admin = Actor(name=f"acme-admin-{mark}", source="test", role=Role.ADMIN, tenant_id=tenant_a)
    # B's principals first (outside A's range).
    for role in ROLES:
        world.clients[role] = api.as_role(role, "globex")
    # The installation's channel (made before A's ids): its name is anyone's to see, its
    # target only an unbound admin's.
    channel = app.channels.create(
        "ops", "webhook", url=f"https://hooks.example/acme-{mark}", secret=f"secret-{mark}"
    )
    _set_sequences(app.db, A_BASE)
    names = {
        kind: f"acme-{kind}-{mark}"
        for kind in (
            "sched",
            "paused",
            "key",
            "flag",
            "flagdesc",
            "payload",
            "user",
            "token",
            "flowkey",
            "groupsched",
        )
    }
    world.markers |= {*names.values(), tenant_a, a_admin.name}
    sched = app.schedules.create(
        name=names["sched"],
        task="greet",
        interval=60,
        payload={"name": names["payload"]},
        description=f"acme description {mark}",
        condition=names["flag"],
        actor=a_admin,
    )
    paused = app.schedules.create(
        name=names["paused"], task="greet", cron="0 * * * *", actor=a_admin
    )
    app.schedules.pause(paused.id, note=f"acme pause note {mark}", actor=a_admin)
    world.markers |= {f"acme description {mark}", f"acme pause note {mark}"}
    ran = app.schedules.run_now(sched.id, actor=a_admin)
    failed = app.enqueue("boom", {}, actor=a_admin)
    app.worker(concurrency=2).run_until_idle(20)
    keyed = app.enqueue("greet", {"name": names["payload"]}, key=names["key"], actor=a_admin)
    group_sched = app.schedules.create(
        name=names["groupsched"],
        group="pair",
        cron="0 * * * *",
        payload={"greet": {"name": names["payload"]}},
        actor=a_admin,
    )
    finished_flow = app.schedules.run_now(group_sched.id, actor=a_admin)
    app.worker(concurrency=2).run_until_idle(20)
    keyed_flow = app.flows.start(group="pair", key=names["flowkey"], actor=a_admin)
    app.flags.set(a_admin, names["flag"], True, description=names["flagdesc"])
    user, _ = app.users.create_user(a_admin, names["user"], role="operator", password=PASSWORD)
    token, _ = app.tokens.create_token(a_admin, names["token"], role="viewer")
    # Logins of A's user, failed and not (auth.* entries with the name typed).
    login = api.anonymous()
    login.post("/api/v1/auth/login", json={"username": names["user"], "password": "bad-pw"})
    login.post("/api/v1/auth/login", json={"username": names["user"], "password": PASSWORD})
    alerts = AlertStore(app.db.dialect)
    with app.db.write() as conn:
        a_alert = alerts.open_alert(
            conn,
            event="schedule.failing",
            subject=f"schedule:{sched.id}",
            text=f"acme alert {mark}",
            now=app.db.now(),
            schedule_id=sched.id,
            tenant_id=tenant_a,
        )
        global_alert = alerts.open_alert(
            conn,
            event="process.down",
            subject="scheduler",
            text=f"installation alert {mark}",
            now=app.db.now(),
        )
    assert a_alert is not None
    assert global_alert is not None
    world.markers |= {f"acme alert {mark}", f"installation alert {mark}", f"acme-{mark}"}
    world.a = {
        "alert": [a_alert.id, global_alert.id],
        "channel": [channel.id],
        "schedule": [sched.id, paused.id, group_sched.id],
        "run": [ran.id, failed.id, keyed.id],
        "flow": [finished_flow.id, keyed_flow.id],
        "user": [user.id],
        "token": [token.id],
        "flag": [names["flag"]],
        "key": [names["key"]],
        "flowkey": [names["flowkey"]],
        "name": [names["sched"]],
        "username": [names["user"]],
    }
    # Rows of no tenant: B must not see or change them either.
    shared = app.schedules.create(
        name=f"shared-{mark}", task="greet", interval=60, actor=ADMIN_ACTOR
    )
    shared_run = app.enqueue("greet", key=f"shared-key-{mark}", actor=ADMIN_ACTOR)
    app.flags.set(ADMIN_ACTOR, f"shared-flag-{mark}", True)
    world.markers |= {f"shared-{mark}", f"shared-key-{mark}"}
    world.a["schedule"].append(shared.id)
    world.a["run"].append(shared_run.id)
    shared_flow = app.flows.start(group="hello", key=f"shared-flowkey-{mark}", actor=ADMIN_ACTOR)
    world.markers.add(f"shared-flowkey-{mark}")
    world.a["flow"].append(shared_flow.id)
    # Tenant B's own objects, to act on.
    _set_sequences(app.db, B_BASE)
    b_admin = Actor(name="globex-admin", source="test", role=Role.ADMIN, tenant_id="globex")
    b_sched = app.schedules.create(name="globex-job", task="greet", interval=60, actor=b_admin)
    b_run = app.enqueue("boom", actor=b_admin)
    app.runs.cancel(b_run.id, actor=b_admin)
    b_flow = app.flows.start(group="hello", actor=b_admin)
    b_user, _ = app.users.create_user(b_admin, "globex-ops", role="viewer", password=PASSWORD)
    b_token, _ = app.tokens.create_token(b_admin, "globex-ci", role="viewer")
    app.flags.set(b_admin, "globex-flag", True)
    with app.db.write() as conn:
        b_alert = alerts.open_alert(
            conn,
            event="schedule.failing",
            subject=f"schedule:{b_sched.id}",
            text="globex alert",
            now=app.db.now(),
            schedule_id=b_sched.id,
            tenant_id="globex",
        )
    assert b_alert is not None
    world.b = {
        "alert": [b_alert.id],
        "schedule": [b_sched.id],
        "run": [b_run.id],
        "flow": [b_flow.id],
        "user": [b_user.id],
        "token": [b_token.id],
        "flag": ["globex-flag"],
    }
    return world


def _dump(db: Database, tenant_a: str) -> dict[str, list[tuple[Any, ...]]]:
    """Tenant A's rows and the rows of no tenant, in every guarded table."""
    found = {}
    with db.engine.connect() as conn:
        for name in GUARDED:
            table = metadata.tables[name]
            query = sa.select(table).order_by(table.c.id)
            if "tenant_id" in table.c:
                query = query.where(
                    sa.or_(table.c.tenant_id.is_(None), table.c.tenant_id == tenant_a)
                )
            else:  # run_attempts belong to their runs
                query = query.where(table.c.id < B_BASE)
            found[name] = [tuple(r) for r in conn.execute(query)]
    return found


# -- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request, and what it names of tenant A (for the oracle comparison)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    json_body: Any = None
    form: tuple[tuple[str, str], ...] | None = None
    probe: tuple[str, str] | None = None  # (kind, "a" | "unused"): what the path names

    def url(self) -> str:
        return self.path + (f"?{urlencode(self.query)}" if self.query else "")

    def sent(self) -> str:
        body = json.dumps(self.json_body) if self.json_body is not None else ""
        return self.url() + body + (urlencode(self.form) if self.form else "")


def _path_values(world: World, path: str, param: str) -> list[tuple[Any, str | None]]:
    """Values for ``{param}`` of ``path``: A's (probed against an unused one) and B's."""
    if param == "channel_id":
        # The installation's channels are not tenant A's: B reads their names, changes none.
        return [(world.a["channel"][0], None), (UNUSED_ID, None)]
    if param in ("schedule_id", "run_id", "user_id", "token_id", "alert_id", "flow_id"):
        kind = param.removesuffix("_id")
        return [
            *((v, "a") for v in world.a[kind]),
            (UNUSED_ID, "unused"),
            *((v, None) for v in world.b[kind]),
        ]
    if param == "name" and "/flags/" in path:
        return [
            (world.a["flag"][0], "a"),
            (UNUSED_FLAG, "unused"),
            (world.b["flag"][0], None),
        ]
    if param == "name" and "/tasks/" in path:
        return [("greet", None), ("no-such-task", None)]
    if param == "name" and "/groups/" in path:
        return [("pair", None), ("no-such-group", None)]
    if param == "name" and "/queues/" in path:
        # Queues are shared: a principal bound to a tenant may not pause or resume any.
        return [("default", None), ("no-such-queue", None)]
    raise AssertionError(f"no values for {{{param}}} of {path}: teach the isolation test")


def _queries(world: World, path: str, methods: frozenset[str]) -> list[tuple[tuple[str, str], ...]]:
    """No query, and one naming A's tenant, objects and actors wherever a route reads them."""
    a_sched = str(world.a["schedule"][0])
    named = (
        ("tenant_id", world.tenant_a),
        ("tenant", world.tenant_a),
        ("schedule_id", a_sched),
        ("schedule", world.a["name"][0]),
        ("task", "boom"),
        ("group", "pair"),
        ("actor", world.a["username"][0]),
        ("action", "auth.login_failed"),
        ("target_type", "schedule"),
        ("target_id", a_sched),
        ("user_id", str(world.a["user"][0])),
        ("before_id", str(A_BASE + 999)),
        ("after_id", str(A_BASE - 1)),
        ("before", str(A_BASE + 999)),
        ("text", "acme"),
        ("error", "a"),
        ("payload", "acme"),
    )
    if path.startswith("/api/v1/flags/"):
        return [(), (("tenant_id", world.tenant_a),)]
    if methods & SAFE:
        return [(), named]
    return [()]


def _bodies(world: World, method: str, path: str) -> list[tuple[Any, Any]]:
    """(json, form) bodies for a changing request: naming A's tenant, names and keys."""
    a = world.a
    tenant = world.tenant_a
    json_bodies: dict[tuple[str, str], list[Any]] = {
        ("POST", "/api/v1/schedules"): [
            {"name": a["name"][0], "task": "greet", "interval": 60, "tenant_id": tenant},
            {"name": a["name"][0], "task": "greet", "interval": 60},
        ],
        ("PATCH", "/api/v1/schedules/{schedule_id}"): [
            {"tenant_id": tenant},
            {"description": "changed by globex"},
        ],
        ("POST", "/api/v1/schedules/{schedule_id}/pause"): [{"note": "globex pause"}],
        ("POST", "/api/v1/schedules/{schedule_id}/resume"): [{"misfire": "skip"}],
        ("POST", "/api/v1/schedules/{schedule_id}/run"): [{}],
        ("POST", "/api/v1/flows"): [
            {"group": "pair", "key": a["flowkey"][0]},
            {"group": "pair", "key": a["flowkey"][0], "tenant_id": tenant},
            {"tasks": ["boom"], "tenant_id": tenant},
        ],
        ("POST", "/api/v1/runs"): [
            {"task": "greet", "key": a["key"][0]},
            {"task": "greet", "key": a["key"][0], "tenant_id": tenant},
        ],
        ("POST", "/api/v1/users"): [
            {"username": f"globex-new-{secrets.token_hex(3)}", "tenant_id": tenant},
            {"username": f"globex-new-{secrets.token_hex(3)}"},
        ],
        ("PATCH", "/api/v1/users/{user_id}"): [{"tenant_id": tenant}, {"role": "viewer"}],
        ("POST", "/api/v1/tokens"): [
            {"name": "globex-new", "user_id": a["user"][0]},
            {"name": "globex-new", "tenant_id": tenant},
            {"name": "globex-new"},
        ],
        ("PUT", "/api/v1/flags/{name}"): [{"enabled": False, "description": "by globex"}],
        ("POST", "/api/v1/schedules/bulk"): [
            {"action": action, "ids": a["schedule"]} for action in ("pause", "run", "delete")
        ]
        + [
            {"action": "resume", "filter": {"tenant_id": tenant}},
            {"action": "pause", "filter": {"text": a["name"][0]}},
            {"action": "delete", "filter": {}},
        ],
        ("POST", "/api/v1/runs/bulk"): [
            {"action": "cancel", "ids": a["run"]},
            {"action": "retry", "ids": a["run"]},
            {"action": "cancel", "filter": {"tenant_id": tenant}},
            {"action": "retry", "filter": {}},
        ],
        ("POST", "/api/v1/schedules/{schedule_id}/backfill"): [
            {"start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"}
        ],
        ("POST", "/api/v1/schedules/simulate"): [
            {"task": "greet", "interval": 60, "tenant_id": tenant, "condition": a["flag"][0]},
            {"task": "greet", "interval": 60, "condition": a["flag"][0]},
        ],
        ("POST", "/api/v1/channels"): [
            {"name": "globex", "kind": "webhook", "url": "https://globex.example/x"}
        ],
        ("PATCH", "/api/v1/channels/{channel_id}"): [{"url": "https://globex.example/x"}],
        ("POST", "/api/v1/auth/login"): [{"username": a["username"][0], "password": "bad-pw"}],
        ("POST", "/api/v1/auth/password"): [
            {"current_password": PASSWORD, "new_password": "a brand new password"}
        ],
    }
    form = {
        "name": a["name"][0],
        "task": "greet",
        "trigger": "interval",
        "interval": "60",
        "tenant_id": tenant,
        "timezone": "UTC",
        "misfire_policy": "skip",
        "overlap_policy": "allow",
        "config.name": "globex",
        "version": "1",
    }
    forms: dict[tuple[str, str], list[dict[str, str]]] = {
        ("POST", "/schedules/new"): [
            form,
            {**form, "tenant_id": ""},
            {**form, "target": "group", "group": "pair", "name": a["name"][0]},
        ],
        ("POST", "/schedules/{schedule_id}/edit"): [
            form,
            {**form, "target": "group", "group": "pair"},
        ],
        ("POST", "/flows/start"): [{"group": "pair"}, {"all": "true"}],
        ("POST", "/admin/users"): [
            {"username": f"globex-u-{secrets.token_hex(3)}", "role": "admin", "tenant_id": tenant}
        ],
        ("POST", "/admin/users/{user_id}/role"): [{"role": "admin"}],
        ("POST", "/admin/tokens"): [
            {"name": "globex-t", "role": "viewer", "user_id": str(a["user"][0])},
            {"name": "globex-t", "role": "viewer", "tenant_id": tenant},
        ],
        ("POST", "/login"): [{"username": a["username"][0], "password": "bad-pw", "next": "/"}],
        ("POST", "/schedules/bulk"): [
            {"action": "pause", "scope": "ids", "ids": str(a["schedule"][0]), "confirm": "yes"},
            {"action": "delete", "scope": "all", "tenant": tenant, "confirm": "yes"},
            {"action": "run", "scope": "all", "q": a["name"][0]},
        ],
        ("POST", "/runs/bulk"): [
            {"action": "cancel", "scope": "ids", "ids": str(a["run"][0]), "confirm": "yes"},
            {"action": "retry", "scope": "all", "confirm": "yes"},
        ],
        ("POST", "/schedules/{schedule_id}/backfill"): [
            {"start": "2000-01-01T00:00:00", "end": "2000-01-02T00:00:00"}
        ],
    }
    if path.startswith("/api/"):
        return [(body, None) for body in json_bodies.get((method, path), [None])]
    return [(None, body) for body in forms.get((method, path), [{}])]


def _calls(world: World, methods: frozenset[str], template: str) -> list[Call]:
    params = re.findall(r"{(\w+)}", template)
    assert len(params) <= 1, f"{template}: teach the isolation test about several parameters"
    paths: list[tuple[str, tuple[str, str] | None]] = [(template, None)]
    if params:
        paths = [
            (
                template.replace(f"{{{params[0]}}}", str(value)),
                None if who is None else (params[0], who),
            )
            for value, who in _path_values(world, template, params[0])
        ]
    calls = []
    for method in sorted(methods):
        for path, probe in paths:
            for query in _queries(world, template, frozenset({method})):
                if method in SAFE:
                    calls.append(Call(method, path, query, probe=probe))
                    continue
                for json_body, form in _bodies(world, method, template):
                    calls.append(
                        Call(
                            method,
                            path,
                            query,
                            json_body=json_body,
                            form=None if form is None else tuple(form.items()),
                            probe=probe,
                        )
                    )
    return calls


def _send(client: TestClient, call: Call) -> Any:
    if call.form is not None:
        return client.request(call.method, call.url(), data=dict(call.form))
    if call.json_body is not None:
        return client.request(call.method, call.url(), json=call.json_body)
    return client.request(call.method, call.url())


def _leaks(world: World, call: Call, text: str, sent_before: set[str]) -> list[str]:
    """A's markers and ids in ``text`` that B did not send, in this call or earlier ones (a
    schedule B named like one of A's is B's own)."""
    sent = call.sent()
    found = [m for m in world.markers - sent_before if m in text and m not in sent]
    found += [n for n in set(A_ID.findall(text)) if n not in sent and n not in sent_before]
    return found


def _named(world: World, call: Call) -> set[str]:
    """A's markers and ids a changing call sends (B may keep them in its own rows)."""
    sent = call.sent()
    return {m for m in world.markers if m in sent} | set(A_ID.findall(sent))


def _changes(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        t: {
            "gone": [r for r in before[t] if r not in after[t]][:2],
            "new": [r for r in after[t] if r not in before[t]][:2],
        }
        for t in before
        if before[t] != after[t]
    }


@dataclass
class Verdicts:
    """What the calls found wrong, and what they reached."""

    problems: list[str] = field(default_factory=list)
    exercised: set[tuple[str, str]] = field(default_factory=set)
    # Status codes a role got naming A's objects, waiting for the same call on an unused one.
    probes: dict[tuple[str, ...], set[int]] = field(default_factory=dict)
    changed_own: int = 0

    def compare_probe(self, role: str, template: str, call: Call, status: int) -> None:
        if call.probe is None:
            return
        key = (role, call.method, template, call.sent().replace(call.path, ""))
        if call.probe[1] != "unused":
            self.probes.setdefault(key, set()).add(status)
            return
        for other in self.probes.pop(key, set()) - {status}:
            self.problems.append(
                f"{role} {call.method} {template}: {other} for A's {call.probe[0]}, "
                f"{status} for one nobody has (an oracle)"
            )


def test_no_route_lets_one_tenant_reach_another(api: Api) -> None:
    world = _seed(api)
    db = api.app.db
    routes = [(m, p) for m, p, _ in _flatten(api.web)]
    assert set(api.web.openapi()["paths"]) <= {p for _, p in routes}
    guarded = _dump(db, world.tenant_a)
    verdicts = Verdicts()
    sent_before: set[str] = set()
    # Reads first, while B has stored nothing that names A's objects.
    ordered = sorted(
        (
            (call, template)
            for methods, template in routes
            for call in _calls(world, methods, template)
        ),
        key=lambda item: item[0].method not in SAFE,
    )
    for call, template in ordered:
        if call.method not in SAFE:
            sent_before |= _named(world, call)
        for role in ROLES:
            response = _send(world.clients[role], call)
            verdicts.exercised.add((call.method, template))
            where = f"{role} {call.method} {call.url()}"
            leaked = _leaks(
                world, call, response.text + response.headers.get("location", ""), sent_before
            )
            if leaked:
                verdicts.problems.append(f"{where}: leaked {leaked}")
            if response.status_code >= 500:
                verdicts.problems.append(f"{where}: {response.status_code}")
            verdicts.compare_probe(role, template, call, response.status_code)
            if template in LOGIN_ROUTES:
                guarded = _dump(db, world.tenant_a)
            if call.method in SAFE or template in LOGIN_ROUTES:
                continue
            verdicts.changed_own += response.status_code < 400
            now = _dump(db, world.tenant_a)
            if now != guarded:
                verdicts.problems.append(f"{where} changed A's rows: {_changes(guarded, now)}")
                guarded = now
    everything = {(m, p) for methods, p in routes for m in methods}
    assert everything - verdicts.exercised == set(), "routes not exercised"
    assert verdicts.problems == [], "\n".join(verdicts.problems[:40])
    # Not vacuous: B changed its own rows through many routes.
    assert verdicts.changed_own > 20
    assert len(verdicts.exercised) >= 70
