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
not fields. The one exception is :meth:`SourceNode.probe`, which the director calls in a
worker thread to learn the state of something outside the workflow.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from stepup_trio.core.graph import Graph

__all__ = [
    "EXPORTERS_GROUP",
    "NODE_KINDS_GROUP",
    "Exporter",
    "Node",
    "ProbeError",
    "SourceNode",
    "sorted_keys",
]

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


class ProbeError(Exception):
    """Raised by :meth:`SourceNode.probe` when the state cannot be had; the message says why
    (and, if it helps, what to do): it is shown to the user."""


@attrs.define(eq=False, repr=False)
class SourceNode(Node):
    """A node whose state outside the workflow feeds the hash of every step that needs it.

    A web resource (its ETag), a git revision, a database version: anything a step depends on
    that is not a file in the workflow. A step names source nodes by key with
    ``step(..., needs=["kind:local key"])``. The node is made with :meth:`from_local_key` and
    exists as long as some step needs it; the graph shows it with its last :attr:`stamp`, and
    the workflow dump keeps it.

    Before a step is skipped, and when it ran, the director calls :meth:`probe` in a worker
    thread (once per run phase for each node) and adds the node's key and the result to the
    step hash: when the result changes, the steps that need the node run again. A source is
    always available: it never makes a step wait. Subclasses add their data as attrs fields
    (the ``stamp`` field is keyword-only, so theirs may be positional) and set :attr:`kind`.
    """

    #: The result of the last probe, kept in the dump; None before the first.
    stamp: bytes | None = attrs.field(default=None, kw_only=True)

    #: Seconds a probe may take; a slower one counts as failed.
    probe_timeout: ClassVar[float] = 30.0

    @classmethod
    def from_local_key(cls, local_key: str) -> "SourceNode":
        """The node for ``kind:local_key``, as a step named it in ``needs``.

        Raise ``ValueError`` with a message that says what a valid key looks like: it is
        shown to the user as the reason why the step cannot be defined.
        """
        raise NotImplementedError

    def probe(self) -> bytes:
        """The current state, as bytes that change exactly when the state changes.

        Called in a worker thread: I/O is allowed, changing the node or the graph is not.
        Raise :class:`ProbeError` when the state cannot be had (the resource is gone, the
        network is down): the steps that need the node are then run instead of skipped.
        """
        raise NotImplementedError

    def is_available(self) -> bool:
        return True

    def properties(self) -> Iterator[tuple[str, str]]:
        yield "stamp", "(not probed)" if self.stamp is None else self.stamp.hex()

    def dot_attributes(self) -> str:
        return " shape=hexagon fillcolor=7"


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

    An exception is reported to the caller as a failure of this exporter (with its message),
    nothing is written, and the workflow goes on.
    """

    #: The format name, equal to the entry-point name.
    name: ClassVar[str] = ""

    def export(self, graph: "Graph", prefix: str) -> Mapping[str, str]:
        """Return a mapping from file name (derived from ``prefix``) to file contents."""
        raise NotImplementedError


def sorted_keys(nodes: Iterable[Node]) -> list[Node]:
    """Nodes sorted by key, the stable order used for relations in every exporter."""
    return sorted(nodes, key=lambda node: node.key)
