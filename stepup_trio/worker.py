"""A worker process: runs one step at a time for the director, then hashes its files.

The director talks to the worker over the worker's stdin and stdout, with the messages of
:mod:`stepup_trio.wire`. Each step runs in a session (and process group) of its own, so that
the director can interrupt or kill the step together with everything it started. When the
director goes away (end of file on stdin), the worker kills its running step and exits.

Usage (internal): ``python -m stepup_trio.worker``
"""

import contextlib
import os
import resource
import signal
import sys
import time

import trio

from stepup_trio import wire
from stepup_trio.hashing import compute_file_hash
from stepup_trio.processes import become_subreaper, kill_group, kill_orphans
from stepup_trio.spawn import SHELL, Launcher, Start, shell_status

__all__ = ["main"]

SHEBANG_CHECK_SIZE = 1024
#: Bytes of standard output (and of standard error) kept per step: half at each end.
CAPTURE_LIMIT = 256 * 1024
#: Inputs and outputs up to this many bytes in all are hashed without a worker thread.
INLINE_HASH_SIZE = 1 << 20


class Capture:
    """The output of a step, bounded: its beginning and its end, with the size left out.

    A step may print gigabytes; the report and the messages to the director stay small.
    """

    def __init__(self, limit: int = CAPTURE_LIMIT) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.omitted = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail += data
        if len(self.tail) > self.half:
            extra = len(self.tail) - self.half
            del self.tail[:extra]
            self.omitted += extra

    def value(self) -> bytes:
        if not self.omitted:
            return bytes(self.head + self.tail)
        marker = f"\n[... {self.omitted} bytes of output left out ...]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail)


def invalid_inputs(inputs: list[str]) -> dict[str, str]:
    """Inputs that are missing or of the wrong type (file versus directory), with the reason."""
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


def shebang_problem(command: str, workdir: str) -> str | None:
    """A script given as the first word of the command must start with ``#!``."""
    words = command.split(maxsplit=1)
    if not words:
        return None
    path = os.path.join(workdir, words[0])
    try:
        with open(path, "rb") as fh:
            head = fh.read(SHEBANG_CHECK_SIZE)
    except OSError:
        return None
    if b"\0" in head or head.startswith(b"#!"):
        return None
    return "Script does not start with a shebang."


def _total_size(paths: list[str]) -> int:
    """The bytes to read at most, to decide where to hash (a missing file counts as none)."""
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += os.stat(path).st_size
    return total


def hash_paths(paths: list[str], known: dict[str, wire.FileHash]) -> dict[str, wire.FileHash]:
    """Hash the files that exist; those whose stat matches ``known`` are not read again."""
    hashes = {}
    for path in paths:
        file_hash = compute_file_hash(path, known.get(path))
        if file_hash is not None:
            hashes[path] = file_hash
    return hashes


def _spawn(start: Start) -> tuple[int, int, int]:
    """Start a command in a session (and process group) of its own, with stdin from
    /dev/null; return its pid and the read ends of its stdout and stderr.

    posix_spawn runs no Python code between fork and exec, unlike subprocess: a few tenths of
    a millisecond less per step, which counts in builds of many small steps.
    """
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        pid = os.posix_spawn(
            start.path,
            start.argv,
            start.env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
            ],
            setsid=True,
            # As subprocess does: Python ignores SIGPIPE, a step must not inherit that
            # (``yes | head`` would print "Broken pipe" errors).
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            setsigmask=(),
        )
    except BaseException:
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        os.close(out_write)
        os.close(err_write)
    return pid, out_read, err_read


async def _wait(pid: int) -> int:
    """Wait for a child without blocking the event loop; return its wait status."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # Before Linux 5.3: wait in a thread.
        _, status = await trio.to_thread.run_sync(os.waitpid, pid, 0, abandon_on_cancel=True)
    else:
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            os.close(pidfd)
        _, status = os.waitpid(pid, 0)
    return status


def _end_step(pid: int) -> None:
    """Nothing a step started may outlive it: its process group goes, and so do the daemons
    that left the group (adopted: see become_subreaper)."""
    kill_group(pid, signal.SIGKILL)
    kill_orphans()


def _start_step(launcher: Launcher, job: wire.RunJob) -> tuple[Start, int, int, int]:
    """Start the step's command; return how, and the pid and output pipes of its process."""
    start = launcher.start(job.command, job.workdir, job.env)
    if start.direct:
        try:
            return start, *_spawn(start)
        except OSError:
            # The shell finds out why the program cannot run, and says so in its own words.
            start = launcher.shell_start(job.command, job.workdir, job.env)
    return start, *_spawn(start)


