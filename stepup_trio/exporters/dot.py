"""GraphViz files: one picture of the supplier graph and one of the creator graph.

Node lines follow the graph's creation order and each node's edges are sorted by key, so the
same workflow always gives the same files.
"""

import json
import textwrap
from collections.abc import Callable, Iterable, Mapping

from stepup_trio.core.graph import Graph
from stepup_trio.plugin_api import Exporter, Node, sorted_keys

__all__ = ["DotExporter", "format_dot"]


def format_dot(
    graph: Graph, arrowhead: str, targets: Callable[[Node], Iterable[Node]], shown=None
) -> str:
    """Write the edges ``node -> target`` for every shown node, in a stable order."""
    shown = shown or (lambda node: True)
    edges = {
        node: [target for target in sorted_keys(targets(node)) if target is not node]
        for node in graph
        if shown(node)
    }
    linked = {node for node, outgoing in edges.items() if outgoing}
    linked.update(target for outgoing in edges.values() for target in outgoing)
    ids: dict[Node, int] = {}

    def ident(node: Node) -> int:
        return ids.setdefault(node, len(ids))

    lines = [
        "strict digraph {",
        "  graph [rankdir=BT bgcolor=transparent]",
        "  node [penwidth=0 colorscheme=set39 style=filled fillcolor=5]",
        f"  edge [color=dimgray arrowhead={arrowhead}]",
    ]
    for node in graph:
        if node not in linked or not shown(node):
            continue
        label = json.dumps(textwrap.fill(node.dot_label(), width=20))
        lines.append(f"  {ident(node)} [label={label}{node.dot_attributes()}]")
        lines.extend(f"  {ident(node)} -> {ident(target)}" for target in edges[node])
    lines.append("}")
    return "".join(line + "\n" for line in lines)


class DotExporter(Exporter):
    name = "dot"

    def export(self, graph: Graph, prefix: str) -> Mapping[str, str]:
        return {
            f"{prefix}_supplier.dot": format_dot(
                graph,
                "normal",
                lambda node: node.consumers,
                lambda node: node.shown_in_supplier_dot(),
            ),
            f"{prefix}_creator.dot": format_dot(graph, "empty", lambda node: node.products),
        }
