"""The director: one trio nursery that owns the RPC server, the workers and the scheduler.

Services start with ``nursery.start``, so nothing runs before what it needs is ready: the socket
is listening before a worker exists, and every worker is running before the first step is
handed out. The workflow itself is pure data; the director only asks it what can run and tells
it what happened.
"""

import logging
import os
import signal
import tempfile
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from stepup_trio import wire
from stepup_trio.core.states import StepState
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import GraphError, StepUpError
from stepup_trio.plugin_api import Node
from stepup_trio.plugins import Plugins
from stepup_trio.services.reporter import Reporter
from stepup_trio.services.rpc import serve_rpc
from stepup_trio.services.workers import Worker, WorkerDied, WorkerPool, serve_worker
from stepup_trio.store import dump_workflow, write_atomic

__all__ = ["Config", "Director", "ExitCode", "serve_director"]

logger = logging.getLogger(__name__)


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


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="ignore").rstrip()


class Director:
    """Schedules the workflow's steps on the workers and serves the RPC requests."""

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        workflow: Workflow,
        reporter: Reporter,
        socket_path: str,
    ) -> None:
        self.config = config
        self.plugins = plugins
        self.workflow = workflow
        self.reporter = reporter
        self.socket_path = socket_path
        self.pool: WorkerPool | None = None
        self.running = 0
        self.succeeded = 0
        self.interrupted = False
        self._changed = trio.Event()
        self._phase_scope: trio.CancelScope | None = None

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
        if isinstance(message, wire.DefineStep):
            step = self.workflow.define_step(
                self._creator(message.creator),
                message.command,
                workdir=message.workdir,
                inp=message.inp,
                out=message.out,
                env=message.env,
                optional=message.optional,
                pool=message.pool,
                block=message.block,
            )
            self._notify()
            return step.key
        if isinstance(message, wire.DefineStatic):
            self.workflow.declare_static(self._creator(message.creator), message.paths)
            self._notify()
            return None
        if isinstance(message, wire.WriteGraph):
            await self.write_graph(message.prefix)
            return None
        raise StepUpError(f"The director does not accept {type(message).__name__} requests.")

    async def write_graph(self, prefix: str, formats: Sequence[str] = ("text", "dot")) -> None:
        files: dict[str, str] = {}
        for name in formats:
            files.update(self.plugins.exporters[name]().export(self.workflow.graph, prefix))

        def write_all() -> None:
            for path, text in files.items():
                write_atomic(path, text.encode())

        try:
            await trio.to_thread.run_sync(write_all)
        except OSError as exc:
            raise StepUpError(f"Cannot write the graph to {exc.filename}: {exc.strerror}") from None

    # Running steps

    def _job(self, step: Node) -> wire.RunJob:
        workdir = step.workdir
        here = os.path.normpath(workdir)
        return wire.RunJob(
            key=step.key,
            command=step.command,
            workdir=workdir,
            env={
                "STEPUP_DIRECTOR_SOCKET": self.socket_path,
                "STEPUP_STEP_KEY": step.key,
                "STEPUP_ROOT": os.getcwd(),
                "HERE": here,
                "ROOT": os.path.relpath(".", here),
            },
            inputs=[node.path for node in self.workflow.inputs(step)],
            outputs=[node.path for node in self.workflow.outputs(step)],
        )

    def _update_progress(self) -> None:
        remaining = self.running + len(self.workflow.queue)
        self.reporter.update_progress(self.running, self.succeeded, remaining)

    async def run_phase(self) -> None:
        """Hand queued steps to idle workers until nothing is queued and nothing runs."""
        self.reporter.report("PHASE", "run")
        with trio.CancelScope() as self._phase_scope:
            if self.interrupted:
                self._phase_scope.cancel()
            async with trio.open_nursery() as jobs:
                while True:
                    step = self.workflow.pop_queued()
                    if step is None:
                        if self.running == 0:
                            break
                        await self._wait_change()
                        continue
                    worker = await self.pool.acquire()
                    self.running += 1
                    self.workflow.start(step)
                    self._update_progress()
                    jobs.start_soon(self._run_step, step, worker)
        self._phase_scope = None

    async def _run_step(self, step: Node, worker: Worker) -> None:
        def on_started() -> None:
            self.reporter.report("START", step.description)

        try:
            result = await worker.run(self._job(step), on_started)
        except WorkerDied as exc:
            result = wire.JobFinished(None, stderr=str(exc).encode())
        except trio.Cancelled:
            self.workflow.abort(step)
            raise
        finally:
            self.running -= 1
            self.pool.release(worker)
            self._notify()
        self.workflow.finish(step, result.success, result.hashes)
        self.succeeded += result.success
        self._update_progress()
        if not result.success:
            logger.error("Step FAILED: %s", step.key)
        action = "SUCCESS" if result.success else "FAIL"
        self.reporter.report(action, step.description, self._result_pages(step, result))

    def _result_pages(self, step: Node, result: wire.JobFinished) -> list[tuple[str, str]]:
        pages = []
        if not result.success:
            lines = [f"{'Command':22s}{step.command}"]
            if step.workdir != "./":
                lines.append(f"{'Working directory':22s}{step.workdir}")
            if result.returncode is not None:
                lines.append(f"{'Return code':22s}{result.returncode}")
            pages.append(("Step info", "\n".join(lines)))
        if self.config.show_perf > 1 and result.resources is not None:
            user, system, wall = result.resources
            pages.append(
                (
                    "Performance details",
                    f"User CPU time [s]:   {user:9.4f}\n"
                    f"System CPU time [s]: {system:9.4f}\n"
                    f"Total CPU time [s]:  {user + system:9.4f}\n"
                    f"Wall time [s]:       {wall:9.4f}",
                )
            )
        if result.invalid_inputs:
            lines = []
            for path, problem in sorted(result.invalid_inputs.items()):
                node = self.workflow.file(path)
                state = node.state.name if node is not None else "UNKNOWN"
                lines.append(f"{state} {problem}: {path}")
            pages.append(("Invalid inputs", "\n".join(lines)))
        if result.missing_outputs:
            pages.append(("Expected outputs not created", "\n".join(result.missing_outputs)))
        for title, data in (("Standard output", result.stdout), ("Standard error", result.stderr)):
            text = _decode(data)
            if text:
                pages.append((title, text))
        return pages

    def interrupt(self) -> None:
        """Stop scheduling and stop the running steps (SIGINT, grace period, SIGKILL)."""
        self.interrupted = True
        if self._phase_scope is not None:
            self._phase_scope.cancel()

    # End of a run phase

    def finalize(self) -> int:
        """Report what did not complete, write the dump, and return the exit code."""
        failed = self.workflow.failed_steps()
        pending = self.workflow.pending_steps()
        if self.interrupted:
            self.reporter.report("WARNING", "Interrupted: running steps were stopped.")
        if failed:
            self.reporter.report(
                "WARNING", f"{len(failed)} step(s) failed, see error messages above"
            )
        if pending and not self.interrupted:
            noun = "1 step remains" if len(pending) == 1 else f"{len(pending)} steps remain"
            self.reporter.report(
                "WARNING",
                f"{noun} pending due to incomplete requirements",
                [("PENDING Step", self._pending_text(step)) for step in pending],
            )
        if failed or pending or self.interrupted:
            self.reporter.report("WARNING", "Skipping cleanup due to incomplete build.")
        self._dump()
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if failed:
            return ExitCode.FAILED
        if pending:
            return ExitCode.PENDING
        return ExitCode.SUCCESS

    def _pending_text(self, step: Node) -> str:
        lines = [f"{'Command':22s}{step.command}", f"{'Working directory':22s}{step.workdir}"]
        for label, nodes in (
            ("Inputs", self.workflow.inputs(step)),
            ("Outputs", self.workflow.outputs(step)),
        ):
            for index, node in enumerate(sorted(nodes, key=lambda node: node.path)):
                path = f"({node.path})" if node.orphan else node.path
                lines.append(f"{label if index == 0 else '':12s}{node.state.name:>8s}  {path}")
        return "\n".join(lines)

    def _dump(self) -> None:
        try:
            dump_workflow(self.workflow, self.config.dump_path)
        except OSError as exc:
            self.reporter.report(
                "ERROR", f"Could not write {self.config.dump_path}: {exc.strerror}"
            )
            return
        self.reporter.report("WORKFLOW", f"Dumped to {self.config.dump_path}")


