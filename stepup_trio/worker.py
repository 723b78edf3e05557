"""A worker process: runs one step at a time for the director, then hashes its files.

The director talks to the worker over the worker's stdin and stdout, with the messages of
:mod:`stepup_trio.wire`: a :class:`~stepup_trio.wire.RunJob` in, a
:class:`~stepup_trio.wire.JobFinished` out. Each step runs in a session (and process group) of
its own, so that the director can interrupt or kill the step together with everything it
started; the director finds the step among the worker's children, no message is needed for
that. When the director goes away (end of file on stdin), the worker kills its running step and
exits.

The worker waits on one epoll set of its own, which trio sees as a single file descriptor: the
director's pipe and, while a step runs, the step's pidfd and its two output pipes. A step of a
millisecond then costs one task and usually one wake-up, instead of a task, a stream and a
wake-up for each pipe and for the exit: a few tenths of a millisecond per step, which counts in
builds of many small steps.

Usage (internal): ``python -m stepup_trio.worker``
"""

import collections
import contextlib
import math
import os
import resource
import select
import signal
import sys
import time

import trio

from stepup_trio import wire
from stepup_trio.hashing import compute_file_hash
from stepup_trio.processes import become_subreaper, kill_group, kill_orphans
from stepup_trio.spawn import SHELL, Launcher, Start, shell_status, spawn

__all__ = ["main"]

SHEBANG_CHECK_SIZE = 1024
#: Bytes of standard output (and of standard error) kept per step: half at each end.
CAPTURE_LIMIT = 256 * 1024
#: Inputs and outputs up to this many bytes in all are hashed without a worker thread.
INLINE_HASH_SIZE = 1 << 20
#: Seconds between checks whether a step exited, on kernels without pidfd (before 5.3).
EXIT_POLL_INTERVAL = 0.01
READ_SIZE = 65536


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


class DirectorGone(Exception):
    """The director closed the worker's stdin, or asked it to stop, while a step ran."""


class Events:
    """The worker's own epoll set, which trio waits for as one readable file descriptor."""

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def watch(self, fd: int) -> None:
        self._epoll.register(fd, select.EPOLLIN)

    def forget(self, fd: int) -> None:
        self._epoll.unregister(fd)

    async def wait(self, timeout: float = math.inf) -> list[int]:
        """The watched descriptors that can be read (data, end of file or a hang-up); wait
        for one, at most ``timeout`` seconds. Always a checkpoint."""
        ready = self._epoll.poll(0)
        if ready:
            await trio.lowlevel.checkpoint()
        elif timeout == math.inf:
            await trio.lowlevel.wait_readable(self._epoll)
        else:
            with trio.move_on_after(timeout):
                await trio.lowlevel.wait_readable(self._epoll)
        return [fd for fd, _ in ready or self._epoll.poll(0)]

    def close(self) -> None:
        self._epoll.close()


