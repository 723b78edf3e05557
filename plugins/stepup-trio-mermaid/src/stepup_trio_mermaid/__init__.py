"""Mermaid flowcharts of the stepup-trio workflow graph, which GitHub shows as pictures.

The exporter is registered as the graph format ``mermaid`` (entry-point group
``stepup_trio.exporters``) and writes, for ``graph(prefix, formats=["mermaid"])``:

- ``<prefix>_supplier.mmd``: the supplier graph, an arrow from each file or step to what
  consumes it (directories left out), as in ``<prefix>_supplier.dot``;
- ``<prefix>_creator.mmd``: the creator graph, a dotted arrow from each node to what it
  created, as in ``<prefix>_creator.dot``;
- ``<prefix>.md``: a Markdown page with both diagrams in ``mermaid`` code blocks.

It uses only :mod:`stepup_trio.plugin_api`: the node hooks ``dot_label()`` and
``shown_in_supplier_dot()``, and ``kind``, ``key``, ``orphan``, ``consumers`` and ``products``.
"""

import hashlib
import string
import textwrap
from collections.abc import Callable, Iterable, Mapping

from stepup_trio.plugin_api import Exporter, Node, sorted_keys

__all__ = [
    "MermaidExporter",
    "format_flowchart",
    "format_label",
    "format_page",
    "node_ids",
    "visible",
]

#: Width at which labels wrap, as in the dot files.
WRAP_WIDTH = 20

#: Fill colours of ColorBrewer's set3 palette (the dot files use ``colorscheme=set39``).
SET3 = {5: "#80b1d3", 6: "#fdb462", 7: "#b3de69", 9: "#d9d9d9"}

# --8<-- [start:styles]
#: Shape (opening and closing brackets) and fill per built-in kind, matching the dot exporter:
#: hexagons for root and vacuum, rectangles for files, octagons (here: subroutine boxes, the
#: closest Mermaid shape) for deferred globs. Steps and kinds from other plugins get the dot
#: default, an ellipse (here: a stadium) in colour 5.
STYLES: dict[str, tuple[str, str, str]] = {
    "root": ("{{", "}}", SET3[6]),
    "vacuum": ("{{", "}}", SET3[6]),
    "file": ("[", "]", SET3[9]),
    "dg": ("[[", "]]", SET3[7]),
    "step": ("([", "])", SET3[5]),
}
DEFAULT_STYLE = ("([", "])", SET3[5])
# --8<-- [end:styles]

#: Characters that appear in a label as they are. Every other ASCII character is written as a
#: Mermaid entity code (``#34;``), so that quotes, brackets, ``#``, ``<`` or a backtick in a
#: file name can neither end the label nor be read as HTML or Markdown.
PLAIN = frozenset(string.ascii_letters + string.digits + " ._-/:+=,")

EDGE_COLOUR = "#696969"  # dimgray, as in the dot files


# --8<-- [start:label]
def visible(text: str) -> str:
    """``text`` with every character that cannot be shown replaced by a Python-style escape.

    Newlines and other control characters become ``\\n``, ``\\x07``, ...; a byte that is not
    valid UTF-8 (kept by Python as a lone surrogate) becomes ``\\xff``; a backslash is
    doubled, so that the result reads back unambiguously.
    """
    parts = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            parts.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\":
            parts.append("\\\\")
        elif char.isprintable():
            parts.append(char)
        else:
            parts.append(repr(char)[1:-1])
    return "".join(parts)


def format_label(text: str) -> str:
    """A quoted Mermaid label: wrapped like the dot labels, every special character escaped."""
    lines = textwrap.wrap(visible(text), width=WRAP_WIDTH) or [""]
    escaped = (
        "".join(char if char in PLAIN or ord(char) > 127 else f"#{ord(char)};" for char in line)
        for line in lines
    )
    return '"' + "<br>".join(escaped) + '"'


# --8<-- [end:label]


def node_ids(nodes: Iterable[Node]) -> dict[Node, str]:
    """Ids derived from the node keys: the same in both diagrams and in every run.

    A node keeps its id when other nodes come and go, so the .mmd files change only where
    the workflow did. In the unlikely case that two keys share the short hash, all ids get
    the full hash.
    """
    digests = {
        node: hashlib.sha256(node.key.encode("utf-8", "surrogatepass")).hexdigest()
        for node in nodes
    }
    short = {node: "n" + digest[:10] for node, digest in digests.items()}
    if len(set(short.values())) == len(short):
        return short
    return {node: "n" + digest for node, digest in digests.items()}


