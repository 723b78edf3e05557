"""The director: schedules the workflow's steps on the workers and serves the RPC requests.

The workflow itself is pure data; the director asks it what can run, hands steps to workers
(or skips them when their hash did not change), and tells it what happened.
"""

import functools
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio

from stepup_trio import wire
from stepup_trio.collector import GraphFreezer, collect_frozen
from stepup_trio.core.actions import Amend, DefineStep
from stepup_trio.core.events import (
    Aborted,
    Event,
    Finished,
    Performed,
    Restarted,
    Skipped,
    Started,
    Validated,
)
from stepup_trio.core.execution import Outcome
from stepup_trio.core.explain import explain
from stepup_trio.core.restart import skip_order
from stepup_trio.core.states import FileState, StepState
from stepup_trio.core.stephash import StepHash, compute_step_hash
from stepup_trio.core.workflow import Workflow, required_dirs
from stepup_trio.errors import GraphError, StepUpError
from stepup_trio.hashing import FileHash
from stepup_trio.journal import Journal
from stepup_trio.pages import blocked_page, line_pages, pending_page, result_pages
from stepup_trio.plugin_api import Node
from stepup_trio.plugins import Plugins
from stepup_trio.services.hasher import NEEDS_READING, FileHasher, hash_without_reading
from stepup_trio.services.prober import SourceProber
from stepup_trio.services.reporter import Reporter
from stepup_trio.services.workers import WorkerDied, WorkerPool, invalid_inputs
from stepup_trio.store import encode, new_dump_id, write_atomic, write_encoded
from stepup_trio.watch import Watching

__all__ = ["Config", "Director", "ExitCode"]

logger = logging.getLogger(__name__)

#: What :meth:`Director._try_skip` found.
SKIPPED, NOSKIP, INVALID_INPUTS = "SKIPPED", "NOSKIP", "INVALID_INPUTS"

#: Seconds the scheduler may skip steps without giving other tasks a turn.
YIELD_INTERVAL = 0.02


class ExitCode:
    SUCCESS = 0
    ERROR = 1
    FAILED = 2
    PENDING = 3
    INTERRUPTED = 130


@attrs.frozen
class Config:
    """Everything the director needs from the command line."""

    plan: str = "plan.py"
    num_workers: int = 1
    show_perf: int = 0
    explain_rerun: bool = False
    interactive: bool = False
    stepup_dir: str = ".stepup"

    @property
    def dump_path(self) -> str:
        return os.path.join(self.stepup_dir, "workflow.mpk.xz")


@functools.lru_cache(maxsize=256)
def _workdir_variables(workdir: str) -> dict[str, str]:
    """``HERE`` and ``ROOT`` of a step: the same few working directories come back all the
    time, and relpath is slow."""
    here = os.path.normpath(workdir)
    return {"HERE": here, "ROOT": os.path.relpath(".", here)}


def _missing_paths(paths) -> list[str]:
    """The paths that do not exist, or not as what they are (a trailing slash: a directory)."""
    return sorted(
        path
        for path in paths
        if not (os.path.isdir(path) if path.endswith("/") else os.path.isfile(path))
    )


