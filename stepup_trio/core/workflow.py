"""The rules of a StepUp workflow: defining steps and static files, queueing, completing.

Everything here is synchronous and free of I/O. The director asks the workflow what can run,
hands steps to workers, and tells the workflow what happened.
"""

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from stepup_trio.core.actions import Action, DeclareStatic, DefineStep
from stepup_trio.core.graph import Graph
from stepup_trio.core.paths import is_always_static, parent_path
from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.core.stephash import StepHash
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
        # What each running step has done so far: its recording once it succeeds.
        self._recordings: dict[StepNode, list[Action]] = {}
        if graph is None:
            graph = Graph()
            graph.add_root(kinds["root"](), kinds["vacuum"]())
        self.graph = graph

    @classmethod
    def boot(cls, kinds: Mapping[str, type[Node]], plan: str = "plan.py") -> "Workflow":
        """A fresh workflow whose only step runs the top-level plan script."""
        workflow = cls(kinds)
        workflow.define_boot(plan)
        return workflow

    def define_boot(self, plan: str = "plan.py") -> StepNode:
        """Declare the plan script and the step that runs it, both created by the root."""
        root = self.graph.root
        self.declare_static(root, [plan])
        return self.define_step(root, f"./{plan}", inp=[plan])

    def dissolve(self) -> None:
        """Hand every node to the vacuum and drop the relations of steps.

        Used after loading a dump: replaying the boot step takes back, one by one, the nodes
        that are still defined, with their hashes, so unchanged steps are skipped.
        """
        for node in list(self.graph):
            if node.kind in ("root", "vacuum"):
                continue
            self.graph.orphan(node)
            if node.kind == "step":
                self.graph.clear_suppliers(node)
                for consumer in list(node.consumers):
                    self.graph.remove_supplier(node, consumer)
                if node.state in (StepState.QUEUED, StepState.RUNNING):
                    node.state = StepState.PENDING
        self.queue.clear()
        self._recordings.clear()

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
        if is_always_static(path):
            # ./, / and ../ always exist: the root takes them back when they were orphaned.
            if node is None or node.orphan:
                node = self.graph.add(self._new_file(path, FileState.STATIC), self.graph.root)
        elif node is not None:
            return node
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

    def perform(self, creator: Node, action: Action) -> Any:
        """Carry out an action for ``creator`` and add it to the creator's recording."""
        if isinstance(action, DefineStep):
            result = self.define_step(
                creator,
                action.command,
                workdir=action.workdir,
                inp=action.inp,
                out=action.out,
                env=action.env,
                optional=action.optional,
                pool=action.pool,
                block=action.block,
            )
        elif isinstance(action, DeclareStatic):
            result = self.declare_static(creator, action.paths)
        else:
            raise GraphError(f"Unknown action: {type(action).__name__}")
        recording = self._recordings.get(creator)
        if recording is not None:
            recording.append(action)
        return result

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
        self._recordings[step] = []

    def abort(self, step: StepNode) -> None:
        """The run was interrupted: the step and its outputs are pending again."""
        self._recordings.pop(step, None)
        step.state = StepState.PENDING
        for node in self.outputs(step):
            if node.state == FileState.BUILT:
                node.state = FileState.PENDING

    def _store_hashes(self, step: StepNode, hashes: Mapping[str, FileHash]) -> list[FileNode]:
        for node in self.inputs(step):
            if node.path in hashes and node.state == FileState.STATIC:
                node.hash = hashes[node.path]
        outputs = self.outputs(step)
        for node in outputs:
            node.hash = hashes.get(node.path, node.hash)
        return outputs

    def _succeeded(self, step: StepNode, outputs: list[FileNode]) -> None:
        step.state = StepState.SUCCEEDED
        for node in outputs:
            node.state = FileState.BUILT

    def _queue_consumers(self, outputs: list[FileNode]) -> None:
        for node in outputs:
            for consumer in node.consumers:
                if consumer.kind == "step":
                    self.try_queue(consumer)

    def finish(
        self,
        step: StepNode,
        success: bool,
        hashes: Mapping[str, FileHash],
        step_hash: StepHash | None = None,
    ) -> None:
        """Record the outcome of a run and queue the consumers it made ready.

        A success keeps the step hash and what the step did (its recording); a failure drops
        both, so the step always runs again.
        """
        recording = self._recordings.pop(step, [])
        outputs = self._store_hashes(step, hashes)
        if not success:
            step.state = StepState.FAILED
            step.hash = None
            step.recording = None
            return
        step.hash = step_hash
        step.recording = recording
        self._succeeded(step, outputs)
        self._queue_consumers(outputs)

    def skip(self, step: StepNode, hashes: Mapping[str, FileHash]) -> bool:
        """Nothing changed: mark the step done and replay what it did the last time.

        Returns False when the recording no longer fits the graph (for example, a file it
        declared static is now another step's output). The step then forgets its hash and
        recording, its partial replay is undone, and it must run instead.
        """
        outputs = self._store_hashes(step, hashes)
        self._succeeded(step, outputs)
        try:
            for action in step.recording or ():
                self.perform(step, action)
        except GraphError:
            for product in list(step.products):
                if product.kind != "file" or product not in outputs:
                    self.graph.orphan(product)
            step.hash = None
            step.recording = None
            step.state = StepState.QUEUED
            for node in outputs:
                node.state = FileState.PENDING
            return False
        self._queue_consumers(outputs)
        return True

    def replayable(self, step: StepNode) -> bool:
        """A step with a hash and a recording may be skipped if its hash is unchanged."""
        return step.hash is not None and step.recording is not None

    def hashed_paths(self, step: StepNode) -> tuple[list[FileNode], list[FileNode]]:
        """The inputs and outputs that enter the step hash (volatile files never do)."""
        outputs = [
            node
            for node in self.outputs(step)
            if node.state in (FileState.PENDING, FileState.BUILT)
        ]
        return self.inputs(step), outputs

    # Cleanup

    def clean(self) -> list[FileNode]:
        """Remove the orphans that nothing depends on, after a complete run.

        Returns the removed files that were built before, deepest path first: the caller
        deletes them from disk if they did not change since. Static files are never returned.
        """
        todo = list(self.graph.vacuum.products)
        removed: list[FileNode] = []
        while todo:
            node = todo.pop()
            if node.key not in self.graph or not node.orphan or node.consumers:
                continue
            suppliers = [supplier for supplier in node.suppliers if supplier.orphan]
            self.graph.remove(node)
            todo.extend(suppliers)
            if node.kind == "file" and (
                node.state == FileState.VOLATILE
                or (
                    node.state in (FileState.PENDING, FileState.BUILT)
                    and node.hash is not None
                    and node.hash.known
                )
            ):
                removed.append(node)
        return sorted(removed, key=lambda node: node.path, reverse=True)

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
