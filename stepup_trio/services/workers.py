"""Long-lived worker subprocesses, each running one step at a time.

Workers run in a process group of their own, so that a Ctrl-C on the terminal reaches only the
director, which then stops the steps in an orderly way: SIGINT to the step's process group, a
grace period, then SIGKILL.
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable

import trio

from stepup_trio import wire
from stepup_trio.processes import children, kill_adopted, kill_group

__all__ = ["Worker", "WorkerDied", "WorkerPool", "invalid_inputs", "serve_worker"]

logger = logging.getLogger(__name__)

#: Seconds a step gets to exit after SIGINT before it is killed.
GRACE_PERIOD = 3.0
#: Seconds a worker gets to exit after its stdin is closed.
WORKER_EXIT_TIMEOUT = 5.0


class WorkerDied(Exception):
    """The worker process ended while it was running a step."""


def invalid_inputs(inputs: list[str]) -> dict[str, str]:
    """Inputs that are missing or of the wrong type (file versus directory), with the reason.

    The director checks them before it hands a job to a worker, as StepUp did: a step whose
    inputs are not there fails without being started.
    """
    problems = {}
    for path in inputs:
        if path.endswith("/"):
            if not os.path.isdir(path):
                problems[path] = "Directory does not exist"
        elif os.path.isdir(path):
            problems[path] = "Path is a directory, expected a file"
        elif not os.path.exists(path):
            problems[path] = "Path does not exist"
    return problems


class Worker:
    """The director's handle on one worker process.

    The worker says nothing when a step starts: the step is the worker's child in a session
    (and process group) of its own, which the director finds in /proc when it must signal it.
    """

    def __init__(self, index: int, process: trio.Process) -> None:
        self.index = index
        self.process = process
        self._unpacker = wire.new_unpacker()

    def step_groups(self) -> list[int]:
        """The process groups of the worker's step (and of the daemons it adopted)."""
        return children(self.process.pid)

    def signal_step(self, sig: int) -> None:
        for pgid in self.step_groups():
            kill_group(pgid, sig)

    async def _receive_result(self) -> wire.JobFinished:
        while True:
            for obj in self._unpacker:
                message = wire.decode(obj).payload
                if isinstance(message, wire.JobFinished):
                    return message
            data = await self.process.stdout.receive_some(65536)
            if not data:
                raise WorkerDied(f"Worker {self.index} exited unexpectedly.")
            self._unpacker.feed(data)

    async def run(self, job: wire.RunJob) -> wire.JobFinished:
        """Run a job; when cancelled, stop the step's process group before returning."""
        try:
            await self.process.stdin.send_all(wire.encode(0, job))
            return await self._receive_result()
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await self._stop_step()
            raise
        except (WorkerDied, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            with trio.CancelScope(shield=True):
                await self._stop_orphaned_step()
            raise WorkerDied(f"Worker {self.index} exited unexpectedly.") from exc

    async def _stop_orphaned_step(self) -> None:
        """The worker is gone: its step, adopted by the director, must not outlive it.

        The kernel closes a dying process's pipes before it hands its children to the
        subreaper: the worker must have exited completely before they can be found.
        """
        with trio.move_on_after(WORKER_EXIT_TIMEOUT):
            await self.process.wait()
        if self.process.returncode is None:
            kill_group(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        kill_adopted()

    async def _stop_step(self) -> None:
        """Interrupt the running step, then kill it; wait for the worker to report back."""
        for sig, timeout in ((signal.SIGINT, GRACE_PERIOD), (signal.SIGKILL, GRACE_PERIOD)):
            self.signal_step(sig)
            with trio.move_on_after(timeout):
                with contextlib.suppress(
                    WorkerDied, trio.BrokenResourceError, trio.ClosedResourceError
                ):
                    await self._receive_result()
                return
        # The worker does not answer: it is killed with its group when the pool closes.
        self.process.kill()


async def serve_worker(index: int, log_path: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Start worker ``index``, hand it to the caller, and stop it when cancelled."""
    with open(log_path, "wb") as log:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "stepup_trio.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            process_group=0,
        )
    try:
        task_status.started(Worker(index, process))
        await process.wait()
        if process.returncode != 0:
            logger.error("Worker %d exited with code %s", index, process.returncode)
    finally:
        with trio.CancelScope(shield=True):
            try:
                await process.stdin.send_all(wire.encode(0, wire.Shutdown()))
                await process.stdin.aclose()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            with trio.move_on_after(WORKER_EXIT_TIMEOUT):
                await process.wait()
            if process.returncode is None:
                kill_group(process.pid, signal.SIGKILL)
                await process.wait()


class WorkerPool:
    """Worker slots: a step takes a free slot for its turn and gives it back.

    The worker processes start when a step first needs one, not before: a run that only skips
    steps (the common no-op rebuild) starts no worker at all. Then all of them start at once,
    so that the others are ready by the time the first one's plan has defined more steps
    (Python and trio take a tenth of a second to start). A worker that died is replaced by a
    new one in the same slot. ``start_worker(index)`` starts one in the session's nursery.
    """

    def __init__(self, size: int, start_worker: Callable) -> None:
        self.workers: list[Worker | None] = [None] * size
        self._start_worker = start_worker
        self._starting = trio.Lock()
        self._send, self._receive = trio.open_memory_channel[int](size)
        for index in range(size):
            self._send.send_nowait(index)

    async def acquire(self) -> int:
        """A free slot; wait for one."""
        return await self._receive.receive()

    def try_acquire(self) -> int | None:
        """A free slot without waiting, or None: no checkpoint, for the skip fast path."""
        try:
            return self._receive.receive_nowait()
        except trio.WouldBlock:
            return None

    def release(self, slot: int) -> None:
        self._send.send_nowait(slot)

    async def worker(self, slot: int) -> Worker:
        """The worker of a slot; the first call starts them all."""
        if self.workers[slot] is None:
            async with self._starting:
                for index, worker in enumerate(self.workers):
                    if worker is None:
                        self.workers[index] = await self._start_worker(index)
        return self.workers[slot]

    async def replace(self, slot: int) -> Worker:
        """Start a new worker in a slot whose worker died."""
        worker = self.workers[slot] = await self._start_worker(slot, replacement=True)
        return worker

    def kill_running_steps(self) -> None:
        """Last resort at exit: no step's process group may survive the director."""
        for worker in self.workers:
            if worker is not None:
                worker.signal_step(signal.SIGKILL)
