"""File hashing in the director, off the event loop.

A file whose mode, mtime, size and inode match its last hash is not read again (the stat-only
fast path). Other files are hashed in worker threads, at most ``capacity`` at a time, and a
cancelled hash stops at the next chunk.
"""

import os

import trio

from stepup_trio.hashing import FileHash, compute_file_hash

__all__ = ["FileHasher"]


def _same_stat(path: str, old: FileHash | None) -> FileHash | None:
    """The old hash if the file's stat still matches it, without reading the file."""
    if old is None or not old.known:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return old if old.same_stat(st) else None


class FileHasher:
    def __init__(self, capacity: int = 4) -> None:
        self._limiter = trio.CapacityLimiter(capacity)

    async def hash(self, path: str, old: FileHash | None = None) -> FileHash | None:
        """The current hash of ``path``, or None if it does not exist (or has the wrong type)."""
        if path.endswith("/"):
            return compute_file_hash(path)  # A stat only: directory contents are not hashed.
        if (same := _same_stat(path, old)) is not None:
            return same
        return await trio.to_thread.run_sync(
            compute_file_hash,
            path,
            old,
            trio.from_thread.check_cancelled,
            limiter=self._limiter,
        )

    async def hash_nodes(self, nodes) -> dict[str, FileHash | None]:
        """Current hashes of file nodes, by path, using each node's hash for the fast path.

        Directories and files whose stat did not change are handled right here; only the
        others go to a thread.
        """
        hashes: dict[str, FileHash | None] = {}
        for node in nodes:
            path = node.path
            if path.endswith("/"):
                hashes[path] = compute_file_hash(path)
            elif (same := _same_stat(path, node.hash)) is not None:
                hashes[path] = same
            else:
                hashes[path] = await self.hash(path, node.hash)
        return hashes
