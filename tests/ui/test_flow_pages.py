"""The Groups page, the flows list and a flow's page through the ASGI client, on SQLite and
PostgreSQL: the graph in waves, live step status, Run group / Run all, Cancel / Retry by role
and with CSRF, filters in the URL, and tenants."""

from __future__ import annotations

import html
import re

import pytest

from tests.apps.ui_app import PIPELINE, register_ui_flows
from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Ui, form_data
from tickwork.domain.actor import Actor, Role

TENANT_A = Actor(name="a-admin", source="test", role=Role.ADMIN, tenant_id="acme")


@pytest.fixture
def flows_ui(ui: Ui) -> Ui:
    """The UI with the ``ui-pipeline`` group registered."""
    register_ui_flows(ui.app)
    return ui


def _node(page: str, task: str) -> str:
    """The box of ``task`` in the page's graph."""
    found = re.search(
        rf'<li class="flow-node[^"]*" data-task="{re.escape(task)}".*?</li>', page, re.S
    )
    assert found, task
    return found.group(0)


def _status(page: str, task: str) -> str:
    found = re.search(r'data-status="([a-z]+)"', _node(page, task))
    assert found, task
    return found.group(1)


def test_the_groups_page_draws_each_group_in_waves_with_its_settings(flows_ui: Ui) -> None:
    client, _ = flows_ui.login("operator")
    page = client.get("/groups")
    assert page.status_code == 200
    text = page.text
    assert 'href="/groups" aria-current="page"' in text
    # Three waves, left to right: fetch, then clean and count, then publish.
    waves = re.findall(r'<li class="flow-wave">.*?</ul>', text, re.S)
    assert [re.findall(r'data-task="([^"]+)"', w) for w in waves] == [
        ["pipe.fetch"],
        ["pipe.clean", "pipe.count"],
        ["pipe.publish"],
    ]
    assert "after pipe.clean, pipe.count" in _node(text, "pipe.publish")
    assert "Fetch, clean and count, publish" in text
    assert "<dt>Max parallel</dt><dd>2</dd>" in text
    # The arrows are decoration; the SVG holds no link.
    svg = re.search(r"<svg class=\"flow-edges\".*?</svg>", text, re.S)
    assert svg
    assert 'aria-hidden="true"' in svg.group(0)
    assert "<a " not in svg.group(0)
    assert len(re.findall(r'class="flow-edge( done)?"', svg.group(0))) == 4
    # The confirmations say how many runs each button creates.
    assert "creates <strong>4 runs</strong>" in text
    assert "Start 4 runs" in text


def test_run_group_starts_a_flow_and_its_page_shows_steps_turning_green(flows_ui: Ui) -> None:
    app = flows_ui.app
    client, token = flows_ui.login("operator")
    started = client.post("/flows/start", data={"group": PIPELINE, "csrf_token": token})
    assert started.status_code == 303
    flow_url = started.headers["location"].split("?")[0]
    flow_id = int(flow_url.rsplit("/", 1)[1])
    page = client.get(flow_url).text
    assert _status(page, "pipe.fetch") == "queued"
    assert _status(page, "pipe.publish") == "waiting"
    assert 'hx-trigger="every 1s, twvisible from:body"' in page  # refreshes while the flow runs
    assert "Cancel flow" in page
    flow = app.flows.get(flow_id)
    assert flow.created_by is not None
    assert "operator-all" in flow.created_by

    app.worker(concurrency=1).run_until_idle(10)
    body = client.get(f"/ui/partials/flows/{flow_id}").text
    for task in ("pipe.fetch", "pipe.clean", "pipe.count", "pipe.publish"):
        assert _status(body, task) == "succeeded"
        run_id = app.flows.get(flow_id).step(task).run_id
        assert f'href="/runs/{run_id}"' in _node(body, task)
    assert 'hx-trigger="every 1s"' not in body  # a finished flow stops polling
    assert "Cancel flow" not in body
    assert "Retry…" not in body


def test_run_all_starts_every_grouped_task_and_needs_a_choice(flows_ui: Ui) -> None:
    client, token = flows_ui.login("operator")
    started = client.post("/flows/start", data={"all": "true", "csrf_token": token})
    assert started.status_code == 303
    flow_id = int(started.headers["location"].split("?")[0].rsplit("/", 1)[1])
    assert len(flows_ui.app.flows.get(flow_id).steps) == 4
    neither = client.post("/flows/start", data={"csrf_token": token})
    assert neither.status_code == 422
    assert "choose one group" in neither.text
    unknown = client.post("/flows/start", data={"group": "nope" * 3, "csrf_token": token})
    assert unknown.status_code == 422
    assert "unknown group" in html.unescape(unknown.text)
    long = client.post("/flows/start", data={"group": "x" * 10_000, "csrf_token": token})
    assert long.status_code == 422


