"""The schedules list refreshes its rows live (issue 12, defect 16), checked through the ASGI
client on SQLite and PostgreSQL: the page's poller asks for the rows it shows with the page's
own filters, the answer swaps them in by id without touching the address bar, and a viewer
bound to a tenant gets only its tenant's rows (the browser's side is in
``test_browser_live.py``)."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from tests.support.web import Ui

POLLER = re.compile(r'<div id="schedule-poller"[^>]*hx-get="([^"]+)"[^>]*>', re.S)
ROW = re.compile(
    r'<tbody id="schedule-(\d+)" data-live-row data-sig="(\w+)"([^>]*)>(.*?)</tbody>', re.S
)
HTMX = {"HX-Request": "true"}


def _poll_url(page: str) -> str:
    match = POLLER.search(page)
    assert match is not None, page
    return html.unescape(match.group(1))


def _rows(answer: str) -> dict[int, tuple[str, str, str]]:
    """Swapped-in rows by schedule id: (fingerprint, attributes, content)."""
    return {int(m[0]): (m[1], m[2], m[3]) for m in ROW.findall(answer)}


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_the_list_polls_the_rows_it_shows_and_swaps_them_in_by_id(ui: Ui) -> None:
    app = ui.app
    alpha = app.schedules.create(name="alpha", task="greet", cron="0 3 * * *",
                                 payload={"name": "a"})  # fmt: skip
    beta = app.schedules.create(name="beta", task="greet", cron="0 4 * * *",
                                payload={"name": "b"})  # fmt: skip
    client, _ = ui.login("operator")
    page = client.get("/schedules?status=active&per_page=50").text
    poll = _poll_url(page)
    assert poll == (
        f"/ui/partials/schedules/live?ids={alpha.id},{beta.id}&total=2&status=active&per_page=50"
    )
    poller = POLLER.search(page)
    assert poller is not None
    assert "data-live" in poller.group(0)
    assert 'hx-trigger="every 3s, twvisible from:body"' in poller.group(0)
    assert "hx-push-url" not in poller.group(0)
    # The checkbox keeps its tick through a swap; the page's rows carry their fingerprint.
    assert f'id="pick-schedule-{alpha.id}" hx-preserve="true"' in page
    listed = _rows(page)
    assert set(listed) == {alpha.id, beta.id}

    # Another actor pauses beta: the poll brings its row with the new status, by id.
    app.schedules.pause(beta.id, note="maintenance")
    answer = client.get(poll, headers=HTMX)
    assert answer.status_code == 200
    assert "HX-Push-Url" not in answer.headers
    assert "HX-Replace-Url" not in answer.headers
    rows = _rows(answer.text)
    assert set(rows) == {alpha.id, beta.id}
    assert all('hx-swap-oob="true"' in attrs for _, attrs, _ in rows.values())
    assert rows[alpha.id][0] == listed[alpha.id][0]  # unchanged: the page skips it
    assert rows[beta.id][0] != listed[beta.id][0]
    beta_row = _text(rows[beta.id][2])
    assert "paused" in beta_row
    assert "maintenance" in beta_row
    # beta no longer matches "active": the poller says the list changed, on the page's URL.
    fresh_poller = answer.text.split("</div>\n")[0]
    assert "This list changed since it loaded: 1 schedule matches now." in _text(fresh_poller)
    assert 'href="/schedules?status=active&amp;per_page=50"' in fresh_poller
    # The poller keeps asking for the rows the page shows.
    assert _poll_url(answer.text) == poll

    # A deleted schedule's row says so.
    app.schedules.delete(alpha.id)
    gone = client.get(poll, headers=HTMX).text
    assert f"Schedule #{alpha.id} no longer exists." in _text(gone)
    assert set(_rows(gone)) == {beta.id}


def test_an_unchanged_list_shows_no_banner_and_a_fire_updates_last_and_next(ui: Ui) -> None:
    app = ui.app
    manual = app.schedules.create(name="by-hand", task="greet", trigger="manual",
                                  payload={"name": "a"})  # fmt: skip
    client, _ = ui.login("viewer")
    poll = _poll_url(client.get("/schedules").text)
    before = _rows(client.get(poll, headers=HTMX).text)[manual.id]
    assert "This list changed" not in client.get(poll, headers=HTMX).text
    app.schedules.run_now(manual.id)
    app.worker().run_until_idle()
    after = _rows(client.get(poll, headers=HTMX).text)[manual.id]
    assert after[0] != before[0]
    assert "succeeded just now" in _text(after[2])
    # A viewer has no checkboxes and no actions in the rows it is sent.
    assert "pick-schedule" not in after[2]
    assert "Run now" not in after[2]


def test_a_tenant_bound_viewers_poll_shows_only_its_tenants_schedules(ui: Ui) -> None:
    app = ui.app
    ours = app.schedules.create(name="ours", task="greet", cron="0 3 * * *",
                                payload={"name": "a"}, tenant_id="acme")  # fmt: skip
    theirs = app.schedules.create(name="secret-of-globex", task="greet", cron="0 3 * * *",
                                  payload={"name": "b"}, tenant_id="globex")  # fmt: skip
    client, _ = ui.login("viewer", tenant="acme")
    page = client.get("/schedules").text
    assert _poll_url(page) == f"/ui/partials/schedules/live?ids={ours.id}&total=1"
    # Even asked by id (and by filter) for the other tenant's row, the poll never shows it.
    forged = client.get(
        f"/ui/partials/schedules/live?ids={ours.id},{theirs.id}&total=1&tenant=globex",
        headers=HTMX,
    ).text
    assert "secret-of-globex" not in forged
    assert "globex" not in _text(forged).replace(f"#{theirs.id}", "")
    assert set(_rows(forged)) == {ours.id}
    # Signed out, the poll is refused like the page.
    anonymous = ui.client().get(f"/ui/partials/schedules/live?ids={ours.id}", headers=HTMX)
    assert anonymous.status_code == 401
    assert "ours" not in anonymous.text


def test_a_session_that_ends_while_the_list_polls_logs_in_back_to_the_page(ui: Ui) -> None:
    """The login page's ``next`` was the poll's fragment (an unstyled page after logging in),
    and after an action's POST its path, which answers no GET."""
    page = "http://testserver/schedules?status=paused&q=night"
    client = ui.client()
    headers = {**HTMX, "HX-Current-URL": page}
    for method, path in (("GET", "/ui/partials/schedules/live?ids=1&total=1"),
                         ("GET", "/ui/partials/runs/live?ids=&top=0"),
                         ("POST", "/schedules/1/run")):  # fmt: skip
        answer = client.request(method, path, headers=headers)
        assert answer.status_code == 401, path
        assert answer.headers["HX-Redirect"] == (
            "/login?next=/schedules%3Fstatus%3Dpaused%26q%3Dnight"
        ), path
    # A page asked for without htmx comes back to itself; a header naming another site
    # still leads to a path of this one.
    plain = client.get("/schedules?status=paused")
    assert plain.headers["location"] == "/login?next=/schedules%3Fstatus%3Dpaused"
    elsewhere = client.get(
        "/ui/partials/schedules/live",
        headers={**HTMX, "HX-Current-URL": "https://evil.example//evil.example/x"},
    )
    assert elsewhere.headers["HX-Redirect"] == "/login?next=/"


def test_a_poll_leaves_out_the_rows_the_page_shows_unchanged(ui: Ui) -> None:
    """The page names the rows it shows with their fingerprints: a poll of a long list sent
    every row every 3 s."""
    app = ui.app
    first, second = (
        app.schedules.create(name=n, task="greet", cron="0 3 * * *", payload={"name": n})
        for n in ("first", "second")
    )
    client, _ = ui.login("viewer")
    page = client.get("/schedules").text
    shown = _rows(page)
    poll = _poll_url(page)

    def answer(sigs: str) -> set[int]:
        return set(_rows(client.get(f"{poll}&sigs={quote(sigs)}", headers=HTMX).text))

    sigs = ",".join(f"{i}:{sig}" for i, (sig, _, _) in shown.items())
    assert answer(sigs) == set()
    app.schedules.pause(second.id)
    assert answer(sigs) == {second.id}
    # Without fingerprints (or with nonsense), every row comes.
    for junk in ("", "x:y,1:<b>,99999999999999999999:ab", f"{first.id}:zz"):
        assert answer(junk) == {first.id, second.id}, junk
