"""The contract between stepup_trio and its plugins: node kinds and graph exporters.

The built-in kinds (root, vacuum, file, step) and exporters (text, dot) are written against
this module only, and registered through the same entry-point groups as third-party plugins:

- ``stepup_trio.node_kinds``: the entry-point name is the kind, the object a :class:`Node`
  subclass whose ``kind`` class attribute equals that name;
- ``stepup_trio.exporters``: the entry-point name is the format, the object an
  :class:`Exporter` subclass.

Plugins import only from this module. Writing a plugin, with an exporter distributed on its
own (``plugins/stepup-trio-mermaid``) as the example, is explained in the documentation page
"Writing a plugin".

Nodes are plain attrs classes without I/O. Their attrs fields are the data stored in the
workflow dump (converted by cattrs); the relations to other nodes are kept by the graph and are
not fields.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from stepup_trio.core.graph import Graph

__all__ = ["EXPORTERS_GROUP", "NODE_KINDS_GROUP", "Exporter", "Node", "sorted_keys"]

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
    """Turns the workflow graph into one or more text files: a graph format such as ``dot``.

    Register a subclass under the entry-point group ``stepup_trio.exporters``, with the format
    name as entry-point name and as :attr:`name`. The director creates one instance per
    request and writes the files itself, atomically and only after :meth:`export` returned,
    so an exporter does no I/O and cannot leave half a set of files behind.

    What an exporter may rely on:

    - ``graph`` iterates over every :class:`Node` in creation order (a recycled node keeps its
      place), the root first and the vacuum second. Treat it as ``Iterable[Node]``: the rest of
      the class belongs to stepup-trio and may change.
    - Each node offers :attr:`~Node.kind`, :attr:`~Node.key`, :attr:`~Node.orphan`, the
      relations :attr:`~Node.creator`, :attr:`~Node.products`, :attr:`~Node.suppliers` and
      :attr:`~Node.consumers`, and the hooks :meth:`~Node.dot_label`,
      :meth:`~Node.dot_attributes`, :meth:`~Node.shown_in_supplier_dot` and
      :meth:`~Node.properties`. The root is its own creator: mind that loop.
      Do not change anything: the graph is the live workflow.
    - Order relations with :func:`sorted_keys`, so that the same workflow always gives the
      same files.

    What the director expects back:

    - file names derived from ``prefix`` (``prefix`` plus a suffix), relative to the root of
      the workflow, as the built-in formats do (``text``: ``<prefix>.txt``);
    - contents that can be encoded as UTF-8. Paths may hold lone surrogates (file names that
      are not valid UTF-8, read with ``surrogateescape``) and any other character, including
      quotes and newlines: escape them in the syntax of the format.

    An exception other than :class:`~stepup_trio.errors.StepUpError` is reported to the
    caller as an internal error of the director, and the workflow goes on.
    """

    #: The format name, equal to the entry-point name.
    name: ClassVar[str] = ""

    def export(self, graph: "Graph", prefix: str) -> Mapping[str, str]:
        """Return a mapping from file name (derived from ``prefix``) to file contents."""
        raise NotImplementedError


def sorted_keys(nodes: Iterable[Node]) -> list[Node]:
    """Nodes sorted by key, the stable order used for relations in every exporter."""
    return sorted(nodes, key=lambda node: node.key)
