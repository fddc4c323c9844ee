"""The import graph of ``tickwork``: the layers of docs/design.md hold, and no import circles.

The contracts live in pyproject.toml (``[tool.importlinter]``); this suite runs them, checks
that every top-level module has its place in the layers, and looks for circles among single
modules (which import-linter's sibling check does not see when a package's ``__init__`` is
part of one). Imports made only for type checking count everywhere.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("tickwork", cache_dir=None)


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


@pytest.mark.xdist_group("quality")
def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_top_level_module_has_a_layer(graph: grimp.ImportGraph) -> None:
    (layers,) = (c for c in _contracts() if c["type"] == "layers")
    placed = {
        name.strip()
        for line in layers["layers"]  # type: ignore[attr-defined]
        for name in line.replace(":", "|").split("|")
    }
    top_level = graph.find_children("tickwork")
    assert top_level - placed == set(), "add these to the layers in pyproject.toml"


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected sets of two or more modules (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    imported = sorted(graph.find_modules_directly_imported_by(target))
                    work.append((target, iter(imported)))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == module:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return found


def test_no_modules_import_each_other_in_a_circle(graph: grimp.ImportGraph) -> None:
    assert _circles(graph) == []


def test_the_circle_finder_finds_circles() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "e")]:
        graph.add_import(importer=importer, imported=imported)
    assert _circles(graph) == [["a", "b", "c"]]


def test_the_web_layer_and_the_cli_never_import_storage(graph: grimp.ImportGraph) -> None:
    (contract,) = (c for c in _contracts() if c["id"] == "reads-through-services")
    assert contract["forbidden_modules"] == ["tickwork.storage"]
    for source in ("tickwork.web", "tickwork.cli"):
        importers = {
            module
            for module in graph.find_children(source) | graph.find_descendants(source) | {source}
            if any(
                imported == "tickwork.storage" or imported.startswith("tickwork.storage.")
                for imported in graph.find_modules_directly_imported_by(module)
            )
        }
        assert importers == set(), f"{source} reads through app.reads, not storage"
