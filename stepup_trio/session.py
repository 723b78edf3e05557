"""A stepup session: one trio nursery owns the RPC server, the workers and the director.

Services start with ``nursery.start``, so nothing runs before what it needs is ready: the socket
is listening before a worker exists, and a worker is running before a step is handed to it.
Workers start when a step first needs one, in this same nursery.
"""

import contextlib
import fcntl
import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator

import attrs
import trio

from stepup_trio.core.events import Finished, Skipped, apply_event
from stepup_trio.core.workflow import Workflow
from stepup_trio.director import Config, Director
from stepup_trio.errors import DumpError, UsageError
from stepup_trio.journal import Journal, read_journal
from stepup_trio.plugins import Plugins
from stepup_trio.processes import become_subreaper
from stepup_trio.services.keyboard import serve_keyboard
from stepup_trio.services.reporter import Reporter
from stepup_trio.services.rpc import serve_rpc
from stepup_trio.services.watcher import Watcher
from stepup_trio.services.workers import Worker, WorkerPool, serve_worker
from stepup_trio.store import dump_workflow, load_dump, new_dump_id

__all__ = ["open_workflow", "serve_session"]

logger = logging.getLogger(__name__)


Report = tuple[str, str, list[tuple[str, str]]]


async def _load(
    config: Config, plugins: Plugins
) -> tuple[Workflow, str | None, bytes | None, list[Report]]:
    """Continue from the dump if there is a readable one, else start from scratch.

    Returns the workflow (as loaded, or booted when fresh), the identity and the document of
    the dump it continues (None when fresh) and the lines to report. A dump that cannot be used
    is kept aside, never deleted.
    """
    path = config.dump_path
    if not os.path.exists(path):
        return Workflow.boot(plugins.kinds, config.plan), None, None, []
    try:
        workflow, dump_id, raw = await load_dump(path, plugins.kinds)
    except (DumpError, OSError) as exc:
        bug_path = os.path.join(config.stepup_dir, "workflow-bug.mpk.xz")
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        try:
            shutil.move(path, bug_path)
            kept = f"It was moved to {bug_path}, so you can inspect it."
        except OSError:
            kept = "It was left in place."
        logger.warning("Could not load %s: %s", path, reason)
        page = (
            "Starting from scratch",
            f"{reason}\n{kept}\nAll steps will run again; nothing already built is deleted.",
        )
        report = ("WORKFLOW", f"Exception while loading workflow {path}.", [page])
        return Workflow.boot(plugins.kinds, config.plan), None, None, [report]
    return workflow, dump_id, raw, [("WORKFLOW", f"Loaded from {path}", [])]


@attrs.frozen
class Opened:
    """Where a session starts: the workflow, its journal, the dump it continues.

    A ``loaded`` workflow is the dump (plus what the journal recovered) as it was: the director
    checks whether anything changed before it dissolves it (see stepup_trio.core.restart).
    """

    workflow: Workflow
    journal: Journal
    dump_id: str | None
    dump_raw: bytes | None
    reports: list[Report]
    loaded: bool


async def open_workflow(config: Config, plugins: Plugins) -> Opened:
    """Load the workflow, recover the work of an interrupted run, and open a new journal."""
    workflow, base, raw, reports = await _load(config, plugins)
    journal_path = os.path.join(config.stepup_dir, "journal.mpk")
    events = read_journal(journal_path, base)
    if events:
        done = 0
        for event in events:
            try:
                apply_event(workflow, event)
            except Exception as exc:
                logger.warning("Stopped replaying the journal at %r: %s", event, exc)
                break
            done += isinstance(event, Skipped) or (isinstance(event, Finished) and event.success)
        # The recovered state becomes the new dump before the old journal is replaced.
        base, raw = new_dump_id(), None
        await trio.to_thread.run_sync(dump_workflow, workflow, config.dump_path, base)
        reports.append(
            ("WORKFLOW", f"Recovered {done} completed step(s) of an interrupted run", [])
        )
    return Opened(workflow, Journal(journal_path, base), base, raw, reports, base is not None)


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


def _start_log(config: Config, socket_path: str) -> None:
    """``director.log`` starts with the socket and the pid, for clients that look for us."""
    log_path = os.path.join(config.stepup_dir, "director.log")
    try:
        with open(log_path, "w") as fh:
            fh.write(f"SOCKET {socket_path}\nPID {os.getpid()}\n")
    except OSError as exc:
        raise UsageError(
            f"Cannot write {log_path}: {exc.strerror}. Make {config.stepup_dir}/ and its files "
            "writable, or run stepup as the owner of the project."
        ) from None
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


