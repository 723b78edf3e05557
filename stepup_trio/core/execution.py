"""The rules for running steps: queueing, pools, starting, finishing, skipping and cleaning.

A mixin of :class:`stepup_trio.core.workflow.Workflow`, kept apart so that each module has one
job: the workflow module holds what steps declare, this one what happens when they run.
"""

from collections import deque
from collections.abc import Collection, Mapping
from typing import Any

from stepup_trio.core.actions import DeclareStatic, replay_order
from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.core.stephash import StepHash
from stepup_trio.errors import GraphError
from stepup_trio.hashing import FileHash
from stepup_trio.plugin_api import SourceNode

__all__ = ["Execution", "Outcome"]

StepNode = Any
FileNode = Any


class Outcome:
    """How a run ended, as the reporter names it."""

    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    RESCHEDULE = "RESCHEDULE"


class Execution:
    # Provided by Workflow.
    graph: Any
    queue: deque
    pools: dict[str, int]
    pool_running: dict[str, int]
    pool_parked: dict[str, deque]
    deferred: dict
    to_validate: set
    may_validate: set
    must_run: set
    _recordings: dict
    _reschedule: dict

    # Queueing

    def _waiting_for(self, step: StepNode) -> list[FileNode]:
        """The suppliers that keep the step from running.

        A supplier must be available and defined. An orphan is fine only when the step's
        recording declares it static: the step defines it again when it is skipped or runs.
        """
        declared = None
        waiting = []
        for node in step.suppliers:
            if node.orphan:
                if declared is None:
                    declared = self.declared_static(step)
                if getattr(node, "path", None) not in declared:
                    waiting.append(node)
            elif not node.is_available():
                waiting.append(node)
        return waiting

    @staticmethod
    def declared_static(step: StepNode) -> set[str]:
        """The paths that the step's recording declares static."""
        return {
            path
            for action in step.recording or ()
            if isinstance(action, DeclareStatic)
            for path in action.paths
        }

    def try_queue(self, step: StepNode) -> bool:
        """Queue the step if it can run now, or if its amended inputs must be checked first.

        A step waits for all its inputs. When some inputs that it amended earlier are missing
        and one of its inputs changed (or became available, or the step was just redefined),
        they may no longer be needed: the step is queued for validation, which compares its
        input digest (a step without a hash simply forgets them). Otherwise it waits for them.

        Steps of a named pool wait in the queue of that pool (validations do not).
        """
        if not (
            step.state == StepState.PENDING
            and not step.orphan
            and not step.block
            and step.mandatory != Mandatory.NO
            and (step.pool is None or step.pool in self.pools)
        ):
            return False
        if step in self.may_validate and self._amended_missing(step):
            self.to_validate.add(step)
        elif self._waiting_for(step):
            return False
        self.may_validate.discard(step)
        step.state = StepState.QUEUED
        if step.pool is not None and step not in self.to_validate:
            self._parked(step.pool).append(step)
        else:
            self.queue.append(step)
        return True

    @staticmethod
    def _amended_missing(step: StepNode) -> bool:
        """Is one of the step's amended inputs not available, or an orphan (which StepUp
        makes a pending placeholder when it is amended)?"""
        if not step.amended_inp:
            return False
        amended = set(step.amended_inp)
        return any(
            node.kind == "file"
            and node.path in amended
            and (node.orphan or not node.is_available())
            for node in step.suppliers
        )

    def _next(self) -> tuple[StepNode, str | None] | None:
        """The next step to run and its named pool (None for the main queue). Named pools
        with room come first (in order of definition), then the main queue, each first in
        first out. Entries of steps that are no longer queued are dropped on the way."""
        for pool, size in self.pools.items():
            if self.pool_running.get(pool, 0) < size:
                step = _first_queued(self.pool_parked.get(pool))
                if step is not None:
                    return step, pool
        step = _first_queued(self.queue)
        return None if step is None else (step, None)

    def next_queued(self) -> StepNode | None:
        """The step that :meth:`pop_queued` would return, left in its queue."""
        found = self._next()
        return None if found is None else found[0]

    def pop_queued(self) -> StepNode | None:
        """Take the next step to run (see :meth:`_next`)."""
        found = self._next()
        if found is None:
            return None
        step, pool = found
        if pool is None:
            self.queue.popleft()
        else:
            self.pool_parked[pool].popleft()
            self.pool_running[pool] = self.pool_running.get(pool, 0) + 1
        return step

    def requeue(self, step: StepNode) -> None:
        """Put a popped step back in front of its queue (the scheduler was put on hold)."""
        if step.pool is not None and step not in self.to_validate:
            self.release_pool(step)
            self._parked(step.pool).appendleft(step)
        else:
            self.queue.appendleft(step)

    @property
    def queued_count(self) -> int:
        return len(self.queue) + sum(len(parked) for parked in self.pool_parked.values())

    def _parked(self, pool: str) -> deque:
        return self.pool_parked.setdefault(pool, deque())

    def release_pool(self, step: StepNode) -> None:
        """A step of a pool is done: the next parked step of that pool may go."""
        if step.pool is None or self.pool_running.get(step.pool, 0) == 0:
            return
        self.pool_running[step.pool] -= 1

    # Amended inputs

    def drop_amended(self, step: StepNode) -> None:
        """Forget what the step amended: it will find out again when it runs."""
        if step.amended_inp:
            amended = set(step.amended_inp)
            for node in list(step.suppliers):
                if node.kind == "file" and node.path in amended:
                    self.graph.remove_supplier(node, step)
        if step.amended_out or step.amended_vol:
            amended = set(step.amended_out + step.amended_vol)
            for node in list(step.consumers):
                if node.kind == "file" and node.path in amended:
                    self.graph.remove_supplier(step, node)
                    self.orphan(node)
        step.drop_amended()
        # The globs it used are registered again when it runs or is skipped.
        step.globs = []

    def validated(self, step: StepNode, still_valid: bool) -> None:
        """The outcome of checking a step's amended inputs against its input digest."""
        self.to_validate.discard(step)
        step.state = StepState.PENDING
        if still_valid:
            # The step waits for its amended inputs, unless they arrived meanwhile.
            self.try_queue(step)
            return
        self.drop_amended(step)
        step.hash = None
        step.recording = None
        # It runs once its inputs are available. An input that arrived since it was queued
        # for the validation still counts for its next validation (as in StepUp, whose run
        # job after a validation leaves that flag alone).
        flagged = step in self.may_validate
        self.try_queue(step)
        if flagged:
            self.may_validate.add(step)

    # Running

    def start(self, step: StepNode) -> None:
        """The step runs: what it created the last time is forgotten until it does so again."""
        self.drop_amended(step)
        outputs = set(step.out) | set(step.vol)
        for product in list(step.products):
            if not (product.kind == "file" and product.path in outputs):
                self.orphan(product)
        step.state = StepState.RUNNING
        self.must_run.discard(step)
        self._recordings[step] = []

    def abort(self, step: StepNode) -> None:
        """The run was interrupted: the step and its outputs are pending again."""
        self._recordings.pop(step, None)
        self._reschedule.pop(step, None)
        self.release_pool(step)
        step.state = StepState.PENDING
        for node in self.outputs(step):
            if node.state == FileState.BUILT:
                node.state = FileState.PENDING

    def _store_hashes(
        self,
        step: StepNode,
        hashes: Mapping[str, FileHash],
        stamps: Mapping[str, bytes] | None = None,
    ) -> list[FileNode]:
        """Keep the hashes of the step's static inputs and its outputs, and the stamps of its
        sources; return the outputs that are not volatile."""
        if stamps:
            for node in step.suppliers:
                if node.key in stamps:
                    node.stamp = stamps[node.key]
        for node in self.inputs(step):
            if node.path in hashes and node.state == FileState.STATIC:
                node.hash = hashes[node.path]
        outputs = [node for node in self.outputs(step) if node.state != FileState.VOLATILE]
        for node in outputs:
            node.hash = hashes.get(node.path, node.hash)
        return outputs

    def _succeeded(self, step: StepNode, outputs: list[FileNode]) -> None:
        step.state = StepState.SUCCEEDED
        for node in outputs:
            node.state = FileState.BUILT

    def _queue_consumers(self, nodes: list[FileNode]) -> None:
        """The nodes are available (again): their consumers may run, and an input of theirs
        changed, so their amended inputs may be validated (also for a step that is queued
        already, when it comes back). Nodes and consumers go in the order of their keys, as in
        StepUp."""
        for node in sorted(nodes, key=_key):
            if not node.is_available():
                continue
            for consumer in sorted(node.consumers, key=_key):
                if consumer.kind == "step" and not consumer.orphan:
                    self.may_validate.add(consumer)
                    self.try_queue(consumer)

    @staticmethod
    def _file_products(step: StepNode) -> list[FileNode]:
        return [node for node in step.products if node.kind == "file"]

    def finish(
        self,
        step: StepNode,
        success: bool,
        hashes: Mapping[str, FileHash],
        step_hash: StepHash | None = None,
        stamps: Mapping[str, bytes] | None = None,
    ) -> str:
        """Record the outcome of a run, queue the consumers it made ready, return the outcome.

        A success keeps the step hash and what the step did (its recording); a failure drops
        both, so the step always runs again. A step that amended inputs which were not
        available is rescheduled: it runs again once they are.
        """
        recording = self._recordings.pop(step, [])
        reschedule = self._reschedule.pop(step, set())
        self.release_pool(step)
        outputs = self._store_hashes(step, hashes, stamps)
        if reschedule:
            # Once the missing amended inputs arrive, a hash tells whether the amended
            # information is still valid, and whether the step may be skipped. The hash and
            # recording of the last success are kept, which belong together. Without them,
            # the hash of this run is kept, without a recording: the step must run. (StepUp
            # keeps the hash of this run with the recording of the last success, and may then
            # skip the step, keeping outputs of a run with other inputs.)
            step.state = StepState.PENDING
            if step.hash is None or step.recording is None:
                step.hash = step_hash
                step.recording = None
            self.try_queue(step)
            return Outcome.RESCHEDULE
        if not success:
            step.state = StepState.FAILED
            step.hash = None
            step.recording = None
            return Outcome.FAIL
        step.hash = step_hash
        step.recording = recording
        self._succeeded(step, outputs)
        self._queue_consumers(self._file_products(step))
        return Outcome.SUCCESS

    def rescheduled_due_to(self, step: StepNode) -> list[str]:
        """The amended inputs a running step is waiting for."""
        return sorted(self._reschedule.get(step, ()))

    def skip(
        self,
        step: StepNode,
        hashes: Mapping[str, FileHash],
        stamps: Mapping[str, bytes] | None = None,
        missing: Collection[str] = (),
    ) -> bool:
        """Nothing changed: mark the step done and replay what it did the last time.

        ``missing`` are the files the step declared static that are gone from the disk: they
        are declared again as missing (the steps that use them wait until they come back).

        Returns False when the recording no longer fits the graph (for example, a file it
        declared static is now another step's output). The step then forgets its hash and
        recording, its partial replay is undone, and it must run instead.
        """
        outputs = self._store_hashes(step, hashes, stamps)
        step.globs = []  # The replay registers them again.
        try:
            for action in replay_order(step.recording or []):
                if isinstance(action, DeclareStatic):
                    self.declare_static(step, action.paths, missing)
                else:
                    self.perform(step, action)
        except GraphError:
            for product in list(step.products):
                if product not in outputs:
                    self.orphan(product)
            step.hash = None
            step.recording = None
            return False
        # As in StepUp, the outputs are built after the replay: the steps it defined that use
        # them are queued with the other consumers.
        self._succeeded(step, outputs)
        self.release_pool(step)
        self._queue_consumers(self._file_products(step))
        return True

    def keep_skipped(self, step: StepNode, hashes: Mapping[str, FileHash]) -> None:
        """A restart found the step unchanged and keeps it as loaded (stepup_trio.core.restart).

        Only the file hashes are brought up to date: a touched file keeps its digest but has
        a new mtime.
        """
        self._store_hashes(step, hashes)

    def replayable(self, step: StepNode) -> bool:
        """A step with a hash and a recording may be skipped if its hash is unchanged (and
        was not found changed since it was queued)."""
        return step.hash is not None and step.recording is not None and step not in self.must_run

    def run_later(self, step: StepNode) -> None:
        """The queued step cannot be skipped: it runs after the steps queued before it, as a
        run job of StepUp does after a failed replay."""
        self.must_run.add(step)
        if step.pool is not None:
            self.release_pool(step)
            self._parked(step.pool).append(step)
        else:
            self.queue.append(step)

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

        Optional steps that nothing needed are orphaned first. Returns the removed files that
        were built before (or are volatile), deepest path first: the caller deletes them from
        disk if they did not change since. Static files are never returned.
        """
        for step in list(self.steps()):
            if step.mandatory == Mandatory.NO and not step.orphan:
                self.orphan(step)
        for dg in self.deferred.values():
            # Deferred matches that no defined step uses any more leave the graph (never the
            # disk), also when their last consumer is removed by this cleanup. Deepest first:
            # a directory is used by the matches in it.
            for node in sorted(dg.products, key=lambda node: node.key, reverse=True):
                if not any(not consumer.orphan for consumer in node.consumers):
                    self.orphan(node)
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
        for node in list(self.graph.root.products):
            if isinstance(node, SourceNode) and not node.consumers:
                # No step needs this source any more.
                self.orphan(node)
                self.graph.remove(node)
        return sorted(removed, key=lambda node: node.path, reverse=True)

    # Reports

    def pending_steps(self) -> list[StepNode]:
        """Mandatory steps that are defined but could not run, blocked ones included."""
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


def _first_queued(steps: deque | None) -> StepNode | None:
    """The first step of a queue that is still queued; the stale entries before it go."""
    while steps:
        step = steps[0]
        if step.state == StepState.QUEUED and not step.orphan:
            return step
        steps.popleft()
    return None


def _key(node) -> str:
    return node.key
