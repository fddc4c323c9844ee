"""Fuzzing the API with schemathesis: a real ``tickwork web`` server on PostgreSQL, called
as an admin with cases generated from its own OpenAPI document. No input may produce a 5xx,
and every response must match the document (status, content type, body schema).

The number of examples per operation is bounded (``TICKWORK_FUZZ_EXAMPLES``, default 12 per
mode) so the run stays well under two minutes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.cli import run_tickwork
from tests.support.databases import fresh_pg_database
from tests.support.servers import TickworkServer

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("TICKWORK_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``tickwork web`` on a fresh PostgreSQL database, and an admin token for it."""
    url, drop = fresh_pg_database()
    try:
        made = run_tickwork(
            "tokens", "create", "fuzz", "--role", "admin", "--json", database_url=url
        )
        secret = made.json()["secret"]
        log = tmp_path_factory.mktemp("fuzz") / "web.log"
        with TickworkServer(
            "web", "--auth", "local", log=log, database_url=url, log_level="WARNING"
        ) as web:
            web.wait_until_serving()
            yield web.url, secret
        assert "Traceback" not in web.output(), web.output()
    finally:
        drop()


def _operations_in_document(base: str) -> dict[str, bool]:
    """``METHOD /path`` of every operation the OpenAPI document declares, and whether it
    takes any input (parameters or a body) that a negative case could get wrong."""
    document = httpx.get(f"{base}/api/openapi.json", timeout=30).json()
    return {
        f"{method.upper()} {path}": bool(
            item.get("parameters") or spec.get("parameters") or spec.get("requestBody")
        )
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in HTTP_METHODS
    }


def _fuzz(
    operation: Any, mode: GenerationMode, call_one: Callable[[Any], None]
) -> Callable[[], None]:
    """A Hypothesis test calling ``call_one`` with cases of ``operation`` in ``mode``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        call_one(case)

    return fuzz


def test_every_operation_conforms_to_its_schema_and_never_answers_5xx(
    server: tuple[str, str],
) -> None:
    base, secret = server
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    called: Counter[tuple[str, GenerationMode]] = Counter()
    declared = _operations_in_document(base)
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not declared.get(name, True):
                continue  # nothing to get wrong: no parameters, no body

            def call_one(case: Any, label: tuple[str, GenerationMode] = (name, mode)) -> None:
                called[label] += 1
                response = case.call_and_validate(
                    base_url=base, headers=headers, checks=CHECKS, timeout=30,
                    allow_redirects=False,
                )  # fmt: skip
                statuses[response.status_code] += 1

            try:
                _fuzz(operation, mode, call_one)()
            except Exception as exc:
                # One operation's problem is collected so the run reports every operation's;
                # anything else (an interrupt, a failed pytest check) ends the test at once.
                failures.append(f"{name} ({mode.value}): {str(exc)[:1500]}")
    never = sorted(
        f"{name} ({mode.value})"
        for name, takes_input in declared.items()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (mode is GenerationMode.POSITIVE or takes_input) and not called[name, mode]
    )
    assert never == [], "operations of the document never called"
    assert failures == [], "\n\n".join(failures)
    print(f"{len(declared)} operations, responses by status: {dict(sorted(statuses.items()))}")
    assert sum(n for status, n in statuses.items() if status < 300) > len(declared)
    assert sum(n for status, n in statuses.items() if 400 <= status < 500) > len(declared)
