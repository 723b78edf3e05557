"""A restart in which nothing changed, without dissolving and replaying the whole workflow.

After loading a dump, the workflow is normally dissolved: every node goes to the vacuum, the
plan is skipped and its recording replayed, which defines each step again, and so on down the
tree. When nothing changed, that rebuilds exactly the graph that was loaded, at a cost of tens
of microseconds per step.

:func:`skip_order` checks that the loaded workflow is a complete build of the kind that a
replay reproduces node for node, and returns the steps in the order in which that replay would
skip them (so the terminal shows the same SKIP lines). The director then only has to verify
each step's hash. Anything unusual (failed or pending steps, orphans, optional steps, pools,
globs, a recording that does not match the graph) returns None, and the caller takes the
general path. Pure: no I/O.
"""

from collections import deque
from typing import Any

from stepup_trio.core.actions import Amend, DeclareStatic, DefineStep, replay_order
from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.kinds.step import step_key

__all__ = ["skip_order"]

StepNode = Any
FileNode = Any
Workflow = Any


class _NotPlain(Exception):
    """The loaded workflow needs the general path."""


def skip_order(workflow: Workflow, plan: str) -> list[StepNode] | None:
    """The order in which a replay of the loaded workflow would skip its steps, or None.

    Each step is expected to be skipped; the caller checks its hash and gives up on the
    first one that changed.
    """
    try:
        return _Simulation(workflow, plan).run()
    except _NotPlain:
        return None


