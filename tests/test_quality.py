"""The code base stays linted, formatted and type-checked, and the public API is complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tickwork

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.xdist_group("quality")
def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.xdist_group("quality")
def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_are_exported() -> None:
    public = {
        name
        for name, value in vars(tickwork).items()
        if not name.startswith("_") and not isinstance(value, type(tickwork))
    }
    assert public - {"annotations"} <= set(tickwork.__all__) | {"__version__"}
    for name in tickwork.__all__:
        assert hasattr(tickwork, name), name
