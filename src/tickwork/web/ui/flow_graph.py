"""Where the UI draws a group's or a flow's tasks: one column per wave, left to right.

Pure layout (no I/O): the templates place each task's box at ``(x, y)`` and draw the
dependency arrows as SVG paths behind the boxes. The boxes are HTML (text labels and links
with names); the SVG only carries decoration and is hidden from assistive technology.

Example::

    graph = layout([["extract"], ["enrich", "transform"], ["load"]],
                   [("extract", "enrich"), ("extract", "transform"),
                    ("enrich", "load"), ("transform", "load")])
    graph.width, graph.height, [n.task for n in graph.waves[1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NODE_WIDTH = 208
NODE_HEIGHT = 76
COLUMN_GAP = 56
ROW_GAP = 14
PADDING = 8


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One task's box: its wave (0-based), place and size in pixels, and its dependencies."""

    task: str
    wave: int
    x: int
    y: int
    depends_on: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """An arrow from a dependency's box to its dependent's, as an SVG path."""

    source: str
    target: str
    path: str


@dataclass(frozen=True, slots=True)
class GraphLayout:
    """Boxes by wave, arrows, and the drawing's size."""

    waves: tuple[tuple[GraphNode, ...], ...]
    edges: tuple[GraphEdge, ...]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT

    @property
    def node_count(self) -> int:
        """How many tasks the drawing shows."""
        return sum(len(wave) for wave in self.waves)


def group_anchor(name: str) -> str:
    """The id of a group's section on the Groups page (names may hold any character)."""
    return "group-" + "".join(c if c.isalnum() else "-" for c in name)


def layout(waves: Sequence[Sequence[str]], edges: Sequence[tuple[str, str]]) -> GraphLayout:
    """Place ``waves`` of task names (each wave a column, tasks top to bottom in the order
    given, every column centred on the tallest) and route ``edges`` (``(dependency,
    dependent)`` pairs between placed tasks) as curves from right side to left side."""
    tallest = max((len(wave) for wave in waves), default=0)
    height = max(1, tallest) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP + 2 * PADDING
    depends: dict[str, list[str]] = {}
    for source, target in edges:
        depends.setdefault(target, []).append(source)
    placed: list[tuple[GraphNode, ...]] = []
    where: dict[str, GraphNode] = {}
    for index, wave in enumerate(waves):
        column_height = len(wave) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
        top = PADDING + (height - 2 * PADDING - column_height) // 2
        x = PADDING + index * (NODE_WIDTH + COLUMN_GAP)
        nodes = []
        for row, task in enumerate(wave):
            node = GraphNode(
                task=task,
                wave=index,
                x=x,
                y=top + row * (NODE_HEIGHT + ROW_GAP),
                depends_on=tuple(sorted(depends.get(task, ()))),
            )
            nodes.append(node)
            where[task] = node
        placed.append(tuple(nodes))
    routed = tuple(
        GraphEdge(source, target, _curve(where[source], where[target]))
        for source, target in edges
        if source in where and target in where
    )
    width = max(1, len(waves)) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP + 2 * PADDING
    return GraphLayout(tuple(placed), routed, width, height)


def _curve(source: GraphNode, target: GraphNode) -> str:
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
    x2, y2 = target.x - 4, target.y + NODE_HEIGHT // 2
    bend = max(16, (x2 - x1) // 2)
    return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
