"""The workflow graph: nodes in creation order, the creator relation and the supplier relation.

The graph knows the :class:`~stepup_trio.plugin_api.Node` API, not the kinds. Two relations
connect the nodes:

- creator -> product: every node has exactly one creator. ``root:`` creates itself, and nodes
  that nobody defines any more are handed to ``vacuum:`` (they become *orphans*);
- supplier -> consumer: many-to-many and acyclic. A cycle is refused before anything changes.
"""

from collections.abc import Iterable, Iterator

from stepup_trio.errors import CyclicError, GraphError
from stepup_trio.plugin_api import Node

__all__ = ["Graph"]


class Graph:
    """Nodes by key, in the order they were first created (recycling keeps the place)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._root: Node | None = None
        self._vacuum: Node | None = None

    # Lookup

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __contains__(self, key: str) -> bool:
        return key in self.nodes

    def get(self, key: str) -> Node | None:
        return self.nodes.get(key)

    @property
    def root(self) -> Node:
        if self._root is None:
            raise GraphError("The graph has no root node yet.")
        return self._root

    @property
    def vacuum(self) -> Node:
        if self._vacuum is None:
            raise GraphError("The graph has no vacuum node yet.")
        return self._vacuum

    # Creation

    def add_root(self, root: Node, vacuum: Node) -> None:
        """Add the two special nodes: the root creates itself and the vacuum."""
        if self.nodes:
            raise GraphError("The root node must be the first node in the graph.")
        self.nodes[root.key] = root
        root.creator = root
        self._root = root
        self.add(vacuum, root)
        self._vacuum = vacuum

    def add(self, node: Node, creator: Node) -> Node:
        """Add ``node`` created by ``creator`` and return the node now in the graph.

        When an orphan with the same key exists, it is recycled: it keeps its place, its
        consumers and whatever its kind keeps (hashes), takes the new definition, and loses its
        suppliers (the caller declares them again).
        """
        if creator.orphan:
            raise GraphError(f"An orphan cannot create nodes: {creator.key}")
        existing = self.nodes.get(node.key)
        if existing is None:
            self.nodes[node.key] = node
            self._set_creator(node, creator)
            return node
        if not existing.orphan:
            raise GraphError(f"Node already exists: {existing.key}")
        if type(existing) is not type(node):
            raise GraphError(f"Cannot recycle {existing.key} as another kind of node.")
        existing.on_recycled(self, node)
        self.clear_suppliers(existing)
        self._set_creator(existing, creator)
        return existing

    def add_orphan(self, node: Node) -> Node:
        """Add a placeholder that nobody has defined yet, or return the existing node."""
        existing = self.nodes.get(node.key)
        if existing is not None:
            return existing
        self.nodes[node.key] = node
        self._set_creator(node, self.vacuum)
        return node

    def _set_creator(self, node: Node, creator: Node) -> None:
        if node.creator is not None and node.creator is not node:
            node.creator.products.pop(node, None)
        node.creator = creator
        if creator is not node:
            creator.products[node] = None

    # Supplier relation

    def add_supplier(self, supplier: Node, consumer: Node) -> None:
        """Add the relation supplier -> consumer. Use :meth:`check_acyclic` first."""
        if supplier is consumer:
            raise CyclicError(f"A node cannot supply itself: {supplier.key}")
        consumer.suppliers[supplier] = None
        supplier.consumers[consumer] = None

    def remove_supplier(self, supplier: Node, consumer: Node) -> None:
        consumer.suppliers.pop(supplier, None)
        supplier.consumers.pop(consumer, None)

    def clear_suppliers(self, node: Node) -> None:
        for supplier in list(node.suppliers):
            self.remove_supplier(supplier, node)

    def check_acyclic(
        self, suppliers: Iterable[Node], consumers: Iterable[Node], via: str | None = None
    ) -> None:
        """Raise :class:`CyclicError` if linking the suppliers to the consumers closes a cycle.

        The new relations run from every supplier, through ``via`` (the key of a node that is
        being added, if any), to every consumer. A cycle appears when one of the consumers
        already reaches one of the suppliers.
        """
        targets = set(suppliers)
        if not targets:
            return
        # Iterative depth-first search: chains of many thousands of steps are common.
        parent: dict[Node, Node | None] = {}
        stack: list[Node] = []
        for start in consumers:
            if start not in parent:
                parent[start] = None
                stack.append(start)
        while stack:
            node = stack.pop()
            if node in targets:
                path = [node]
                while (previous := parent[path[-1]]) is not None:
                    path.append(previous)
                keys = [item.key for item in reversed(path)]
                if via is not None:
                    keys.append(via)
                keys.append(keys[0])
                cycle = "".join(f"\n  {key}" for key in keys)
                raise CyclicError(f"New relation introduces cyclic dependency:{cycle}")
            for consumer in node.consumers:
                if consumer not in parent:
                    parent[consumer] = node
                    stack.append(consumer)

    # Vacuum

    def orphan(self, node: Node) -> list[Node]:
        """Hand ``node`` and, recursively, everything it created to the vacuum.

        Returns the nodes that became orphans, creators before their products. (What that
        means for the steps that use them is a rule of the workflow, not of the graph.)
        """
        orphaned = []
        stack = [node]
        while stack:
            current = stack.pop()
            if current.orphan or current is self._root or current is self._vacuum:
                continue
            stack.extend(reversed(current.products))
            self._set_creator(current, self.vacuum)
            current.on_orphaned(self)
            orphaned.append(current)
        return orphaned

    def remove(self, node: Node) -> None:
        """Remove an orphan without products or consumers from the graph."""
        if not node.orphan:
            raise GraphError(f"Only orphans can be removed: {node.key}")
        if node.consumers:
            raise GraphError(f"Cannot remove a node that still supplies others: {node.key}")
        self.clear_suppliers(node)
        self.vacuum.products.pop(node, None)
        del self.nodes[node.key]
