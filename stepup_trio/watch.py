"""The watch phase and the requests of interactive clients, as a mixin of the Director.

Between run phases, stepup watches the directories of the workflow. Changes are shown as
``UPDATED │ path`` and ``DELETED │ path`` and collected; nothing is rebuilt until a client (a key,
``stepup run``, or ``stepup_trio.interact.run()``) asks for a run.
"""

import logging
import os
from typing import Any

import trio

from stepup_trio import wire
from stepup_trio.core.events import Changed, Restarted
from stepup_trio.core.states import FileState
from stepup_trio.errors import StepUpError

__all__ = ["ChangeSet", "Watching"]

logger = logging.getLogger(__name__)


class ChangeSet:
    """Paths seen as updated or deleted during one watch phase, in order of arrival."""

    def __init__(self) -> None:
        self.updated: dict[str, None] = {}
        self.deleted: dict[str, None] = {}

    def record(self, path: str, deleted: bool) -> bool:
        """Remember a change; False if it adds nothing (a path is reported once per phase)."""
        mine, other = (self.deleted, self.updated) if deleted else (self.updated, self.deleted)
        if path in mine:
            return False
        other.pop(path, None)
        mine[path] = None
        return True

    def take(self) -> tuple[list[str], list[str]]:
        deleted, updated = list(self.deleted), list(self.updated)
        self.deleted.clear()
        self.updated.clear()
        return deleted, updated


class Watching:
    """The Director's half for interactive use. See :class:`stepup_trio.director.Director`."""

    # Provided by Director.
    config: Any
    workflow: Any
    reporter: Any
    watcher: Any

    def _init_watching(self) -> None:
        self.phase = "run"
        self.stop_requested = False
        self.drain_requested = False
        self.changes = ChangeSet()
        self.queued_events: list[tuple[str, bool]] = []
        self._watching = trio.Event()
        self._run_requested = trio.Event()
        self._change_seen = trio.Event()

    async def serve(self) -> int:
        """Alternate run and watch phases until a shutdown; return the last exit code."""
        while True:
            await self.run_phase()
            exit_code = await self.finalize()
            if not self.config.interactive or self.interrupted:
                return exit_code
            if self.stop_requested:
                # As StepUp: the watch phase is entered, and left at once.
                self.reporter.report("PHASE", "watch")
                return exit_code
            await self.watch_phase()
            if self.interrupted:
                return 130
            if self.stop_requested:
                return exit_code

    # File events

    def on_file_event(self, path: str, deleted: bool) -> None:
        """Called by the watcher. During a run phase, events wait for the watch phase."""
        if self.phase != "watch":
            self.queued_events.append((path, deleted))
            return
        self._record_change(path, deleted)

    def _record_change(self, path: str, deleted: bool) -> None:
        if not self.workflow.is_relevant(path):
            return
        if not self.changes.record(path, deleted):
            return
        self.reporter.report("DELETED" if deleted else "UPDATED", path)
        self._change_seen.set()
        self._change_seen = trio.Event()
        if (
            not deleted
            and path.endswith("/")
            and self.watcher is not None
            and self.watcher.add(path)
        ):
            # A new directory that matters: watch it, and everything already in it counts.
            for child in self.watcher.scan(path):
                self._record_change(child, False)

    def on_overflow(self) -> None:
        """Events were lost: compare every static or built file with what we know."""
        for node in list(self.workflow.graph):
            if node.kind != "file" or node.orphan or node.is_dir:
                continue
            if node.state not in (FileState.STATIC, FileState.BUILT, FileState.MISSING):
                continue
            try:
                st = os.stat(node.path)
            except OSError:
                if node.state != FileState.MISSING:
                    self.on_file_event(node.path, True)
                continue
            if node.hash is None or not node.hash.same_stat(st):
                self.on_file_event(node.path, False)

    # The watch phase

    async def watch_phase(self) -> None:
        self.phase = "watch"
        if self.watcher is not None:
            self.watcher.sync(self.workflow.watched_dirs())
        # Changes during the run count only for files the user owns, not for outputs.
        # (They are reported before the PHASE line, as StepUp does.)
        queued, self.queued_events = self.queued_events, []
        for path, deleted in queued:
            node = self.workflow.file(path)
            if node is not None and node.state in (FileState.STATIC, FileState.MISSING):
                self._record_change(path, deleted)
        self.reporter.report("PHASE", "watch")
        self._watching.set()
        await self._run_requested.wait()
        self._run_requested = trio.Event()
        self._watching = trio.Event()
        self.phase = "run"
        self.drain_requested = False
        if self.stop_requested:
            return
        deleted, updated = self.changes.take()
        self.workflow.apply_changes(deleted, updated)
        self._record(Changed(deleted, updated))

    # Requests of interactive clients

    def _require_watch(self, what: str) -> None:
        if not self.config.interactive:
            raise StepUpError(f"{what} needs stepup in interactive mode (without -n).")
        if self.phase != "watch":
            raise StepUpError(f"{what} is only allowed in the watch phase.")

    async def handle_control(self, message: wire.Control) -> Any:
        command = message.command
        if command not in wire.CONTROL_COMMANDS:
            raise StepUpError(f"Unknown command: {command}")
        if command in ("wait", "join") and not self.config.interactive:
            raise StepUpError(f"{command} needs stepup in interactive mode (without -n).")
        if command == "run":
            if self.phase == "watch":
                self._run_requested.set()
        elif command == "wait":
            await self._watching.wait()
        elif command == "join":
            await self._watching.wait()
            self.shutdown()
        elif command == "shutdown":
            self.shutdown()
        elif command == "drain":
            self.drain_requested = True
            self._notify()
        elif command in ("from_scratch", "try_replay"):
            self._require_watch(command)
            event = Restarted(self.config.plan, command == "from_scratch")
            self.workflow.restart(event.plan, event.from_scratch)
            self._record(event)
            self.changes.take()
            self._run_requested.set()
        return None

    def shutdown(self) -> None:
        """Stop after the current run phase (or now, in the watch phase)."""
        self.stop_requested = True
        self._run_requested.set()

    async def handle_watch_change(self, message: wire.WatchChange) -> None:
        """Wait until the watch phase has recorded the change of a path."""
        if not self.config.interactive:
            raise StepUpError("watch_update and watch_delete need stepup without -n.")
        seen = self.changes.deleted if message.deleted else self.changes.updated
        while not (self.phase == "watch" and message.path in seen):
            if self.phase == "watch":
                await self._change_seen.wait()
            else:
                await self._watching.wait()

    async def handle_cleanup(self, message: wire.Cleanup) -> list[int]:
        """Remove outputs and what depends on them from disk, without changing the graph."""
        self._require_watch("Cleanup")
        targets = self.workflow.cleanup_targets(message.paths)
        numf = numd = 0
        for node in targets:
            try:
                if node.is_dir:
                    os.rmdir(node.path)
                    numd += 1
                else:
                    os.remove(node.path)
                    numf += 1
            except OSError as exc:
                logger.info("Cleanup did not remove %s: %s", node.path, exc.strerror)
        return [numf, numd]
