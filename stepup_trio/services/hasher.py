"""File hashing in the director, off the event loop.

A file whose mode, mtime, size and inode match its last hash is not read again (the stat-only
fast path). Other files are hashed in worker threads, at most ``capacity`` at a time, and a
cancelled hash stops at the next chunk.
"""

import os

import trio

from stepup_trio.hashing import FileHash, compute_file_hash

__all__ = ["NEEDS_READING", "FileHasher", "hash_without_reading"]


NEEDS_READING = object()


def hash_without_reading(path: str, old: FileHash | None):
    """The hash if it can be had from a stat alone (directories, unchanged files), else a
    marker that the file must be read."""
    if path.endswith("/"):
        return compute_file_hash(path)  # A stat only: directory contents are not hashed.
    if old is None or not old.known:
        return NEEDS_READING
    try:
        st = os.stat(path)
    except OSError:
        return NEEDS_READING
    return old if old.same_stat(st) else NEEDS_READING


class FileHasher:
    def __init__(self, capacity: int = 4) -> None:
        self._limiter = trio.CapacityLimiter(capacity)

    async def hash(self, path: str, old: FileHash | None = None) -> FileHash | None:
        """The current hash of ``path``, or None if it does not exist (or has the wrong type)."""
        quick = hash_without_reading(path, old)
        if quick is not NEEDS_READING:
            return quick
        return await self.read(path, old)

    async def read(self, path: str, old: FileHash | None) -> FileHash | None:
        return await trio.to_thread.run_sync(
            compute_file_hash,
            path,
            old,
            trio.from_thread.check_cancelled,
            limiter=self._limiter,
        )

    async def hash_nodes(self, nodes) -> dict[str, FileHash | None]:
        """Current hashes of file nodes, by path, using each node's hash for the fast path.

        Only files that must be read go to a thread; the rest needs no checkpoint at all.
        """
        hashes: dict[str, FileHash | None] = {}
        for node in nodes:
            quick = hash_without_reading(node.path, node.hash)
            hashes[node.path] = (
                await self.read(node.path, node.hash) if quick is NEEDS_READING else quick
            )
        return hashes