def _style_class(node: Node) -> str:
    """The classDef name of a node: its kind (or ``other``), with ``_orphan`` for orphans."""
    name = "k_" + (node.kind if node.kind in STYLES else "other")
    return name + "_orphan" if node.orphan else name


def _class_def(name: str) -> str:
    kind = name.removeprefix("k_").removesuffix("_orphan")
    fill = STYLES.get(kind, DEFAULT_STYLE)[2]
    # Dark text on the light fills, also in dark mode; orphans get a dashed outline.
    stroke = (
        f"stroke:{EDGE_COLOUR},stroke-width:1px,stroke-dasharray:4 3"
        if name.endswith("_orphan")
        else "stroke-width:0px"
    )
    return f"    classDef {name} fill:{fill},{stroke},color:#000"


def format_flowchart(
    nodes: Iterable[Node],
    ids: Mapping[Node, str],
    targets: Callable[[Node], Iterable[Node]],
    shown: Callable[[Node], bool] = lambda node: True,
    arrow: str = "-->",
) -> str:
    """A ``flowchart BT`` with an edge ``node arrow target`` for every shown node.

    As in the dot files, only nodes with an edge appear, in the order of the graph, and the
    edges of each node are sorted by key. Unlike the dot files, a node that is only the
    target of an edge is drawn with its label too.
    """
    nodes = list(nodes)
    edges = {
        node: [target for target in sorted_keys(targets(node)) if target is not node]
        for node in nodes
        if shown(node)
    }
    linked = {node for node, outgoing in edges.items() if outgoing}
    linked.update(target for outgoing in edges.values() for target in outgoing)
    drawn = [node for node in nodes if node in linked]
    lines = ["flowchart BT"]
    for node in drawn:
        opening, closing, _fill = STYLES.get(node.kind, DEFAULT_STYLE)
        label = format_label(node.dot_label())
        lines.append(f"    {ids[node]}{opening}{label}{closing}:::{_style_class(node)}")
    lines.extend(
        f"    {ids[node]} {arrow} {ids[target]}" for node in drawn for target in edges.get(node, ())
    )
    lines.extend(_class_def(name) for name in sorted({_style_class(node) for node in drawn}))
    if any(edges.values()):
        lines.append(f"    linkStyle default stroke:{EDGE_COLOUR}")
    return "".join(line + "\n" for line in lines)


PAGE = """\
# Workflow graph

Written by stepup-trio (graph format `mermaid`). GitHub, GitLab and other Markdown viewers
with Mermaid support show the diagrams below as pictures. The same diagrams are in the files
`*_supplier.mmd` and `*_creator.mmd` next to this page.

Shapes: hexagons are the root and the vacuum, rectangles are files, rounded boxes are steps,
double-sided boxes are deferred globs. A dashed outline marks an orphan: a node that no step
defines any more.

## Supplier graph

An arrow goes from each supplier to its consumers: from a file to the steps that use it, and
from a step to the files it writes. Directories are left out.

```mermaid
{supplier}```

## Creator graph

A dotted arrow goes from each node to the nodes it created: from the root to the top-level plan
script, from a plan step to the steps and static files it defines. Orphans hang below the
vacuum.

```mermaid
{creator}```
"""


def format_page(supplier: str, creator: str) -> str:
    """The Markdown page with both flowcharts; labels never contain a backtick fence."""
    return PAGE.format(supplier=supplier, creator=creator)


# --8<-- [start:exporter]
class MermaidExporter(Exporter):
    """The ``mermaid`` graph format: two .mmd flowcharts and a Markdown page showing both."""

    name = "mermaid"

    def export(self, graph: Iterable[Node], prefix: str) -> Mapping[str, str]:
        nodes = list(graph)
        ids = node_ids(nodes)
        supplier = format_flowchart(
            nodes,
            ids,
            lambda node: node.consumers,
            lambda node: node.shown_in_supplier_dot(),
        )
        creator = format_flowchart(nodes, ids, lambda node: node.products, arrow="-.->")
        return {
            f"{prefix}_supplier.mmd": supplier,
            f"{prefix}_creator.mmd": creator,
            f"{prefix}.md": format_page(supplier, creator),
        }


# --8<-- [end:exporter]
