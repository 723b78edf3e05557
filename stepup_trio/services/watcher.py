"""Watch directories with Linux inotify, under trio.

The watcher owns one inotify file descriptor. It waits until the descriptor is readable, reads
all pending events without blocking, and turns them into root-relative paths (directories with
a trailing slash) that it hands to a callback: ``on_event(path, deleted)``. A queue overflow
means events were lost: the callback ``on_overflow()`` then asks for a full rescan.
"""

import contextlib
import logging
import os
from collections.abc import Callable, Iterable

import trio
from inotify_simple import INotify, flags

__all__ = ["Watcher"]

logger = logging.getLogger(__name__)

MASK = (
    flags.MODIFY
    | flags.CREATE
    | flags.DELETE
    | flags.CLOSE_WRITE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.MOVE_SELF
    | flags.DELETE_SELF
    | flags.ATTRIB
)
GONE = flags.DELETE | flags.MOVED_FROM
SELF_GONE = flags.DELETE_SELF | flags.MOVE_SELF | flags.UNMOUNT


def _join(directory: str, name: str, is_dir: bool) -> str:
    path = name if directory == "./" else directory + name
    return path + "/" if is_dir else path


class Watcher:
    def __init__(
        self,
        on_event: Callable[[str, bool], None],
        on_overflow: Callable[[], None],
    ) -> None:
        self.on_event = on_event
        self.on_overflow = on_overflow
        self._inotify = INotify(nonblocking=True)
        self._dirs: dict[int, str] = {}
        self._wds: dict[str, int] = {}

    @property
    def watched(self) -> list[str]:
        return sorted(self._wds)

    def add(self, directory: str) -> bool:
        """Watch a directory (a root-relative path with a trailing slash) if it exists."""
        if directory in self._wds:
            return True
        try:
            wd = self._inotify.add_watch(directory if directory != "./" else ".", MASK)
        except OSError as exc:
            logger.info("Cannot watch %s: %s", directory, exc.strerror)
            return False
        self._dirs[wd] = directory
        self._wds[directory] = wd
        return True

    def remove(self, directory: str) -> None:
        wd = self._wds.pop(directory, None)
        if wd is None:
            return
        self._dirs.pop(wd, None)
        # When the directory is gone already, the kernel dropped the watch itself.
        with contextlib.suppress(OSError):
            self._inotify.rm_watch(wd)

    def sync(self, directories: Iterable[str]) -> None:
        """Watch exactly these directories."""
        wanted = set(directories)
        for directory in set(self._wds) - wanted:
            self.remove(directory)
        for directory in sorted(wanted):
            self.add(directory)

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Deliver events until cancelled; the inotify descriptor is closed on the way out."""
        try:
            task_status.started(self)
            while True:
                await trio.lowlevel.wait_readable(self._inotify.fd)
                for event in self._inotify.read(timeout=0):
                    self._handle(event)
        finally:
            self._dirs.clear()
            self._wds.clear()
            self._inotify.close()

    def _handle(self, event) -> None:
        if event.mask & flags.Q_OVERFLOW:
            logger.warning("The inotify queue overflowed: rescanning.")
            self.on_overflow()
            return
        directory = self._dirs.get(event.wd)
        if directory is None:
            return
        if event.mask & flags.IGNORED:
            self._dirs.pop(event.wd, None)
            self._wds.pop(directory, None)
            return
        if event.mask & SELF_GONE:
            # A watched directory that is moved or deleted is gone from where we know it.
            self.remove(directory)
            self.on_event(directory, True)
            return
        if not event.name:
            return
        path = _join(directory, event.name, bool(event.mask & flags.ISDIR))
        self.on_event(path, bool(event.mask & GONE))

    def scan(self, directory: str) -> list[str]:
        """Everything below a new directory, recursively, directories first."""
        found = []
        for dirpath, dirnames, filenames in os.walk(directory if directory != "./" else "."):
            base = os.path.relpath(dirpath, ".")
            prefix = "" if base == "." else base + "/"
            found.extend(prefix + name + "/" for name in sorted(dirnames))
            found.extend(prefix + name for name in sorted(filenames))
        return found
