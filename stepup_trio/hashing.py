"""File hashes: a content digest plus the stat fields that tell when to recompute it.

This module is the floor of the package: it imports nothing from the rest of it.
"""

import hashlib
import os
import stat
from collections.abc import Callable

import attrs

__all__ = ["DIR_DIGEST", "UNKNOWN_DIGEST", "FileHash", "compute_file_hash", "hash_file_contents"]

#: Digest used for directories, whose content is not hashed.
DIR_DIGEST = b"d"
#: Digest of a file whose hash was never computed.
UNKNOWN_DIGEST = b"u"
#: Bytes read per chunk: large enough to reach the hash function's speed.
CHUNK_SIZE = 1 << 20


@attrs.frozen
class FileHash:
    """The digest of a file (BLAKE2b, 64 bytes) and the stat fields it was computed for."""

    digest: bytes = UNKNOWN_DIGEST
    mode: int = 0
    mtime: float = 0.0
    size: int = 0
    inode: int = 0

    @property
    def known(self) -> bool:
        return self.digest != UNKNOWN_DIGEST

    def same_stat(self, st: os.stat_result) -> bool:
        """True when the stat fields match, so the digest can be reused without reading."""
        return (
            self.mode == st.st_mode
            and self.mtime == st.st_mtime
            and self.size == st.st_size
            and self.inode == st.st_ino
        )


def hash_file_contents(path: str, check: Callable[[], None] | None = None) -> bytes:
    """Return the 64-byte BLAKE2b digest of a file's contents.

    ``check`` is called between chunks: it may raise to stop hashing a large file early.
    """
    hasher = hashlib.blake2b()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            hasher.update(chunk)
            if check is not None:
                check()
    return hasher.digest()


def compute_file_hash(
    path: str, old: FileHash | None = None, check: Callable[[], None] | None = None
) -> FileHash | None:
    """Hash ``path`` (a trailing slash means a directory); ``None`` if it is missing.

    A directory gets the digest ``b"d"`` and zeros elsewhere: its content is not hashed.

    When ``old`` has the same mode, mtime, size and inode, it is returned as is.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    is_dir = stat.S_ISDIR(st.st_mode)
    if is_dir != path.endswith("/"):
        return None
    if is_dir:
        return FileHash(DIR_DIGEST)
    if old is not None and old.known and old.same_stat(st):
        return old
    digest = hash_file_contents(path, check)
    return FileHash(digest, st.st_mode, st.st_mtime, st.st_size, st.st_ino)