PRIVATE_PREFIX = "stepup-"


#: The file in a private folder that its director keeps locked (flock) while it lives.
PRIVATE_LOCK = "lock"
#: A folder without a lock (of an earlier version) counts as stale only when it is this old.
LEGACY_STALE_AGE = 60.0


@contextlib.contextmanager
def locked_private_dir(folder: str) -> Iterator[None]:
    """Keep the private folder locked: another stepup then knows that it is in use, even
    before its socket listens. The kernel releases the lock when the process dies, however it
    dies (the descriptor is not inherited by workers or steps)."""
    # Locked before it gets its name: another stepup never sees an unlocked lock of a live one.
    unnamed = os.path.join(folder, PRIVATE_LOCK + ".new")
    fd = os.open(unnamed, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(unnamed, os.path.join(folder, PRIVATE_LOCK))
        yield
    finally:
        os.close(fd)


def _is_stale(folder: str) -> bool:
    """Is the director of this private folder gone?"""
    try:
        fd = os.open(os.path.join(folder, PRIVATE_LOCK), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return _is_stale_legacy(folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _is_stale_legacy(folder: str) -> bool:
    """Without a lock: a socket that refuses connections, in a folder that is not new (a new
    one may be that of a stepup whose socket is bound but does not listen yet)."""
    sock_path = os.path.join(folder, "director")
    if not os.path.exists(sock_path):
        return False
    if time.time() - os.lstat(folder).st_mtime < LEGACY_STALE_AGE:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            probe.connect(sock_path)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def remove_stale_private_dirs() -> None:
    """Remove the socket folders of directors that were killed (SIGKILL leaves them behind).

    Only folders of this user whose director is gone: nobody holds the folder's lock. Anything
    unexpected is left alone.
    """
    tmp = tempfile.gettempdir()
    try:
        names = [name for name in os.listdir(tmp) if name.startswith(PRIVATE_PREFIX)]
    except OSError:
        return
    for name in names:
        folder = os.path.join(tmp, name)
        try:
            if os.lstat(folder).st_uid != os.getuid() or not _is_stale(folder):
                continue
        except OSError:
            continue
        with contextlib.suppress(OSError):
            for entry in ("director", PRIVATE_LOCK, PRIVATE_LOCK + ".new"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(folder, entry))
            os.rmdir(folder)


async def serve_session(config: Config, plugins: Plugins, reporter: Reporter) -> int:
    """Run the whole session in one nursery and return the exit code."""
    await trio.to_thread.run_sync(remove_stale_private_dirs)  # Connect probes may block.
    # The step of a worker that dies becomes the director's child, to be stopped (see
    # stepup_trio.services.workers).
    become_subreaper()
    with (
        tempfile.TemporaryDirectory(prefix=PRIVATE_PREFIX) as private_dir,
        locked_private_dir(private_dir),
    ):
        os.chmod(private_dir, 0o700)
        socket_path = os.path.join(private_dir, "director")
        _start_log(config, socket_path)
        opened = await open_workflow(config, plugins)
        # The loaded graph lives as long as the session: keep the collector from rescanning it.
        gc.freeze()
        director = Director(
            config,
            plugins,
            opened.workflow,
            reporter,
            socket_path,
            opened.journal,
            opened.dump_id,
            opened.dump_raw,
            opened.loaded,
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, director)
            await nursery.start(serve_rpc, socket_path, director.handle)
            reporter.report("DIRECTOR", f"Listening on {socket_path}")
            for action, description, pages in opened.reports:
                reporter.report(action, description, pages)

            async def start_worker(index: int, replacement: bool = False) -> Worker:
                log_path = os.path.join(config.stepup_dir, f"worker{index}.log")
                worker = await nursery.start(serve_worker, index, log_path)
                if replacement:
                    reporter.report("DIRECTOR", f"Launched worker {index}")
                return worker

            # As StepUp, the worker slots are announced at the start; their processes start
            # when a step first runs in them (a no-op rebuild needs none).
            for index in range(config.num_workers):
                reporter.report("DIRECTOR", f"Launched worker {index}")
            director.pool = WorkerPool(config.num_workers, start_worker)
            if config.interactive:
                director.watcher = await nursery.start(
                    Watcher(director.on_file_event, director.on_overflow).serve
                )
                nursery.start_soon(serve_keyboard, director)
            exit_code = await director.serve()
            reporter.report("DIRECTOR", "Stopping workers.")
            nursery.cancel_scope.cancel()
        if director.saved:
            opened.journal.discard()
        else:
            opened.journal.close()
        reporter.report("DIRECTOR", "See you!")
        return exit_code
