"""graph.txt: every node with its properties and relations, for people to read."""

from collections.abc import Iterable, Mapping

from stepup_trio.core.graph import Graph
from stepup_trio.plugin_api import Exporter, Node, sorted_keys

__all__ = ["TextExporter", "format_graph"]


def _shown_key(node: Node) -> str:
    return f"({node.key})" if node.orphan else node.key


def _relation_lines(role: str, others: Iterable[Node]) -> list[str]:
    return [
        f"{role:>20s}   {_shown_key(other)}"
        for other in sorted_keys(others)
        if other.kind != "vacuum"
    ]


def format_node(node: Node) -> str:
    lines = [_shown_key(node)]
    lines.extend(f"{name:>20s} = {value}" for name, value in node.properties())
    if node.creator is not None and node.creator is not node and not node.orphan:
        lines.extend(_relation_lines("created by", [node.creator]))
    lines.extend(_relation_lines("consumes", node.suppliers))
    lines.extend(_relation_lines("creates", node.products))
    lines.extend(_relation_lines("supplies", node.consumers))
    return "".join(line + "\n" for line in lines)


def format_graph(graph: Graph) -> str:
    """All nodes except the vacuum, in creation order, each followed by an empty line."""
    return "".join(format_node(node) + "\n" for node in graph if node.kind != "vacuum")


class TextExporter(Exporter):
    name = "text"

    def export(self, graph: Graph, prefix: str) -> Mapping[str, str]:
        return {f"{prefix}.txt": format_graph(graph)}