async def _watch_signals(director: Director) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        count = 0
        async for _signum in signals:
            count += 1
            if count == 1:
                director.interrupt()
            elif director.pool is not None:
                # A second Ctrl-C: no more grace.
                director.pool.kill_running_steps()


def _write_log_header(config: Config, socket_path: str) -> None:
    log_path = os.path.join(config.stepup_dir, "director.log")
    with open(log_path, "w") as fh:
        fh.write(f"SOCKET {socket_path}\nPID {os.getpid()}\n")
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


async def serve_director(
    config: Config, plugins: Plugins, workflow: Workflow, reporter: Reporter
) -> int:
    """Run the whole session in one nursery and return the exit code."""
    with tempfile.TemporaryDirectory(prefix="stepup-") as private_dir:
        os.chmod(private_dir, 0o700)
        socket_path = os.path.join(private_dir, "director")
        _write_log_header(config, socket_path)
        director = Director(config, plugins, workflow, reporter, socket_path)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, director)
            await nursery.start(serve_rpc, socket_path, director.handle)
            reporter.report("DIRECTOR", f"Listening on {socket_path}")
            workers = []
            for index in range(config.num_workers):
                log_path = os.path.join(config.stepup_dir, f"worker{index}.log")
                workers.append(await nursery.start(serve_worker, index, log_path))
                reporter.report("DIRECTOR", f"Launched worker {index}")
            director.pool = WorkerPool(workers)
            if config.interactive:
                reporter.report(
                    "WARNING", "Watch mode is not available yet: running once, as with -n."
                )
            reporter.start_progress(config.num_workers)
            await director.run_phase()
            reporter.stop_progress()
            exit_code = director.finalize()
            reporter.report("DIRECTOR", "Stopping workers.")
            nursery.cancel_scope.cancel()
        reporter.report("DIRECTOR", "See you!")
        return exit_code