async def _run_command(
    launcher: Launcher, job: wire.RunJob, send
) -> tuple[int, tuple["Capture", "Capture"]]:
    """Run the step's command, capture its output, and leave nothing of it running."""
    captured = (Capture(), Capture())
    try:
        start, pid, out_read, err_read = _start_step(launcher, job)
    except OSError as exc:
        await send(wire.JobStarted(0))
        captured[1].add(f"Cannot start {SHELL}: {exc.strerror}\n".encode())
        return 127, captured

    async def drain(fd: int, capture: Capture) -> None:
        async with trio.lowlevel.FdStream(fd) as stream:
            while data := await stream.receive_some(65536):
                capture.add(data)

    try:
        await send(wire.JobStarted(pid))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain, out_read, captured[0])
            nursery.start_soon(drain, err_read, captured[1])
            status = await _wait(pid)
            # The step is done when its command exits: what it left running in the
            # background would keep the pipes (and the build) open.
            _end_step(pid)
    except BaseException:
        _end_step(pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # Without /proc, kill_orphans cannot have reaped it.
        raise
    returncode, note = shell_status(status, start.direct)
    captured[1].add(note)
    return returncode, captured


async def run_job(job: wire.RunJob, launcher: Launcher, send) -> wire.JobFinished:
    problems = invalid_inputs(job.inputs)
    if problems:
        return wire.JobFinished(None, invalid_inputs=problems)
    # Paths in the job are relative to the root, the worker's working directory.
    shebang = shebang_problem(job.command, job.workdir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    if shebang is not None:
        await send(wire.JobStarted(0))
        returncode, stdout, stderr = 1, b"", shebang.encode()
    else:
        returncode, captured = await _run_command(launcher, job, send)
        stdout, stderr = captured[0].value(), captured[1].value()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    paths = job.inputs + job.outputs
    if _total_size(paths) <= INLINE_HASH_SIZE:
        # Small files hash faster than a hop to a thread and back.
        hashes = hash_paths(paths, job.known)
    else:
        hashes = await trio.to_thread.run_sync(hash_paths, paths, job.known)
    missing = [path for path in job.outputs if path not in hashes]
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    return wire.JobFinished(
        returncode,
        stdout,
        stderr,
        hashes,
        missing_outputs=missing if returncode == 0 else [],
        resources=[user, system, wall],
    )


async def _read_messages(receive: trio.abc.ReceiveStream, jobs: trio.MemorySendChannel) -> None:
    """Forward the director's messages; end of file or Shutdown closes the channel."""
    unpacker = wire.new_unpacker()
    async with jobs:
        while data := await receive.receive_some(65536):
            unpacker.feed(data)
            for obj in unpacker:
                message = wire.decode(obj).payload
                if isinstance(message, wire.Shutdown):
                    return
                await jobs.send(message)


async def _watch_signals(cancel_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async for _signum in signals:
            cancel_scope.cancel()


async def serve() -> None:
    """Run jobs one at a time until the director says goodbye or goes away.

    When the director disappears (end of file) or the worker is terminated, the running step is
    cancelled, which kills its process group: no step outlives its worker.
    """
    receive = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    transmit = trio.lowlevel.FdStream(os.dup(sys.stdout.fileno()))

    async def send(message) -> None:
        await transmit.send_all(wire.encode(0, message))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, nursery.cancel_scope)
        jobs_send, jobs_receive = trio.open_memory_channel(1)
        reader_done = trio.Event()

        async def read() -> None:
            try:
                await _read_messages(receive, jobs_send)
            finally:
                reader_done.set()

        nursery.start_soon(read)
        with trio.CancelScope() as job_scope:

            async def cancel_when_orphaned() -> None:
                # The director went away (or said goodbye): stop the step that runs now.
                await reader_done.wait()
                job_scope.cancel()

            nursery.start_soon(cancel_when_orphaned)
            # The worker's environment and shell stay as they are while it runs.
            launcher = Launcher.from_environment()
            async for job in jobs_receive:
                if isinstance(job, wire.RunJob):
                    await send(await run_job(job, launcher, send))
        nursery.cancel_scope.cancel()


def _ignore_signal(_signum: int, _frame: object) -> None:
    pass


def main() -> None:
    # Ctrl-C is for the director to handle: it stops the steps and then the workers. A handler
    # that does nothing, not SIG_IGN: an ignored signal stays ignored in the steps the worker
    # starts, while exec resets a handler, so the steps can still be interrupted.
    signal.signal(signal.SIGINT, _ignore_signal)
    print(f"PID {os.getpid()}", file=sys.stderr, flush=True)
    become_subreaper()
    trio.run(serve)


if __name__ == "__main__":
    main()