class Director(Watching):
    """One run phase at a time: schedule, skip or run, then finalize."""

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        workflow: Workflow,
        reporter: Reporter,
        socket_path: str,
        journal: Journal | None = None,
        dump_id: str | None = None,
        dump_raw: bytes | None = None,
        loaded: bool = False,
    ) -> None:
        self.config = config
        self.journal = journal
        # The dump on disk, to leave it alone when a run changed nothing.
        self.dump_id = dump_id
        self.dump_raw = dump_raw
        # The workflow is the dump as loaded, not dissolved yet (see _restart).
        self._loaded = loaded
        self.saved = loaded  # Does the dump hold every change so far?
        self.plugins = plugins
        self.workflow = workflow
        self.reporter = reporter
        self.socket_path = socket_path
        # The director never changes its working directory: the root of the project.
        self.root = os.getcwd()
        # A plan that defines many steps grows the graph: keep the collector off it.
        self._freezer = GraphFreezer(workflow.graph)
        self.hasher = FileHasher()
        self.pool: WorkerPool | None = None
        self.running = 0
        self.succeeded = 0
        self.interrupted = False
        self._changed = trio.Event()
        self._phase_scope: trio.CancelScope | None = None
        self._next_yield = 0.0
        self.prober = SourceProber(lambda text: self.reporter.report("WARNING", text))
        self.watcher = None
        self._init_watching()

    # Wake-ups of the scheduler

    def _notify(self) -> None:
        self._changed.set()

    async def _wait_change(self) -> None:
        await self._changed.wait()
        self._changed = trio.Event()

    # RPC

    def _creator(self, key: str) -> Node:
        node = self.workflow.graph.get(key)
        if node is None or node.kind != "step":
            raise GraphError(f"Unknown creator {key}: only running steps can define nodes.")
        if node.state != StepState.RUNNING:
            raise GraphError(f"Only running steps can define nodes, not {key}.")
        return node

    async def handle(self, message: Any) -> Any:
        """Answer one request from a client; errors become error replies."""
        if isinstance(message, wire.Perform):
            creator = self._creator(message.creator)
            self._check_deferred(message.action)
            result = self.workflow.perform(creator, message.action)
            self._record(Performed(message.creator, message.action))
            self._notify()
            self._freezer.grown()
            if isinstance(message.action, DefineStep):
                return result.key
            return result if isinstance(result, bool) else None
        if isinstance(message, wire.WriteGraph):
            if problem := message.format_problem(self.plugins.exporters):
                raise StepUpError(problem)
            await self.write_graph(message.prefix, message.formats)
            return None
        if isinstance(message, wire.Control):
            return await self.handle_control(message)
        if isinstance(message, wire.WatchChange):
            return await self.handle_watch_change(message)
        if isinstance(message, wire.Cleanup):
            return await self.handle_cleanup(message)
        raise StepUpError(f"The director does not accept {type(message).__name__} requests.")

    def _check_deferred(self, action: Any) -> None:
        """Paths that a deferred glob would declare static must exist (top-down)."""
        if isinstance(action, DefineStep):
            paths = required_dirs(action.workdir, action.out, action.vol) + action.inp
        elif isinstance(action, Amend):
            paths = required_dirs(None, action.out, action.vol) + action.inp
        else:
            return
        for path, _dg in self.workflow.deferred_candidates(paths):
            is_dir = path.endswith("/")
            if not (os.path.isdir(path) if is_dir else os.path.isfile(path)):
                raise StepUpError(f"Path does not exist: {path}")

    async def write_graph(
        self, prefix: str, formats: Sequence[str] = wire.DEFAULT_GRAPH_FORMATS
    ) -> None:
        files: dict[str, str] = {}
        for name in formats:
            exporter = self.plugins.exporters[name]
            try:
                files.update(exporter().export(self.workflow.graph, prefix))
            except Exception as exc:  # A bug in an exporter plugin must not stop the build.
                logger.exception("The %s exporter failed", name)
                raise StepUpError(
                    f"The graph exporter {name!r} ({exporter.__module__}) failed: "
                    f"{type(exc).__name__}: {exc}. Nothing was written."
                ) from None

        def write_all() -> None:
            for path, text in files.items():
                # File names that are not valid UTF-8 are written back as the bytes they were.
                write_atomic(path, text.encode("utf-8", errors="surrogateescape"))

        try:
            await trio.to_thread.run_sync(write_all)
        except OSError as exc:
            raise StepUpError(f"Cannot write the graph to {exc.filename}: {exc.strerror}") from None

    def _record(self, event: Event) -> None:
        """Journal a change as soon as it is made, so that a crash does not lose it."""
        self.saved = False
        if self.journal is not None:
            self.journal.append(event)

    # Hashes

    def _env_values(self, step: Node) -> dict[str, str | None]:
        names = set(step.env_vars) | set(step.amended_env)
        return {name: os.environ.get(name) for name in names}

    def _step_hash(
        self,
        step: Node,
        hashes: dict[str, FileHash | None],
        stamps: Mapping[str, bytes | None] | None = None,
    ) -> StepHash:
        """The step hash from current file hashes and source stamps; a missing file counts
        with its old hash, a source that could not be probed as empty."""
        inputs, outputs = self.workflow.hashed_paths(step)

        def pairs(nodes) -> list[tuple[str, FileHash]]:
            return [(node.path, hashes.get(node.path) or node.hash or FileHash()) for node in nodes]

        return compute_step_hash(
            step.key,
            pairs(inputs),
            self._env_values(step),
            pairs(outputs),
            extended=self.config.explain_rerun,
            sources=[(key, stamp or b"") for key, stamp in (stamps or {}).items()],
        )

    # Running and skipping steps

    def _job(self, step: Node) -> wire.RunJob:
        workdir = step.workdir
        inputs = self.workflow.inputs(step)
        outputs = self.workflow.outputs(step)
        return wire.RunJob(
            key=step.key,
            command=step.command,
            workdir=workdir,
            env={
                "STEPUP_DIRECTOR_SOCKET": self.socket_path,
                "STEPUP_STEP_KEY": step.key,
                "STEPUP_ROOT": self.root,
                **_workdir_variables(workdir),
            },
            inputs=[node.path for node in inputs],
            outputs=[node.path for node in outputs],
            known={
                node.path: node.hash
                for node in inputs + outputs
                if node.hash is not None and node.hash.known
            },
        )

    def _update_progress(self) -> None:
        remaining = self.running + self.workflow.queued_count
        self.reporter.update_progress(self.running, self.succeeded, remaining)

    async def run_phase(self) -> None:
        """Skip or run queued steps until nothing is queued and nothing runs."""
        self.reporter.report("PHASE", "run")
        self.prober.new_phase()
        if self.watcher is not None:
            # Edits of sources during the run are seen too (reported in the watch phase).
            self.watcher.sync(self.workflow.watched_dirs())
        self.reporter.start_progress(self.config.num_workers)
        with trio.CancelScope() as self._phase_scope:
            if self.interrupted:
                self._phase_scope.cancel()
            if self._loaded:
                await self._restart()
            else:
                # In watch mode nothing reports a change of a source: look now.
                changed = await self.prober.changed(self.workflow.graph)
                if changed:
                    self.workflow.sources_changed(changed)
            async with trio.open_nursery() as jobs:
                while not self.drain_requested:
                    if self.workflow.next_queued() is None:
                        if self.running == 0:
                            break
                        await self._wait_change()
                        continue
                    # Checking a step takes a worker's turn, as running it would. The turn
                    # comes first: a step is taken from the queue only when it can go.
                    slot = await self._acquire_slot()
                    step = None if self.drain_requested else self.workflow.pop_queued()
                    if step is None:
                        # Put on hold, or a running step took the queued ones meanwhile.
                        self.pool.release(slot)
                        continue
                    if step in self.workflow.to_validate:
                        await self._validate(step)
                        self.pool.release(slot)
                        continue
                    if self.workflow.replayable(step):
                        outcome = await self._try_skip(step)
                        if outcome == NOSKIP:
                            self.workflow.run_later(step)
                        if outcome != INVALID_INPUTS:
                            self.pool.release(slot)
                            continue
                    if self._fails_to_start(step):
                        self.pool.release(slot)
                        continue
                    self.running += 1
                    self._start(step)
                    jobs.start_soon(self._run_steps, step, slot)
        self._phase_scope = None
        self.reporter.stop_progress()

    async def _restart(self) -> None:
        """Continue from the loaded dump: when no step changed, skip them all as they are;
        otherwise dissolve the workflow and replay the plan, which redefines what is still
        planned and skips what did not change."""
        self._loaded = False
        if not await self._skip_unchanged_build():
            event = Restarted(self.config.plan, from_scratch=False, loaded=True)
            self.workflow.restart(event.plan, event.from_scratch, event.loaded)
            self._record(event)

    async def _skip_unchanged_build(self) -> bool:
        """Skip every step of the loaded workflow if none changed; else change nothing.

        The hashes of all steps are checked before the first SKIP line is shown, so that a
        change found late leaves no trace: the general path then shows its own lines.
        """
        if self.config.explain_rerun:
            return False  # The general path explains each skip.
        order = skip_order(self.workflow, self.config.plan)
        if order is None:
            return False
        # Nothing runs meanwhile: a file shared by many steps (their directories) is hashed once.
        current: dict[str, FileHash | None] = {}
        touched = []  # Steps with a file that has a new hash (but the same content).
        for step in order:
            inputs, outputs = self.workflow.hashed_paths(step)
            hashes = {}
            for node in (*inputs, *outputs):
                path = node.path
                file_hash = current.get(path, NEEDS_READING)
                if file_hash is NEEDS_READING:
                    file_hash = hash_without_reading(path, node.hash)
                    if file_hash is NEEDS_READING:
                        file_hash = await self.hasher.read(path, node.hash)
                    current[path] = file_hash
                if file_hash is None:
                    return False
                hashes[path] = file_hash
            if self._step_hash(step, hashes).digest != step.hash.digest:
                return False
            if any(hashes[node.path] != node.hash for node in (*inputs, *outputs)):
                touched.append((step, hashes))
            await self._yield_now_and_then()
        # A static file that no step uses is not hashed above: it must still be there, or
        # the replay declares it missing.
        unused = [
            node.path
            for node in self.workflow.graph
            if node.kind == "file" and node.state == FileState.STATIC and node.path not in current
        ]
        if _missing_paths(unused):
            return False
        for step, hashes in touched:
            self.workflow.keep_skipped(step, hashes)
            self.saved = False
        self.reporter.report_many("SKIP", [step.description for step in order])
        self.succeeded += len(order)
        self._update_progress()
        return True

    async def _yield_now_and_then(self) -> None:
        """Give signals, the socket and the keyboard a turn in long runs without checkpoints."""
        now = trio.current_time()
        if now >= self._next_yield:
            self._next_yield = now + YIELD_INTERVAL
            await trio.lowlevel.checkpoint()

    async def _acquire_slot(self) -> int:
        """A worker's turn. Skipping thousands of steps goes without a checkpoint per step, as
        long as a worker slot is free, but still yields now and then so that signals, the
        socket and the keyboard are served."""
        slot = self.pool.try_acquire()
        if slot is None:
            return await self.pool.acquire()
        try:
            await self._yield_now_and_then()
        except BaseException:
            self.pool.release(slot)
            raise
        return slot

    async def _try_skip(self, step: Node) -> str:
        """Skip the step if its hash did not change and its outputs exist.

        Returns SKIPPED, NOSKIP (it must run: later, as in StepUp) or INVALID_INPUTS (an input
        is missing: it fails at once, without an explanation why it is not skipped).
        """
        inputs, outputs = self.workflow.hashed_paths(step)
        hashes = await self.hasher.hash_nodes(inputs + outputs)
        missing_inputs = [node.path for node in inputs if hashes[node.path] is None]
        if missing_inputs:
            return INVALID_INPUTS
        stamps = await self.prober.stamps(step)
        missing_inputs += [key for key, stamp in stamps.items() if stamp is None]
        missing_outputs = [node.path for node in outputs if hashes[node.path] is None]
        new_hash = self._step_hash(step, hashes, stamps)
        if new_hash.digest == step.hash.digest and not missing_inputs and not missing_outputs:
            pages = []
            if self.config.explain_rerun:
                # As StepUp: the stored hash is what is shown (a compact one stays compact).
                _, same = explain(step.hash, step.hash)
                pages.append(("No changes observed", "\n".join(same)))
            present = {path: file_hash for path, file_hash in hashes.items() if file_hash}
            probed = {key: stamp for key, stamp in stamps.items() if stamp is not None}
            gone = _missing_paths(self.workflow.declared_static(step))
            skipped = self.workflow.skip(step, present, probed, gone)
            # Journaled either way: replaying the journal fails the same way.
            self._record(Skipped(step.key, present, probed, gone))
            if not skipped:
                logger.info("The recording of %s no longer fits: running it.", step.key)
                return NOSKIP
            self.reporter.report("SKIP", step.description, pages)
            self.succeeded += 1
            self._update_progress()
            self._notify()
            return SKIPPED
        if self.config.explain_rerun:
            changed, same = explain(step.hash, new_hash)
            pages = line_pages(
                ("Missing output files", missing_outputs),
                ("Changes causing rerun", changed),
                ("Remained the same", same),
            )
            self.reporter.report("NOSKIP", step.description, pages)
        return NOSKIP

    async def _validate(self, step: Node) -> None:
        """Amended inputs are missing: are they still needed, given the other inputs? Without
        a hash, nobody knows: the step forgets them."""
        if step.hash is None:
            self.workflow.validated(step, False)
            self._record(Validated(step.key, False))
            self._notify()
            return
        inputs, outputs = self.workflow.hashed_paths(step)
        hashes = await self.hasher.hash_nodes(inputs + outputs)
        new_hash = self._step_hash(step, hashes, await self.prober.stamps(step))
        still_valid = new_hash.inp_digest == step.hash.inp_digest
        if not still_valid and self.config.explain_rerun:
            changed, same = explain(step.hash, new_hash)
            pages = line_pages(
                ("Outdated amended step information", changed),
                ("Remained the same (or missing)", same),
            )
            self.reporter.report("DROPAMEND", step.description, pages)
        self.workflow.validated(step, still_valid)
        self._record(Validated(step.key, still_valid))
        self._notify()

    def _start(self, step: Node) -> None:
        self.workflow.start(step)
        self._record(Started(step.key))
        self._update_progress()

    def _next_to_run(self) -> Node | None:
        """The next queued step, started, if it must simply run: a step that may be skipped or
        must be validated is left to the scheduler, which checks it."""
        if self.drain_requested or self.interrupted:
            return None
        while True:
            step = self.workflow.next_queued()
            if step is None or step in self.workflow.to_validate or self.workflow.replayable(step):
                return None
            self.workflow.pop_queued()
            if not self._fails_to_start(step):
                break
        self._start(step)
        return step

    def _fails_to_start(self, step: Node) -> bool:
        """A step whose inputs are missing (or not of their kind) fails without being
        started, as in StepUp: what it amended is kept, nothing it made is forgotten."""
        problems = invalid_inputs([node.path for node in self.workflow.inputs(step)])
        if not problems:
            return False
        self._finish(step, wire.JobFinished(None, invalid_inputs=problems), {})
        self._notify()
        return True

    async def _run_steps(self, step: Node, slot: int) -> None:
        """Run a step in a worker's slot, then the next queued steps that must run, one by one.

        A step that ends hands its worker straight to the next one, without a detour through
        the scheduler: in a build of many short steps, the worker waits less.
        The slot is given back only after the last outcome is in the workflow: until then the
        scheduler must not conclude that nothing is running and nothing is queued.
        """
        try:
            while step is not None:
                await self._run_step(step, slot)
                # The next step takes over the finished one's place in ``self.running``.
                step = self._next_to_run()
        finally:
            self.running -= 1
            self.pool.release(slot)
            self._notify()

    async def _run_step(self, step: Node, slot: int) -> None:
        """Run one step on a worker and record its outcome."""
        try:
            # The state of the sources as the step sees it (probed once per phase).
            stamps = await self.prober.stamps(step)
            job = self._job(step)
            self.reporter.report("START", step.description)
            worker = await self.pool.worker(slot)
            result = await worker.run(job)
        except WorkerDied as exc:
            result = wire.JobFinished(None, stderr=str(exc).encode())
            logger.error("%s Starting a replacement.", exc)
            await self.pool.replace(slot)
        except trio.Cancelled:
            self.workflow.abort(step)
            self._record(Aborted(step.key))
            raise
        if result.returncode is not None:
            result = await self._complete_result(step, result)
        self._finish(step, result, stamps)
        self._notify()

    async def _complete_result(self, step: Node, result: wire.JobFinished) -> wire.JobFinished:
        """Files the step amended while it ran were not in its job: hash them here. An
        amended output that the step did not write is missing, as a declared one would be."""
        hashes = dict(result.hashes)
        inputs, outputs = self.workflow.hashed_paths(step)
        unknown = [node for node in inputs + outputs if node.path not in hashes]
        if not unknown:
            return result
        for path, file_hash in (await self.hasher.hash_nodes(unknown)).items():
            if file_hash is not None:
                hashes[path] = file_hash
        missing = {*result.missing_outputs, *(n.path for n in outputs if n.path not in hashes)}
        return attrs.evolve(result, hashes=hashes, missing_outputs=sorted(missing))

    def _finish(
        self, step: Node, result: wire.JobFinished, stamps: Mapping[str, bytes | None]
    ) -> None:
        rescheduled = self.workflow.rescheduled_due_to(step)
        # A rescheduled step keeps the hash of its run: when the amended inputs it waits for
        # arrive, it tells whether the amended information is still valid.
        keep_hash = result.success or (rescheduled and result.returncode is not None)
        step_hash = self._step_hash(step, result.hashes, stamps) if keep_hash else None
        probed = {key: stamp for key, stamp in stamps.items() if stamp is not None}
        outcome = self.workflow.finish(step, result.success, result.hashes, step_hash, probed)
        self._record(Finished(step.key, result.success, result.hashes, step_hash, probed))
        self.succeeded += outcome == Outcome.SUCCESS
        self._update_progress()
        if outcome == Outcome.FAIL:
            logger.error("Step FAILED: %s", step.key)
        pages = result_pages(step, result, self.config.show_perf > 1, self._state_name, rescheduled)
        self.reporter.report(outcome, step.description, pages)

    def _state_name(self, path: str) -> str:
        node = self.workflow.file(path)
        return node.state.name if node is not None else "UNKNOWN"

    def interrupt(self) -> None:
        """Stop scheduling and stop the running steps (SIGINT, grace period, SIGKILL)."""
        self.interrupted = True
        if self._phase_scope is not None:
            self._phase_scope.cancel()
        self._run_requested.set()  # Leave the watch phase too.

    # End of a run phase

    async def finalize(self) -> int:
        """Report what did not complete, clean up, write the dump, and return the exit code."""
        failed = self.workflow.failed_steps()
        pending = self.workflow.pending_steps()
        if self.interrupted:
            self.reporter.report("WARNING", "Interrupted: running steps were stopped.")
        if failed:
            self.reporter.report(
                "WARNING", f"{len(failed)} step(s) failed, see error messages above"
            )
        on_hold = self.drain_requested and not self.interrupted
        if on_hold:
            self.reporter.report(
                "WARNING", "Scheduler is put on hold. Not reporting pending steps."
            )
        elif pending and not self.interrupted:
            noun = "1 step remains" if len(pending) == 1 else f"{len(pending)} steps remain"
            blocked = [step for step in pending if step.block]
            if blocked:
                reason, pages = "blocked steps", [blocked_page(blocked)]
            else:
                reason = "incomplete requirements"
                pages = [
                    pending_page(
                        step,
                        self.workflow.inputs(step),
                        self.workflow.outputs(step),
                        self.workflow.pools,
                    )
                    for step in pending
                ]
            self.reporter.report("WARNING", f"{noun} pending due to {reason}", pages)
        if failed or pending or self.interrupted or on_hold:
            self.reporter.report("WARNING", "Skipping cleanup due to incomplete build.")
        else:
            await self._clean()
        await self._dump()
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if failed:
            return ExitCode.FAILED
        if pending:
            return ExitCode.PENDING
        return ExitCode.SUCCESS

    async def _clean(self) -> None:
        """Remove outputs that are no longer planned, unless the user changed them since."""
        size = len(self.workflow.graph)
        removed = self.workflow.clean()
        if len(self.workflow.graph) != size:
            self.saved = False
            collect_frozen()  # The removed nodes may be frozen (see stepup_trio.collector).
        for node in removed:
            path = node.path
            try:
                if node.is_dir:
                    os.rmdir(path)
                else:
                    current = await self.hasher.hash(path, node.hash)
                    if current is None:
                        continue
                    if node.state != FileState.VOLATILE and (
                        current.digest,
                        current.mode,
                        current.size,
                    ) != (node.hash.digest, node.hash.mode, node.hash.size):
                        logger.info("Not removing %s: it changed since it was built.", path)
                        continue
                    os.remove(path)
            except OSError as exc:
                logger.info("Not removing %s: %s", path, exc.strerror)
                continue
            self.reporter.report("CLEAN", path)

    async def _dump(self) -> None:
        """Write the dump (in a thread) unless it would be the same, and restart the journal."""
        if self.saved and self.dump_id:
            # Nothing changed since the dump was loaded or written: no need to compare.
            self.reporter.report("WORKFLOW", f"Dumped to {self.config.dump_path}")
            return
        raw = encode(self.workflow, self.dump_id) if self.dump_id else None
        if raw is None or raw != self.dump_raw:
            dump_id = new_dump_id()
            raw = encode(self.workflow, dump_id)
            try:
                await trio.to_thread.run_sync(write_encoded, self.config.dump_path, raw)
            except OSError as exc:
                self.reporter.report(
                    "ERROR", f"Could not write {self.config.dump_path}: {exc.strerror}"
                )
                return
            self.dump_id, self.dump_raw = dump_id, raw
        if self.journal is not None:
            self.journal.restart(self.dump_id)
        self.saved = True
        self.reporter.report("WORKFLOW", f"Dumped to {self.config.dump_path}")