class Inbox:
    """The director's messages, read from stdin as they arrive."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self._unpacker = wire.new_unpacker()
        self._messages: collections.deque = collections.deque()
        self.closed = False

    def read(self) -> None:
        """Take in what the director sent; end of file means it is gone."""
        while not self.closed:
            try:
                data = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                return
            if not data:
                self.closed = True
                return
            self._unpacker.feed(data)
            self._messages.extend(wire.decode(obj).payload for obj in self._unpacker)

    def next(self):
        """The oldest message not handled yet, or None."""
        return self._messages.popleft() if self._messages else None

    @property
    def stopping(self) -> bool:
        """Must the running step stop? The director went away or said goodbye."""
        return self.closed or any(isinstance(m, wire.Shutdown) for m in self._messages)


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


def _open_pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when the process exits (Linux 5.3 and later)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


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
            return start, *spawn(start)
        except OSError:
            # The shell finds out why the program cannot run, and says so in its own words.
            start = launcher.shell_start(job.command, job.workdir, job.env)
    return start, *spawn(start)


async def _run_command(
    launcher: Launcher, job: wire.RunJob, events: Events, inbox: Inbox
) -> tuple[int, bytes, bytes]:
    """Run the step's command: its exit code and captured output. Nothing of it is left
    running afterwards, whatever happens."""
    try:
        start, pid, out_read, err_read = _start_step(launcher, job)
    except OSError as exc:
        return 127, b"", f"Cannot start {SHELL}: {exc.strerror}\n".encode()
    captures = {out_read: Capture(), err_read: Capture()}
    stdout, stderr = captures.values()
    pidfd = _open_pidfd(pid)
    watched = [out_read, err_read] if pidfd is None else [out_read, err_read, pidfd]
    for fd in watched:
        events.watch(fd)
    status = None
    ended = False
    try:
        while status is None or captures:
            timeout = EXIT_POLL_INTERVAL if pidfd is None and status is None else math.inf
            for fd in await events.wait(timeout):
                if fd in captures:
                    data = os.read(fd, READ_SIZE)
                    if data:
                        captures[fd].add(data)
                    else:
                        del captures[fd]
                        events.forget(fd)
                        watched.remove(fd)
                elif fd == inbox.fd:
                    inbox.read()
                    if inbox.stopping:
                        raise DirectorGone()
                elif fd == pidfd:
                    events.forget(pidfd)
                    watched.remove(pidfd)
                    status = os.waitpid(pid, 0)[1]
            if pidfd is None and status is None:
                waited, wait_status = os.waitpid(pid, os.WNOHANG)
                status = wait_status if waited else None
            if status is not None and not ended:
                # The step is done when its command exits: what it left running in the
                # background would keep the pipes (and the build) open, so it goes now.
                _end_step(pid)
                ended = True
    except BaseException:
        _end_step(pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # Without /proc, kill_orphans cannot have reaped it.
        raise
    finally:
        for fd in watched:
            events.forget(fd)
        for fd in (out_read, err_read, pidfd):
            if fd is not None:
                os.close(fd)
    returncode, note = shell_status(status, start.direct)
    stderr.add(note)
    return returncode, stdout.value(), stderr.value()


async def run_job(
    job: wire.RunJob, launcher: Launcher, events: Events, inbox: Inbox
) -> wire.JobFinished:
    """Run a job (the director checked its inputs) and hash its inputs and outputs."""
    # Paths in the job are relative to the root, the worker's working directory.
    shebang = shebang_problem(job.command, job.workdir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    if shebang is not None:
        returncode, stdout, stderr = 1, b"", shebang.encode()
    else:
        returncode, stdout, stderr = await _run_command(launcher, job, events, inbox)
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
        missing_outputs=missing,
        resources=[user, system, wall],
    )


async def _send(fd: int, data: bytes) -> None:
    """Write a message to the director. A result usually fits in the pipe at once: no turn of
    the event loop for it, unlike a stream's send_all. The rest waits until the pipe drains.
    Raise DirectorGone when nobody reads the pipe any more."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await trio.lowlevel.wait_writable(fd)
        except BrokenPipeError:
            raise DirectorGone() from None


async def _serve_jobs(inbox: Inbox, events: Events, transmit: int) -> None:
    """Run jobs one at a time until the director says goodbye or goes away."""
    # The worker's environment and shell stay as they are while it runs.
    launcher = Launcher.from_environment()
    while True:
        message = inbox.next()
        if message is None:
            if inbox.closed:
                return
            await events.wait()
            inbox.read()
        elif isinstance(message, wire.Shutdown):
            return
        elif isinstance(message, wire.RunJob):
            try:
                result = await run_job(message, launcher, events, inbox)
                await _send(transmit, wire.encode(0, result))
            except DirectorGone:
                return


async def _watch_signals(cancel_scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async for _signum in signals:
            cancel_scope.cancel()


async def serve() -> None:
    """Serve the director; a terminated worker stops its step first.

    When the director disappears (end of file) or the worker is terminated, the running step is
    killed with its process group: no step outlives its worker.
    """
    inbox = Inbox(os.dup(sys.stdin.fileno()))
    transmit = os.dup(sys.stdout.fileno())
    os.set_blocking(transmit, False)
    events = Events()
    events.watch(inbox.fd)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, nursery.cancel_scope)
            await _serve_jobs(inbox, events, transmit)
            nursery.cancel_scope.cancel()
    finally:
        events.close()
        os.close(inbox.fd)
        os.close(transmit)


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
