"""The Prometheus alert rules shipped in ``deploy/prometheus``: well-formed, naming only
series tickwork's ``/metrics`` exports (on SQLite and PostgreSQL), and accepted and passed
by ``promtool`` (``check rules`` and the rules' own unit tests) where promtool is installed
(Debian's ``prometheus`` package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.web import make_web
from tickwork import Tickwork

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULE_FILE = RULES / "tickwork-alerts.yml"
TEST_FILE = RULES / "tickwork-alerts.test.yml"
SERIES = re.compile(r"\btickwork_[a-z_]+")
# Histogram and counter series carry a suffix the family's name does not.
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULE_FILE.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_rule_is_well_formed() -> None:
    rules = _rules()
    assert rules
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in ("page", "warn"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"[0-9]+[smh]", str(rule.get("for", "0s"))), rule["alert"]


def test_rules_name_only_series_tickwork_exports(app: Tickwork) -> None:
    from fastapi.testclient import TestClient

    text = TestClient(make_web(app)).get("/metrics").text
    exported = {
        line.split()[2] for line in text.splitlines() if line.startswith("# TYPE tickwork_")
    }
    for rule in _rules():
        for name in SERIES.findall(rule["expr"]):
            family = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
            assert family in exported or name in exported, (rule["alert"], name)


def test_promtool_accepts_the_rules_and_their_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    for command in (["check", "rules", RULE_FILE.name], ["test", "rules", TEST_FILE.name]):
        done = subprocess.run(
            [promtool, *command], cwd=RULES, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
