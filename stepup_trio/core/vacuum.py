"""The vacuum rules: what it means for steps when nodes are no longer defined, or must be
checked again.

A mixin of :class:`stepup_trio.core.workflow.Workflow`. The graph only moves nodes to the
vacuum (:meth:`stepup_trio.core.graph.Graph.orphan`); these rules decide what follows, as in
StepUp 1.3.1:

- A file in the vacuum may come back as another file: with another creator, or another
  content. Every step that uses it is pending until the file is defined again, and forgets
  what it amended, since that may have depended on the file.
- A step in the vacuum is no longer known to be done: it is pending, and so are its built
  outputs and the steps that use them. (StepUp 1.3.1 leaves some orphaned steps SUCCEEDED,
  depending on the order in which it visits them; here no orphan looks done.)
- A needed step in the vacuum no longer makes the optional steps that feed it needed, unless
  another needed step still uses them.
"""

from collections import deque
from typing import Any

from stepup_trio.core.states import FileState, Mandatory, StepState

__all__ = ["Vacuum"]

StepNode = Any
FileNode = Any


class Vacuum:
    # Provided by Workflow.
    graph: Any
    may_validate: set
    must_run: set
    _to_orphan: deque
    _orphaning: bool

    def orphan(self, node: Any) -> None:
        """Hand ``node`` and what it created to the vacuum, and apply the rules above.

        The rules orphan more nodes in turn (the products of steps that become pending, their
        amended outputs). Those wait in a queue instead of a recursion, so long chains are
        fine. A call made while the queue is worked off returns before its node is orphaned.
        """
        self._to_orphan.append(node)
        if self._orphaning:
            return
        self._orphaning = True
        try:
            while self._to_orphan:
                for orphaned in self.graph.orphan(self._to_orphan.popleft()):
                    if orphaned.kind == "step":
                        self.make_pending(orphaned)
                        self._release_implied(orphaned)
                    elif orphaned.kind == "file":
                        self._file_orphaned(orphaned)
        finally:
            self._to_orphan.clear()
            self._orphaning = False

    def _file_orphaned(self, node: FileNode) -> None:
        for consumer in list(node.consumers):
            if (
                consumer.kind == "step"
                and not consumer.orphan
                and consumer.state != StepState.RUNNING
            ):
                self.make_pending(consumer)
                self.drop_amended(consumer)

    def make_pending(self, step: StepNode, input_changed: bool = False) -> None:
        """The step must be checked again: its outputs and their consumers wait for it.

        What it created besides its outputs (sub-steps, static files, deferred globs) goes to
        the vacuum until the step runs or is skipped again. A running step is left alone: its
        outcome decides. When an input changed, the step's amended inputs may no longer be
        needed: it may be validated (see Execution.try_queue). The consumers of its outputs
        have an input that changed.
        """
        todo = [(step, input_changed)]
        while todo:
            current, changed = todo.pop()
            if current.state == StepState.RUNNING or (current.orphan and current is not step):
                continue
            current.state = StepState.PENDING
            self.must_run.discard(current)
            if changed and not current.orphan:
                self.may_validate.add(current)
            # The outputs are the step's consumers (also when they are orphans with it).
            for output in current.consumers:
                if output.kind == "file" and output.state == FileState.BUILT:
                    output.state = FileState.PENDING
                    todo.extend((c, True) for c in output.consumers if c.kind == "step")
            for product in list(current.products):
                if not (product.kind == "file" and product in current.consumers):
                    self.orphan(product)

    def _release_implied(self, step: StepNode) -> None:
        """Optional steps that only the orphaned step needed are not needed any more."""
        if step.mandatory == Mandatory.NO:
            return
        todo = [step]
        while todo:
            consumer = todo.pop()
            for node in consumer.suppliers:
                creator = node.creator
                if (
                    node.kind == "file"
                    and creator is not None
                    and creator.kind == "step"
                    and not creator.orphan
                    and creator.mandatory == Mandatory.IMPLIED
                    and not self._needed(creator)
                ):
                    creator.mandatory = Mandatory.NO
                    todo.append(creator)

    @staticmethod
    def _needed(step: StepNode) -> bool:
        """Does a defined, needed step use one of the outputs of ``step``?"""
        return any(
            consumer.kind == "step" and not consumer.orphan and consumer.mandatory != Mandatory.NO
            for output in step.consumers
            if output.kind == "file"
            for consumer in output.consumers
        )
