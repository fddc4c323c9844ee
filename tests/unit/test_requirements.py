"""The one ``require`` for outside dependencies: a skip for a developer, a failure in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.requirements import postgresql_program, require


@pytest.fixture
def in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")


@pytest.fixture
def on_a_laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.mark.usefixtures("in_ci")
def test_a_missing_chromium_fails_a_ci_run_saying_what_is_missing(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-chromium-here")
    with pytest.raises(pytest.fail.Exception) as failed:
        require("chromium", where=missing)
    message = str(failed.value)
    assert "CI=true" in message
    assert "chromium is missing" in message
    assert missing in message
    assert "make chromium" in message


@pytest.mark.usefixtures("on_a_laptop")
def test_a_missing_chromium_skips_outside_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require("chromium", where=str(tmp_path / "no-chromium-here"))
    assert "chromium is missing" in str(skipped.value)


@pytest.mark.usefixtures("in_ci")
@pytest.mark.parametrize(
    ("dependency", "where"),
    [
        ("postgresql", "postgresql://postgres@127.0.0.1:1/none"),
        ("playwright", "no_such_module_for_tickwork_tests"),
        ("initdb", "/nonexistent-bin"),
        ("pg_ctl", "/nonexistent-bin"),
    ],
)
def test_every_dependency_fails_a_ci_run_when_missing(dependency: str, where: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        require(dependency, where=where)
    assert f"{dependency} is missing (looked at {where})" in str(failed.value)


def test_a_present_executable_is_returned(tmp_path: Path) -> None:
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert require("chromium", where=str(browser)) == str(browser)


def test_postgresql_programs_are_found_in_debians_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("13", "15"):
        folder = tmp_path / "postgresql" / version / "bin"
        folder.mkdir(parents=True)
        program = folder / "pg_ctl"
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(
        "tests.support.requirements.POSTGRESQL_BIN_GLOB", str(tmp_path / "postgresql/*/bin")
    )
    assert postgresql_program("pg_ctl") == str(tmp_path / "postgresql/15/bin/pg_ctl")
    assert postgresql_program("initdb") is None


def test_an_unknown_dependency_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown dependency 'chrome'"):
        require("chrome")
