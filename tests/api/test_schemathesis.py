"""Fuzzing the API with schemathesis: a real ``tickwork web`` server on PostgreSQL, called
as an admin with cases generated from its own OpenAPI document. No input may produce a 5xx,
and every response must match the document (status, content type, body schema).

The number of examples per operation is bounded (``TICKWORK_FUZZ_EXAMPLES``, default 12 per
mode) so the run stays well under two minutes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
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

from tests.conftest import fresh_pg_database

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
EXAMPLES = int(os.environ.get("TICKWORK_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, str]]:
    """``tickwork web`` on a fresh PostgreSQL database, and an admin token for it."""
    url, drop = fresh_pg_database()
    env = {**os.environ, "TICKWORK_DATABASE_URL": url, "TICKWORK_LOG_LEVEL": "WARNING"}
    made = subprocess.run(
        [str(BIN / "tickwork"), "tokens", "create", "fuzz", "--role", "admin", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    secret = json.loads(made.stdout)["secret"]
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "tickwork"), "web", "--port", str(port), "--auth", "local"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"tickwork web did not start: {process.stderr}")
            time.sleep(0.1)
        yield base, secret
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors = process.stderr.read() if process.stderr else ""
        drop()
        assert "Traceback" not in errors, errors


def _fuzz(
    case: Any, base: str, headers: dict[str, str], failures: list[str], seen: dict[int, int]
) -> None:
    try:
        response = case.call_and_validate(
            base_url=base, headers=headers, checks=CHECKS, timeout=30, allow_redirects=False
        )
    except Exception as exc:  # collected, so one run reports every operation's problems
        failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:1500]}")
        raise
    seen[response.status_code] = seen.get(response.status_code, 0) + 1


def test_api_conforms_to_its_schema(server: tuple[str, str]) -> None:
    base, secret = server
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    failures: list[str] = []
    seen: dict[int, int] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                _fuzz(case, base, headers, failures, seen)

            try:
                run()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:
                continue
    assert operations >= 30
    assert failures == [], "\n\n".join(failures)
    print(f"{operations} operations, responses by status: {dict(sorted(seen.items()))}")
    assert sum(n for status, n in seen.items() if status < 300) > operations
    assert sum(n for status, n in seen.items() if 400 <= status < 500) > operations
