"""schemathesis over the whole OpenAPI document, with every check it has, as an operator
bound to a tenant: no input gives a 5xx, every response matches the document, and the
checks on authentication and authorization hold (``ignored_auth``, ``use_after_free``,
``object_level_authorization`` and the rest).

Each operation is its own test item, so pytest-xdist spreads them over the cores; each
gets 100 positive and 100 negative examples (200 in all; an operation without parameters
has fewer distinct requests to make). The app runs in-process (ASGI, no server or sockets)
on one PostgreSQL database per worker, where text with NUL characters, huge numbers and
odd time zones meet the strictest storage. On 2 cores the module takes about a minute.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks as schemathesis_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from tests.support.accounts import ADMIN_ACTOR
from tests.support.databases import fresh_pg_database
from tests.support.web import make_web, register_api_tasks
from tickwork import Tickwork
from tickwork.domain.actor import Actor, Role

EXAMPLES_PER_MODE = int(os.environ.get("TICKWORK_TENANT_FUZZ_EXAMPLES", "100"))
TENANT = "globex"

schemathesis_checks.load_all_checks()
CHECKS = list(schemathesis_checks.CHECKS.get_all())
# What the checks may expect of this API beyond their defaults:
# - a request the schema allows can still mean nothing (a cron expression that does not
#   parse, an unknown time zone or task, a payload its task's model refuses, a date before
#   1970): the API answers 422 naming the field, as it must for bad input of every kind;
# - an HTML form posted to the login route is redirected back to the login page with the
#   error (303), whatever was wrong with it.
CONFIG: dict[str, Any] = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
        }
    },
    "operations": [
        {
            "include-path": "/api/v1/auth/login",
            "checks": {"negative_data_rejection": {"expected-statuses": ["303", "4xx"]}},
        }
    ],
}


def _operations() -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document (read from an app that touches no database)."""
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app = Tickwork(f"sqlite:///{folder}/schema.db")
        register_api_tasks(app)
        document = make_web(app).openapi()
        app.close()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "patch", "delete")
    ]


@dataclass
class Target:
    """The app under test and how to call it."""

    schema: Any


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """The web app on a fresh PostgreSQL database with data of two tenants, its schema
    calling it as a tenant-bound operator."""
    url, drop = fresh_pg_database()
    app = Tickwork(url)
    try:
        register_api_tasks(app)
        web = make_web(app)
        for tenant in (TENANT, "acme"):
            actor = Actor(name=f"{tenant}-admin", role=Role.ADMIN, tenant_id=tenant)
            schedule = app.schedules.create(
                name="nightly", task="greet", cron="0 2 * * *", actor=actor
            )
            app.schedules.run_now(schedule.id, actor=actor)
            app.enqueue("greet", key="k", actor=actor)
            app.flags.set(actor, "reports", True)
        _, secret = app.tokens.create_token(ADMIN_ACTOR, "fuzz", role="operator", tenant_id=TENANT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The token as the document's bearer scheme: schemathesis then knows every
            # request carries it, and never counts it as a part it made invalid.
            config = SchemathesisConfig.from_dict(
                {**CONFIG, "auth": {"openapi": {"HTTPBearer": {"bearer": secret}}}}
            )
            schema = schemathesis.openapi.from_asgi("/api/openapi.json", web, config=config)
        yield Target(schema)
    finally:
        app.close()
        drop()


def _fuzz(
    target: Target, method: str, path: str, mode: GenerationMode, statuses: Counter[int]
) -> tuple[int, list[str]]:
    operation = target.schema[path][method]
    failures: list[str] = []
    examples = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal examples
        examples += 1
        try:
            statuses[case.call_and_validate(checks=CHECKS).status_code] += 1
        except Exception as exc:  # collected: the report names every failing case
            failures.append(f"{mode.value}: {str(exc)[:2000]}")
            raise

    try:
        run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE or _has_inputs(operation):
            failures.append(f"{mode.value}: no example could be generated")
    except BaseException as exc:
        if not failures:  # a failure of hypothesis or schemathesis itself, not a check
            failures.append(f"{mode.value}: {type(exc).__name__}: {str(exc)[:2000]}")
    return examples, failures


def _has_inputs(operation: Any) -> bool:
    """Whether the operation takes parameters or a body (else nothing negative exists)."""
    return bool(operation.path_parameters or operation.query or operation.body)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_conforms_for_a_tenant_bound_operator(
    target: Target, method: str, path: str
) -> None:
    examples = 0
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        count, found = _fuzz(target, method, path, mode, statuses)
        examples += count
        failures += found
    assert failures == [], f"{method} {path}:\n" + "\n\n".join(failures)
    # The operator's token was sent: not everything was refused as unauthenticated.
    assert set(statuses) - {401}, f"{method} {path}: {dict(statuses)}"
    if _has_inputs(target.schema[path][method]):
        assert examples >= 2 * EXAMPLES_PER_MODE, f"{method} {path}: {examples} examples"