class _Simulation:
    """Follows the scheduler's rules on the loaded graph: a first-in first-out queue in which a
    step is validated first when amended inputs of its are missing, and skipped once its inputs
    are available. A skipped step declares and defines what its recording says, makes its
    outputs available, and queues the consumers of its files."""

    def __init__(self, workflow: Workflow, plan: str) -> None:
        self.workflow = workflow
        self.graph = workflow.graph
        self.plan = plan
        self.defined: set[StepNode] = set()
        self.available: set[FileNode] = set()
        self.confirmed: set[Any] = set()
        self.queued: set[StepNode] = set()
        self.skipped: set[StepNode] = set()
        self.may_validate: set[StepNode] = set()
        # Steps and whether they are queued for a validation of their amended inputs.
        self.queue: deque[tuple[StepNode, bool]] = deque()
        # Non-volatile outputs of each step, and the static files it declared.
        self.outputs: dict[StepNode, list[FileNode]] = {}
        self.declared: dict[StepNode, list[FileNode]] = {}

    def run(self) -> list[StepNode]:
        self._check_plain()
        root = self.graph.root
        boot = self.workflow.step(step_key(f"./{self.plan}", "./"))
        plan_file = self.workflow.file(self.plan)
        if boot is None or boot.creator is not root or plan_file is None:
            raise _NotPlain
        for node in root.products:
            if node.kind == "file" and node.state == FileState.STATIC:
                self._confirm(node, root)
                self.available.add(node)
        if plan_file not in self.available:
            raise _NotPlain
        self._define(boot, root)
        order = []
        while self.queue:
            step, validate = self.queue.popleft()
            self.queued.discard(step)
            if validate:
                # Nothing changed, so the amended inputs are still valid: the step waits.
                self._try_queue(step)
            else:
                order.append(step)
                self._skip(step)
        if len(self.confirmed) != len(self.graph) - 2:
            raise _NotPlain  # Some node would not be defined again: it must be cleaned.
        return order

    def _check_plain(self) -> None:
        """A complete, successful build without the features that need the general path."""
        if self.graph.vacuum.products or self.workflow.deferred:
            raise _NotPlain
        for node in self.graph:
            if node.kind == "step":
                if (
                    node.state != StepState.SUCCEEDED
                    or node.hash is None
                    or node.recording is None
                    or node.mandatory != Mandatory.YES
                    or node.pool is not None
                    or node.pools
                    or node.globs
                    or node.block
                ):
                    raise _NotPlain
            elif node.kind == "file":
                if node.state not in (FileState.STATIC, FileState.BUILT, FileState.VOLATILE):
                    raise _NotPlain
            elif node.kind not in ("root", "vacuum"):
                raise _NotPlain  # Kinds from plugins take the general path.

    def _confirm(self, node: Any, creator: Any) -> None:
        if node.creator is not creator or node in self.confirmed:
            raise _NotPlain
        self.confirmed.add(node)

    def _define(self, step: StepNode, creator: Any) -> None:
        """As define_step: the step and its outputs are taken back, with the relations that
        its definition (and what it amended) gave them when the dump was written."""
        self._confirm(step, creator)
        self.defined.add(step)
        outputs = []
        for path in (*step.out, *step.vol, *step.amended_out, *step.amended_vol):
            node = self.workflow.file(path)
            if node is None:
                raise _NotPlain
            self._confirm(node, step)
            outputs.append(node)
        if len(outputs) != len(step.consumers) or not all(n in step.consumers for n in outputs):
            raise _NotPlain
        self.outputs[step] = [node for node in outputs if node.state != FileState.VOLATILE]
        self.declared[step] = []
        if step.amended_inp:
            self.may_validate.add(step)
        self._try_queue(step)

    def _try_queue(self, step: StepNode) -> None:
        """As Execution.try_queue. A supplier that is not confirmed yet is an orphan: fine when
        the step's recording declares it."""
        if step not in self.defined or step in self.queued or step in self.skipped:
            return
        if step in self.may_validate and self._amended_missing(step):
            validate = True
        elif all(
            supplier in self.available
            or (supplier not in self.confirmed and _declares(step, supplier))
            for supplier in step.suppliers
        ):
            validate = False
        else:
            return
        self.may_validate.discard(step)
        self.queued.add(step)
        self.queue.append((step, validate))

    def _amended_missing(self, step: StepNode) -> bool:
        amended = set(step.amended_inp)
        return any(
            node.kind == "file" and node.path in amended and node not in self.available
            for node in step.suppliers
        )

    def _queue_consumers(self, node: FileNode) -> None:
        """As Execution._queue_consumers, for one available node."""
        consumers = [c for c in node.consumers if c.kind == "step" and c in self.defined]
        for consumer in sorted(consumers, key=_key):
            self.may_validate.add(consumer)
            self._try_queue(consumer)

    def _skip(self, step: StepNode) -> None:
        self.skipped.add(step)
        # As Execution.skip: the recording is replayed in its replay order ...
        for action in replay_order(step.recording):
            if isinstance(action, DefineStep):
                self._define(self._recorded_step(action, step), step)
            elif isinstance(action, DeclareStatic):
                nodes = []
                for path in action.paths:
                    node = self.workflow.file(path)
                    if node is None or node.state != FileState.STATIC:
                        raise _NotPlain
                    self._confirm(node, step)
                    self.available.add(node)
                    nodes.append(node)
                self.declared[step].extend(nodes)
                for node in nodes:
                    self._queue_consumers(node)
            elif not isinstance(action, Amend):
                raise _NotPlain
        # ... then the outputs are built, and the consumers of all its files are queued.
        self.available.update(self.outputs[step])
        for node in sorted([*self.outputs[step], *self.declared[step]], key=_key):
            self._queue_consumers(node)

    def _recorded_step(self, action: DefineStep, creator: StepNode) -> StepNode:
        """The step a recorded definition recycles, if the replay would leave it as it is."""
        step = self.workflow.step(step_key(action.command, action.workdir))
        if (
            step is None
            or action.optional
            or action.pool is not None
            or action.block
            or action.needs
            or not _same(step.inp, action.inp)
            or not _same(step.out, action.out)
            or not _same(step.vol, action.vol)
            or not _same(step.env_vars, action.env)
        ):
            raise _NotPlain
        return step


def _same(stored: tuple[str, ...], given: list[str]) -> bool:
    """Whether a definition gives what the step stores: its paths sorted, without repeats."""
    return stored == tuple(given) or stored == tuple(sorted(set(given)))


def _key(node: Any) -> str:
    return node.key


def _declares(step: StepNode, node: Any) -> bool:
    """Does the step's recording declare the node static?"""
    return node.kind == "file" and any(
        isinstance(action, DeclareStatic) and node.path in action.paths for action in step.recording
    )
