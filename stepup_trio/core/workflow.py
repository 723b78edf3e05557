"""The rules of a StepUp workflow: defining steps and static files, queueing, completing.

Everything here is synchronous and free of I/O. The director asks the workflow what can run,
hands steps to workers, and tells the workflow what happened.
"""

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from stepup_trio.core.graph import Graph
from stepup_trio.core.paths import is_always_static, parent_path
from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.errors import CyclicError, GraphError
from stepup_trio.hashing import FileHash
from stepup_trio.plugin_api import Node

__all__ = ["Workflow"]

# The nodes of the built-in kinds are accessed through their attributes only, so that this
# module depends on the plugin API and not on the kind modules.
FileNode = Any
StepNode = Any


class Workflow:
    """A graph plus the queue of steps that are ready to run."""

    def __init__(self, kinds: Mapping[str, type[Node]], graph: Graph | None = None) -> None:
        self.kinds = kinds
        self.queue: deque[StepNode] = deque()
        if graph is None:
            graph = Graph()
            graph.add_root(kinds["root"](), kinds["vacuum"]())
        self.graph = graph

    @classmethod
    def boot(cls, kinds: Mapping[str, type[Node]], plan: str = "plan.py") -> "Workflow":
        """A fresh workflow whose only step runs the top-level plan script."""
        workflow = cls(kinds)
        root = workflow.graph.root
        workflow.declare_static(root, [plan])
        workflow.define_step(root, f"./{plan}", inp=[plan])
        return workflow

    # Lookup

    def file(self, path: str) -> FileNode | None:
        return self.graph.get(f"file:{path}")

    def step(self, local_key: str) -> StepNode | None:
        return self.graph.get(f"step:{local_key}")

    def steps(self) -> Iterator[StepNode]:
        return (node for node in self.graph if node.kind == "step")

    @staticmethod
    def inputs(step: StepNode) -> list[FileNode]:
        return [node for node in step.suppliers if node.kind == "file"]

    @staticmethod
    def outputs(step: StepNode) -> list[FileNode]:
        return [node for node in step.consumers if node.kind == "file"]

    # Files

    def _new_file(self, path: str, state: FileState) -> FileNode:
        return self.kinds["file"](path=path, state=state)

    def _supplier_file(self, path: str) -> FileNode:
        """The node for a path something depends on; unknown paths become orphan placeholders."""
        node = self.file(path)
        if node is not None:
            return node
        if is_always_static(path):
            node = self.graph.add(self._new_file(path, FileState.STATIC), self.graph.root)
        else:
            node = self.graph.add_orphan(self._new_file(path, FileState.PENDING))
            self._link_parent(node)
        return node

    def _link_parent(self, node: FileNode) -> None:
        parent = parent_path(node.path)
        if parent is not None:
            self.graph.add_supplier(self._supplier_file(parent), node)

    def declare_static(self, creator: Node, paths: Iterable[str]) -> list[FileNode]:
        """Declare files and directories (trailing slash) that the user provides."""
        paths = sorted(set(paths))
        declared = set(paths)
        for path in paths:
            existing = self.file(path)
            if existing is not None and not existing.orphan:
                raise GraphError(f"Static path already exists: {path}")
            parent = parent_path(path)
            if parent is None or is_always_static(parent) or parent in declared:
                continue
            parent_node = self.file(parent)
            if parent_node is None or parent_node.orphan:
                raise GraphError(f"Static path has no parent path node: {path}")
            if parent_node.state != FileState.STATIC:
                raise GraphError(f"Static path has no static parent path node: {path}")
        nodes = []
        for path in paths:
            node = self.graph.add(self._new_file(path, FileState.STATIC), creator)
            self.graph.clear_suppliers(node)
            self._link_parent(node)
            nodes.append(node)
            for consumer in node.consumers:
                if consumer.kind == "step":
                    self.try_queue(consumer)
        return nodes

    # Steps

    def define_step(
        self,
        creator: Node,
        command: str,
        *,
        workdir: str = "./",
        inp: Iterable[str] = (),
        out: Iterable[str] = (),
        env: Iterable[str] = (),
        optional: bool = False,
        pool: str | None = None,
        block: bool = False,
    ) -> StepNode:
        """Add a step, or take back its orphan, and queue it if it can run.

        Every check comes before the first change, so a refused step leaves no trace.
        """
        inp_paths = sorted(set(inp))
        out_paths = sorted(set(out))
        fresh = self.kinds["step"](
            command=command,
            workdir=workdir,
            mandatory=Mandatory.NO if optional else Mandatory.YES,
            pool=pool,
            block=block,
            env_vars=tuple(sorted(set(env))),
        )
        existing = self.graph.get(fresh.key)
        if existing is not None and not existing.orphan:
            raise GraphError(f"Cannot define a step twice: {existing.key}")
        if creator.orphan:
            raise GraphError(f"An orphan cannot define steps: {creator.key}")
        for path in out_paths:
            node = self.file(path)
            if node is not None and not node.orphan:
                raise GraphError(f"Output is already created: {path}")
        dir_paths = sorted({workdir} | {parent_path(path) or "./" for path in out_paths})
        dir_paths = [path for path in dir_paths if path not in out_paths]
        for path in inp_paths:
            if path in out_paths:
                raise GraphError(f"A step cannot use its own output as input: {path}")
        self._check_new_step_acyclic(fresh.key, existing, dir_paths + inp_paths, out_paths)

        step = self.graph.add(fresh, creator)
        for path in dir_paths + inp_paths:
            self.graph.add_supplier(self._supplier_file(path), step)
        for path in out_paths:
            node = self.graph.add(self._new_file(path, FileState.PENDING), step)
            self.graph.clear_suppliers(node)
            self._link_parent(node)
            self.graph.add_supplier(step, node)
        self.try_queue(step)
        return step

    def _check_new_step_acyclic(
        self,
        key: str,
        existing: StepNode | None,
        supplier_paths: list[str],
        out_paths: list[str],
    ) -> None:
        """Refuse a step whose new relations would close a cycle, before anything changes.

        New supplier paths get placeholder nodes and parent links up to the first known
        ancestor, so a cycle can run through a path that does not exist yet: an input inside a
        directory that the step itself makes, or the step's own output.
        """
        outputs = set(out_paths)
        targets = []
        for path in supplier_paths:
            chain = [path]
            while (node := self.file(chain[-1])) is None:
                if chain[-1] in outputs:
                    keys = [key, *(f"file:{p}" for p in reversed(chain)), key]
                    cycle = "".join(f"\n  {item}" for item in keys)
                    raise CyclicError(f"New relation introduces cyclic dependency:{cycle}")
                parent = parent_path(chain[-1])
                if parent is None:
                    break
                chain.append(parent)
            else:
                targets.append(node)
        out_nodes = [node for path in out_paths if (node := self.file(path)) is not None]
        starts = out_nodes + (list(existing.consumers) if existing is not None else [])
        self.graph.check_acyclic(targets, starts, via=key)

    # Scheduling

    def can_run(self, step: StepNode) -> bool:
        return (
            step.state == StepState.PENDING
            and not step.orphan
            and not step.block
            and step.mandatory != Mandatory.NO
            and all(supplier.is_available() and not supplier.orphan for supplier in step.suppliers)
        )

    def try_queue(self, step: StepNode) -> bool:
        """Queue the step if it can run now."""
        if not self.can_run(step):
            return False
        step.state = StepState.QUEUED
        self.queue.append(step)
        return True

    def pop_queued(self) -> StepNode | None:
        """The next queued step, first in first out, skipping steps that left the queue."""
        while self.queue:
            step = self.queue.popleft()
            if step.state == StepState.QUEUED and not step.orphan:
                return step
        return None

    def start(self, step: StepNode) -> None:
        step.state = StepState.RUNNING

    def abort(self, step: StepNode) -> None:
        """The run was interrupted: the step and its outputs are pending again."""
        step.state = StepState.PENDING
        for node in self.outputs(step):
            if node.state == FileState.BUILT:
                node.state = FileState.PENDING

    def finish(self, step: StepNode, success: bool, hashes: Mapping[str, FileHash]) -> None:
        """Record the outcome of a run and queue the consumers it made ready."""
        for node in self.inputs(step):
            if node.path in hashes and node.state == FileState.STATIC:
                node.hash = hashes[node.path]
        outputs = self.outputs(step)
        for node in outputs:
            node.hash = hashes.get(node.path, node.hash)
        if not success:
            step.state = StepState.FAILED
            return
        step.state = StepState.SUCCEEDED
        for node in outputs:
            node.state = FileState.BUILT
        for node in outputs:
            for consumer in node.consumers:
                if consumer.kind == "step":
                    self.try_queue(consumer)

    # Reports

    def pending_steps(self) -> list[StepNode]:
        """Mandatory steps that are defined but could not run."""
        return sorted(
            (
                step
                for step in self.steps()
                if step.state == StepState.PENDING
                and not step.orphan
                and step.mandatory != Mandatory.NO
            ),
            key=lambda step: step.key,
        )

    def failed_steps(self) -> list[StepNode]:
        return [s for s in self.steps() if s.state == StepState.FAILED and not s.orphan]
