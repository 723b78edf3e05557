"""The journal ``.stepup/journal.mpk``: every change since the last dump, appended as it happens.

The journal starts with a header that names the dump it continues (its *base*). Each event is
one msgpack record. Events that record finished work (a step finished or was aborted, a file
changed, a restart) are written at once, together with the events buffered before them, in a
single ``write`` call. The others (a step started, skipped, validated, or performed an action)
are buffered: losing them in a crash costs nothing, the next run finds the same again. A killed
director hence loses no finished work; a torn last record is ignored when the journal is read.
"""

import contextlib
import logging
import os

from stepup_trio.convert import pack, shared_converter, unpacker
from stepup_trio.core.events import Event, Performed, Skipped, Started, Validated

__all__ = ["JOURNAL_FORMAT", "Journal", "read_journal"]

JOURNAL_FORMAT = "stepup-trio-journal"
# Version 2: events apply to the workflow as loaded, not to a dissolved one.
JOURNAL_VERSION = 2

logger = logging.getLogger(__name__)

#: Events that need not reach the disk at once (see the module docstring).
BUFFERED = (Performed, Skipped, Started, Validated)
#: Buffered bytes that are written even before the next event of finished work.
BUFFER_LIMIT = 1 << 18


class Journal:
    """Appends events to a new journal file (an existing one is replaced)."""

    def __init__(self, path: str, base: str | None) -> None:
        self.path = path
        self._fd: int | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self.restart(base)

    def restart(self, base: str | None) -> None:
        """Start over after a new dump: the journal continues that one."""
        self._buffer.clear()
        self._buffered = 0
        self.close()
        # A new file, not the old one truncated: that may have been left read-only.
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        header = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "base": base}
        self._write(pack(header))

    def _write(self, data: bytes) -> None:
        if self._fd is not None:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def append(self, event: Event) -> None:
        record = pack(shared_converter().unstructure(event, Event))
        self._buffer.append(record)
        self._buffered += len(record)
        if not isinstance(event, BUFFERED) or self._buffered > BUFFER_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Write the buffered events, in order, with one system call."""
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            self._write(data)

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """The dump now holds everything: the journal is no longer needed."""
        self._buffer.clear()
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)


def read_journal(path: str, base: str | None) -> list[Event]:
    """The events of a journal that continues the dump ``base``; [] for any other journal."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    stream = unpacker()
    stream.feed(data)
    events: list[Event] = []
    try:
        header = next(stream)
        if not (
            isinstance(header, dict)
            and header.get("format") == JOURNAL_FORMAT
            and header.get("version") == JOURNAL_VERSION
            and header.get("base") == base
        ):
            logger.info("Ignoring %s: it does not continue the current dump.", path)
            return []
        for record in stream:
            events.append(shared_converter().structure(record, Event))
    except StopIteration:
        return []
    except Exception as exc:  # A torn or damaged record: keep what came before it.
        logger.warning("Reading %s stopped at a damaged record: %s", path, exc)
    return events
