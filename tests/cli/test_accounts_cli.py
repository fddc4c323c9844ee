"""``tickwork users`` and ``tokens``: accounts made from the command line, refused input in
one line, every change audited as the CLI's; ``--auth none`` refused off loopback."""

from __future__ import annotations

import json

from tests.support.cli import InProcessCli
from tickwork import Tickwork
from tickwork.domain.queries import AuditFilter
from tickwork.storage.audit_store import AuditStore


def _audit(app: Tickwork, action: str) -> list[tuple[str, str]]:
    with app.db.read() as conn:
        entries = AuditStore().list(conn, AuditFilter(action=action), limit=100)
    return [(e.actor, e.source) for e in entries]


def test_users_and_tokens_are_created_listed_revoked_and_audited_as_the_tickwork(
    app: Tickwork, tickwork: InProcessCli
) -> None:
    made = tickwork("users", "create", "ada", "--role", "operator", "--json")
    assert made.code == 0, made.err
    created = json.loads(made.out)
    assert created["user"]["role"] == "operator"
    assert len(created["password"]) >= 20
    piped = tickwork(
        "users",
        "create",
        "bob",
        "--tenant",
        "acme",
        "--password-stdin",
        stdin="a long password\n",
    )
    assert piped.code == 0, piped.err
    assert "password:" not in piped.out
    duplicate = tickwork("users", "create", "ada")
    assert duplicate.code == 2
    assert duplicate.err.strip().splitlines() == [
        "error (username): a user named 'ada' already exists"
    ]
    bad_role = tickwork("users", "create", "eve", "--role", "root").error_line()
    assert bad_role == "error (role): 'root' is not one of viewer, operator, admin"

    token = tickwork("tokens", "create", "ci", "--user", "ada", "--expires", "30d", "--json")
    assert token.code == 0, token.err
    secret = json.loads(token.out)["secret"]
    assert secret.startswith("tw_")
    assert json.loads(token.out)["token"]["role"] == "operator"
    listed = json.loads(tickwork("tokens", "list", "--json").out)
    assert [t["name"] for t in listed] == ["ci"]
    assert secret not in json.dumps(listed)
    revoked = tickwork("tokens", "revoke", "ci")
    assert revoked.code == 0, revoked.err
    assert tickwork("tokens", "list", "--json").out.strip() == "[]"
    disabled = tickwork("users", "disable", "ada")
    assert disabled.code == 0
    users = json.loads(tickwork("users", "list", "--json").out)
    assert [(u["username"], u["disabled"], u["tenant_id"]) for u in users] == [
        ("ada", True, None),
        ("bob", False, "acme"),
    ]
    for action in ("user.create", "token.create", "token.revoke", "user.disable"):
        assert ("cli", "cli") in _audit(app, action), action


def test_auth_none_is_refused_off_loopback(tickwork: InProcessCli) -> None:
    refused = tickwork("web", "--auth", "none", "--host", "0.0.0.0")
    assert refused.code == 2
    lines = refused.err.strip().splitlines()
    assert len(lines) == 1
    assert "loopback" in lines[0]


def test_tokens_and_users_take_app_like_every_other_command(
    app: Tickwork, tickwork: InProcessCli
) -> None:
    """``tokens create --app ...`` was refused ("No such option"); it finds the accounts in
    the app's database, as ``schedules`` and ``runs`` do."""
    made = tickwork("tokens", "create", "ci", "--app", "tests.apps.cli_app:build", "--json")
    assert made.code == 0, made.err
    listed = tickwork("tokens", "list", "--app", "tests.apps.cli_app:build", "--json")
    assert [t["name"] for t in json.loads(listed.out)] == ["ci"]
    assert tickwork("users", "list", "--app", "tests.apps.cli_app:build", "--json").code == 0
    refused = tickwork("tokens", "list", "--app", "no_such_module:app")
    assert refused.code == 2
    assert "cannot import 'no_such_module'" in refused.error_line()
