"""Hashing: the file hasher's speed next to the raw speed of its hash function.

A no-op rebuild checks every file; a cold build hashes every output. Three numbers tell where
that time goes: MB/s on one large file (read plus hash, against BLAKE2b on the same bytes in
memory), files/s on many small files (per-file overhead), and files/s of the stat-only fast
path that a no-op rebuild should take for unchanged files.
"""

import functools
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stepup_trio.hashing import FileHash, compute_file_hash

__all__ = ["HashResult", "bench_hashing"]

MIB = 1 << 20
# Written in blocks, so that a large file never needs twice its size in memory.
BLOCK = 4 * MIB
#: Rounds of each measurement, taking turns; the fastest of each counts, as timeit does: a
#: slow spell of the machine during one of them would otherwise decide the ratio.
ROUNDS = 3


@dataclass
class HashResult:
    """Speeds of the file hasher; ``error`` if a measurement failed."""

    large_mib: int
    small_files: int
    small_size: int
    large_file_mbs: float | None = None
    raw_mbs: float | None = None
    small_files_per_s: float | None = None
    fast_path_files_per_s: float | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """File hasher / raw hash function: issue 5 wants at least 0.8 on a cached large file."""
        if self.large_file_mbs is None or not self.raw_mbs:
            return None
        return self.large_file_mbs / self.raw_mbs


def write_large(path: Path, mib: int) -> bytes:
    """Write ``mib`` MiB of incompressible-looking bytes; return them for the raw hash."""
    data = bytearray()
    block = os.urandom(BLOCK)
    with path.open("wb") as fh:
        for offset in range(0, mib * MIB, BLOCK):
            chunk = block[: min(BLOCK, mib * MIB - offset)]
            fh.write(chunk)
            data += chunk
    return bytes(data)


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def large_file_speed(folder: Path, mib: int) -> tuple[float, float]:
    """MB/s of compute_file_hash (page cached) and of blake2b on the same bytes in memory,
    the fastest of :data:`ROUNDS` turns each."""
    path = folder / "large.bin"
    data = write_large(path, mib)
    compute_file_hash(str(path))  # The first run only warms the page cache.
    elapsed = raw_elapsed = float("inf")
    for _ in range(ROUNDS):
        file_elapsed, file_hash = timed(lambda: compute_file_hash(str(path)))
        hash_elapsed, digest = timed(lambda: hashlib.blake2b(data).digest())
        if not isinstance(file_hash, FileHash) or file_hash.digest != digest:
            raise ValueError("the file hasher and blake2b disagree on the large file")
        elapsed, raw_elapsed = min(elapsed, file_elapsed), min(raw_elapsed, hash_elapsed)
    megabytes = len(data) / 1e6
    return megabytes / elapsed, megabytes / raw_elapsed


def write_small(folder: Path, count: int, size: int) -> list[str]:
    """Many small files with distinct contents."""
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"{i}.bin"
        path.write_bytes(f"{i}\n".encode().ljust(size, b"x"))
        paths.append(str(path))
    return paths


def rehash(paths: list[str], hashes: list[FileHash | None]) -> list[FileHash | None]:
    """Hash the files again, given their old hashes: the stat-only fast path."""
    return [compute_file_hash(path, old) for path, old in zip(paths, hashes, strict=True)]


def small_files_speed(folder: Path, count: int, size: int) -> tuple[float, float]:
    """Files/s of hashing small files, and of the stat-only check with their old hashes."""
    paths = write_small(folder / "small", count, size)
    elapsed = fast_elapsed = float("inf")
    for _ in range(ROUNDS):
        hash_elapsed, hashes = timed(lambda: [compute_file_hash(path) for path in paths])
        stat_elapsed, again = timed(functools.partial(rehash, paths, hashes))
        if any(new is not old for new, old in zip(again, hashes, strict=True)):
            raise ValueError("the stat-only fast path read a file whose stat did not change")
        elapsed, fast_elapsed = min(elapsed, hash_elapsed), min(fast_elapsed, stat_elapsed)
    return count / elapsed, count / fast_elapsed


def bench_hashing(
    large_mib: int,
    small_files: int,
    small_size: int = 1024,
    log: Callable[[str], None] = lambda message: None,
) -> HashResult:
    """All hashing measurements in one fresh temporary folder."""
    result = HashResult(large_mib, small_files, small_size)
    with tempfile.TemporaryDirectory(prefix="stepup-bench-hash-") as tmp:
        try:
            log(f"hashing: one file of {large_mib} MiB")
            result.large_file_mbs, result.raw_mbs = large_file_speed(Path(tmp), large_mib)
            log(f"hashing: {small_files} files of {small_size} bytes")
            result.small_files_per_s, result.fast_path_files_per_s = small_files_speed(
                Path(tmp), small_files, small_size
            )
        except (OSError, ValueError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            log(f"hashing: error: {result.error}")
    return result
