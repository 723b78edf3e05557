"""The journal ``.stepup/journal.mpk``: every change since the last dump, appended as it happens.

The journal starts with a header that names the dump it continues (its *base*). Each event is
one msgpack record, written with a single ``write`` call, so a killed director loses at most the
event it was writing; a torn last record is ignored when the journal is read.
"""

import contextlib
import logging
import os

from stepup_trio.convert import make_converter, pack, unpacker
from stepup_trio.core.events import Event

__all__ = ["JOURNAL_FORMAT", "Journal", "read_journal"]

JOURNAL_FORMAT = "stepup-trio-journal"
JOURNAL_VERSION = 1

logger = logging.getLogger(__name__)
_converter = make_converter()


class Journal:
    """Appends events to a new journal file (an existing one is replaced)."""

    def __init__(self, path: str, base: str | None) -> None:
        self.path = path
        self._fd: int | None = None
        self.restart(base)

    def restart(self, base: str | None) -> None:
        """Start over after a new dump: the journal continues that one."""
        self.close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        header = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "base": base}
        self._write(pack(header))

    def _write(self, data: bytes) -> None:
        if self._fd is not None:
            os.write(self._fd, data)

    def append(self, event: Event) -> None:
        self._write(pack(_converter.unstructure(event, Event)))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """The dump now holds everything: the journal is no longer needed."""
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
            events.append(_converter.structure(record, Event))
    except StopIteration:
        return []
    except Exception as exc:  # A torn or damaged record: keep what came before it.
        logger.warning("Reading %s stopped at a damaged record: %s", path, exc)
    return events
