"""The users page (issue 12, defect 12), through the ASGI client on SQLite and PostgreSQL:
demoting or disabling the last admin answers with the users page and a red message next to
that user's row (the page a browser without scripts gets), not the error page; a demotion
is confirmed in the browser first (``test_browser_live.py``), for which the role select says
its user and current role."""

from __future__ import annotations

import re

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Ui


def _row(page: str, username: str) -> str:
    """The table row of ``username``."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        if f'<span class="name">{username}</span>' in row:
            return row
    raise AssertionError(f"no row for {username}")


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def _user_id(ui: Ui, username: str) -> int:
    return next(u.id for u in ui.users.list_users(ADMIN_ACTOR) if u.username == username)


def test_demoting_or_disabling_the_last_admin_answers_next_to_its_row(ui: Ui) -> None:
    client, csrf = ui.login("admin")
    admin_id = _user_id(ui, "admin-all")
    page = client.get("/admin/users").text
    row = _row(page, "admin-all")
    assert 'data-role-of="admin-all" data-current="admin"' in row
    # Choosing a role submits nothing by itself (an arrow key on the select chooses one).
    assert "data-autosubmit" not in row
    assert 'aria-label="Set the role of admin-all">Set</button>' in row
    assert 'data-confirm="Disable admin-all?' in row

    for path, data in ((f"/admin/users/{admin_id}/role", {"role": "viewer"}),
                       (f"/admin/users/{admin_id}/disable", {})):  # fmt: skip
        refused = client.post(path, data={"csrf_token": csrf, **data})
        assert refused.status_code == 409, path
        # The users page itself (its heading and table), not the error page.
        assert "<h1>Users</h1>" in refused.text
        row = _row(refused.text, "admin-all")
        message = re.search(r'<p class="field-error" id="user-(\d+)-error" role="alert">(.*?)</p>',
                            row)  # fmt: skip
        assert message is not None, row
        assert message.group(1) == str(admin_id)
        assert _text(message.group(2)) == (
            "&#39;admin-all&#39; is the last admin; create another admin first"
        )
        # The role select is marked only when the role was refused (not a disable).
        marked = f'aria-invalid="true" aria-describedby="user-{admin_id}-error"' in row
        assert marked == path.endswith("/role"), path
        # The role shown is the one the user still has.
        assert '<option value="admin" selected>' in row
        assert refused.text.count('class="field-error"') == 1
    still = next(u for u in ui.users.list_users(ADMIN_ACTOR) if u.id == admin_id)
    assert (still.role.value, still.disabled) == ("admin", False)

    # With a second admin, the demotion goes through and the list shows no message.
    client_two, _ = ui.login("operator")
    operator_id = _user_id(ui, "operator-all")
    promoted = client.post(f"/admin/users/{operator_id}/role",
                           data={"csrf_token": csrf, "role": "admin"})  # fmt: skip
    assert promoted.status_code == 303
    demoted = client.post(f"/admin/users/{admin_id}/role",
                          data={"csrf_token": csrf, "role": "operator"})  # fmt: skip
    assert demoted.status_code == 303
    assert 'class="field-error"' not in client_two.get("/admin/users").text
