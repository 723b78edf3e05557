"""The contract between stepup_trio and its plugins: node kinds and graph exporters.

The built-in kinds (root, vacuum, file, step) and exporters (text, dot) are written against
this module only, and registered through the same entry-point groups as third-party plugins:

- ``stepup_trio.node_kinds``: the entry-point name is the kind, the object a :class:`Node`
  subclass whose ``kind`` class attribute equals that name;
- ``stepup_trio.exporters``: the entry-point name is the format, the object an
  :class:`Exporter` subclass.

Nodes are plain attrs classes without I/O. Their attrs fields are the data stored in the
workflow dump (converted by cattrs); the relations to other nodes are kept by the graph and are
not fields.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from stepup_trio.core.graph import Graph

__all__ = ["EXPORTERS_GROUP", "NODE_KINDS_GROUP", "Exporter", "Node"]

NODE_KINDS_GROUP = "stepup_trio.node_kinds"
EXPORTERS_GROUP = "stepup_trio.exporters"


@attrs.define(eq=False, repr=False)
class Node:
    """A node in the workflow graph. Subclasses add their data as attrs fields.

    Nodes compare by identity, so they can be used in sets and as dict keys. The graph keeps the
    relations in the slots below, which are not attrs fields and hence not serialized.
    """

    #: The kind, equal to the entry-point name under which the class is registered.
    kind: ClassVar[str] = ""
    #: Format version of the kind's fields, recorded in the dump.
    version: ClassVar[int] = 1

    creator: "Node | None" = attrs.field(init=False, default=None, metadata={"relation": True})
    products: "dict[Node, None]" = attrs.field(
        init=False, factory=dict, metadata={"relation": True}
    )
    suppliers: "dict[Node, None]" = attrs.field(
        init=False, factory=dict, metadata={"relation": True}
    )
    consumers: "dict[Node, None]" = attrs.field(
        init=False, factory=dict, metadata={"relation": True}
    )

    @property
    def local_key(self) -> str:
        """The part of the key after ``kind:``, unique among nodes of this kind."""
        raise NotImplementedError

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.local_key}"

    @property
    def orphan(self) -> bool:
        """Orphans are created by the vacuum node: no longer defined by anyone."""
        return self.creator is not None and self.creator.kind == "vacuum"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key}>"

    # Hooks used by the graph and the exporters. Override where a kind differs.

    def is_available(self) -> bool:
        """True when a step that consumes this node may run."""
        return False

    def properties(self) -> Iterator[tuple[str, str]]:
        """Name-value pairs shown in graph.txt, in order. An empty name continues a value."""
        return iter(())

    def dot_label(self) -> str:
        """Label of the node in the dot files."""
        return self.local_key

    def dot_attributes(self) -> str:
        """Extra dot attributes, with a leading space, e.g. `` shape=rect``."""
        return ""

    def shown_in_supplier_dot(self) -> bool:
        """Whether the node and its outgoing edges appear in the supplier graph picture."""
        return True

    def on_orphaned(self, graph: "Graph") -> None:
        """Called after the node was handed to the vacuum."""

    def on_recycled(self, graph: "Graph", fresh: "Node") -> None:
        """Called when an orphan is redefined; ``fresh`` holds the new definition."""


class Exporter:
    """Turns a graph into one or more text files. Pure: the caller writes the files."""

    #: The format name, equal to the entry-point name.
    name: ClassVar[str] = ""

    def export(self, graph: "Graph", prefix: str) -> Mapping[str, str]:
        """Return a mapping from file name (derived from ``prefix``) to file contents."""
        raise NotImplementedError


def sorted_keys(nodes: Iterable[Node]) -> list[Node]:
    """Nodes sorted by key, the stable order used for relations in every exporter."""
    return sorted(nodes, key=lambda node: node.key)