def test_a_failed_flow_is_retried_and_a_running_one_cancelled(flows_ui: Ui) -> None:
    app = flows_ui.app
    flow = app.flows.start(group=PIPELINE, payload={"pipe.count": {"fail": True}})
    app.worker(concurrency=1).run_until_idle(10)
    client, token = flows_ui.login("operator")
    page = client.get(f"/flows/{flow.id}").text
    assert _status(page, "pipe.count") == "failed"
    assert _status(page, "pipe.publish") == "skipped"
    assert "upstream_failed" in _node(page, "pipe.publish")
    assert "Retry 2 steps" in page
    retried = client.post(f"/flows/{flow.id}/retry", data={"csrf_token": token})
    assert retried.status_code == 303
    assert app.flows.get(flow.id).status.value == "running"

    running = app.flows.start(group=PIPELINE)
    cancelled = client.post(f"/flows/{running.id}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303
    assert app.flows.get(running.id).status.value == "cancelled"
    again = client.post(f"/flows/{running.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409


def test_a_viewer_sees_no_buttons_and_is_refused_and_csrf_applies(flows_ui: Ui) -> None:
    app = flows_ui.app
    flow = app.flows.start(group=PIPELINE)
    viewer, token = flows_ui.login("viewer")
    for path in ("/groups", f"/flows/{flow.id}"):
        text = viewer.get(path).text
        assert "Run group" not in text
        assert "Run all" not in text
        assert "Cancel flow" not in text
    for path, data in (
        ("/flows/start", {"group": PIPELINE}),
        (f"/flows/{flow.id}/cancel", {}),
        (f"/flows/{flow.id}/retry", {}),
    ):
        assert viewer.post(path, data={**data, "csrf_token": token}).status_code == 403
    operator, _ = flows_ui.login("operator")
    no_token = operator.post(f"/flows/{flow.id}/cancel", data={})
    assert no_token.status_code == 403
    assert app.flows.get(flow.id).status.value == "running"
    assert len(app.flows.list()) == 1


def test_the_flows_list_filters_through_its_url(flows_ui: Ui) -> None:
    app = flows_ui.app
    failed = app.flows.start(group=PIPELINE, payload={"pipe.fetch": {"fail": True}})
    app.worker(concurrency=1).run_until_idle(10)
    running = app.flows.start(group=PIPELINE)
    client, _ = flows_ui.login("viewer")
    everything = client.get("/flows").text
    assert f'href="/flows/{failed.id}"' in everything
    assert f'href="/flows/{running.id}"' in everything
    assert "every 2s" in everything  # a flow still runs
    only_failed = client.get("/flows?status=failed").text
    assert f'href="/flows/{failed.id}"' in only_failed
    assert f'href="/flows/{running.id}"' not in only_failed
    assert '<option value="failed" selected>' in only_failed
    fragment = client.get("/ui/partials/flows?status=failed", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Push-Url"] == "/flows?status=failed"
    polled = client.get("/ui/partials/flows?status=failed&poll=1", headers={"HX-Request": "true"})
    assert "HX-Push-Url" not in polled.headers
    # A browser asking for the fragment itself (an old link) gets the page.
    assert client.get("/ui/partials/flows?status=failed").status_code == 303
    bad = client.get("/flows?schedule=nope").text
    assert "no schedule" in html.unescape(bad)


def test_a_tenant_bound_viewer_sees_only_its_tenants_flows(flows_ui: Ui) -> None:
    app = flows_ui.app
    mine = app.flows.start(group=PIPELINE, actor=TENANT_A)
    other = app.flows.start(group=PIPELINE, tenant_id="globex", actor=ADMIN_ACTOR)
    client, token = flows_ui.login("operator", tenant="acme")
    listed = client.get("/flows").text
    assert f'href="/flows/{mine.id}"' in listed
    assert f'href="/flows/{other.id}"' not in listed
    assert client.get(f"/flows/{other.id}").status_code == 404
    assert client.get(f"/ui/partials/flows/{other.id}").status_code == 404
    assert client.post(f"/flows/{other.id}/cancel", data={"csrf_token": token}).status_code == 404
    assert app.flows.get(other.id).status.value == "running"
    started = client.post("/flows/start", data={"group": PIPELINE, "csrf_token": token})
    new_id = int(started.headers["location"].split("?")[0].rsplit("/", 1)[1])
    assert app.flows.get(new_id).tenant_id == "acme"


def _group_form(**values: str) -> dict[str, str]:
    data = form_data(name="pipeline nightly", target="group", group=PIPELINE)
    data.update(values)
    return data


def test_the_schedule_form_creates_a_group_schedule_with_a_payload_per_task(
    flows_ui: Ui,
) -> None:
    client, token = flows_ui.login("admin")
    form = client.get(f"/schedules/new?group={PIPELINE}").text
    assert 'name="target" value="group" checked' in form
    assert "Payload of pipe.fetch" in form
    boxes = client.get(f"/ui/partials/group-payload?group={PIPELINE}").text
    assert boxes.count("<textarea") == 4
    created = client.post(
        "/schedules/new",
        data=_group_form(csrf_token=token, **{"group_payload.pipe.fetch": '{"gate": ""}'}),
    )
    assert created.status_code == 303, created.text[:2000]
    schedule_id = int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])
    schedule = flows_ui.app.schedules.get(schedule_id)
    assert (schedule.task, schedule.group) == (None, PIPELINE)
    assert schedule.payload == {"pipe.fetch": {"gate": ""}}
    detail = client.get(f"/schedules/{schedule_id}").text
    assert "Flow history" in detail
    assert "No flows yet" in detail
    # Run now starts a flow and opens its page.
    ran = client.post(
        f"/schedules/{schedule_id}/run",
        data={"csrf_token": token, "from": "history"},
        headers={"HX-Request": "true"},
    )
    assert ran.status_code == 204
    flow_id = int(ran.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert flows_ui.app.flows.get(flow_id).schedule_id == schedule_id
    assert f'href="/flows/{flow_id}"' in client.get(f"/schedules/{schedule_id}").text
    # The edit form shows the group and the stored payload.
    edit = html.unescape(client.get(f"/schedules/{schedule_id}/edit").text)
    assert '"gate": ""' in edit


def test_the_schedule_form_names_the_bad_group_field_in_red(flows_ui: Ui) -> None:
    client, token = flows_ui.login("admin")
    cases = {
        "field-group": _group_form(csrf_token=token, group=""),
        "gp-1": _group_form(csrf_token=token, **{"group_payload.pipe.fetch": "{not json"}),
        "gp-4": _group_form(csrf_token=token, **{"group_payload.pipe.publish": "[1, 2]"}),
        "gp-2": _group_form(csrf_token=token, **{"group_payload.pipe.clean": "x" * 100_000}),
    }
    for dom_id, data in cases.items():
        response = client.post("/schedules/new", data=data)
        assert response.status_code == 422, dom_id
        assert f'<p class="field-error" id="{dom_id}-error">' in response.text, dom_id
        assert f'href="#{dom_id}"' in response.text, dom_id
    assert flows_ui.app.schedules.list() == []


def test_the_dashboard_counts_running_flows_of_the_viewers_tenant(flows_ui: Ui) -> None:
    app = flows_ui.app
    app.flows.start(group=PIPELINE, actor=TENANT_A)
    app.flows.start(group=PIPELINE, tenant_id="globex", actor=ADMIN_ACTOR)
    admin, _ = flows_ui.login("admin")
    tile = re.search(r'<div class="label">Flows</div>.*?</div>\s*</div>', admin.get("/").text, re.S)
    assert tile
    assert 'href="/flows?status=running">2 <span' in tile.group(0)
    bound, _ = flows_ui.login("viewer", tenant="acme")
    tile = re.search(r'<div class="label">Flows</div>.*?</div>\s*</div>', bound.get("/").text, re.S)
    assert tile
    assert 'href="/flows?status=running">1 <span' in tile.group(0)


def test_links_to_a_group_land_on_its_section(flows_ui: Ui) -> None:
    flow = flows_ui.app.flows.start(group=PIPELINE)
    client, _ = flows_ui.login("viewer")
    assert 'id="group-ui-pipeline"' in client.get("/groups").text
    assert 'href="/groups#group-ui-pipeline"' in client.get(f"/flows/{flow.id}").text


def test_run_now_of_a_group_schedule_from_the_list_says_which_flow_started(
    flows_ui: Ui,
) -> None:
    schedule = flows_ui.app.schedules.create(
        name="pipeline", group=PIPELINE, trigger="manual", actor=ADMIN_ACTOR
    )
    client, token = flows_ui.login("operator")
    ran = client.post(
        f"/schedules/{schedule.id}/run",
        data={"csrf_token": token, "from": "list"},
        headers={"HX-Request": "true"},
    )
    assert ran.status_code == 200
    flow = flows_ui.app.flows.list(schedule_id=schedule.id)[0]
    assert f"Flow #{flow.id} started (4 runs)" in ran.headers["HX-Trigger"]
    assert "group <a" in ran.text
    plain = client.post(f"/schedules/{schedule.id}/run", data={"csrf_token": token})
    assert plain.status_code == 303
    assert plain.headers["location"].startswith("/flows/")
