"""Step hashes: one digest over everything a step's result depends on.

The digest covers the step key (command and working directory), each input's path, mode, size
and content digest, the environment variables the step uses, and each output's path, mode, size
and digest. The *input digest* is the same hash taken before the outputs: it tells whether a
step's amended information is still valid. mtime and inode are left out: touching a file
without changing it does not make a step rerun.

An *extended* hash also keeps the per-file hashes and the variable values, so that
``stepup -e`` can explain what changed.
"""

import hashlib
from collections.abc import Iterable, Mapping

import attrs

from stepup_trio.hashing import FileHash

__all__ = ["StepHash", "compute_step_hash"]


@attrs.frozen
class StepHash:
    digest: bytes
    inp_digest: bytes
    inputs: dict[str, FileHash] | None = None
    env: dict[str, str | None] | None = None
    outputs: dict[str, FileHash] | None = None

    @property
    def extended(self) -> bool:
        return self.inputs is not None


class _Words:
    """Feeds typed, length-prefixed words to BLAKE2b, so that no two sequences collide."""

    def __init__(self) -> None:
        self.hasher = hashlib.blake2b()

    def add(self, word: bytes | str | int | None) -> None:
        if word is None:
            self.hasher.update(b"\0")
            return
        if isinstance(word, int):
            self.hasher.update(b"\3" + word.to_bytes(8, "big", signed=True))
            return
        if isinstance(word, str):
            tag, data = b"\1", word.encode("utf-8", errors="surrogateescape")
        else:
            tag, data = b"\2", word
        self.hasher.update(tag + len(data).to_bytes(8, "big") + data)

    def add_file(self, path: str, file_hash: FileHash) -> None:
        self.add(path)
        self.add(file_hash.mode)
        self.add(file_hash.size)
        self.add(file_hash.digest)


def compute_step_hash(
    key: str,
    inputs: Iterable[tuple[str, FileHash]],
    env: Mapping[str, str | None],
    outputs: Iterable[tuple[str, FileHash]],
    extended: bool = False,
) -> StepHash:
    """Hash a step from its key, input hashes, variable values and output hashes."""
    inputs = sorted(inputs)
    outputs = sorted(outputs)
    words = _Words()
    words.add(key)
    words.add("__inp_paths__")
    for path, file_hash in inputs:
        words.add_file(path, file_hash)
    words.add("__env_vars__")
    for name, value in sorted(env.items()):
        words.add(name)
        words.add(value)
    words.add("__out_paths__")
    inp_digest = words.hasher.copy().digest()
    for path, file_hash in outputs:
        words.add_file(path, file_hash)
    digest = words.hasher.digest()
    if not extended:
        return StepHash(digest, inp_digest)
    return StepHash(digest, inp_digest, dict(inputs), dict(env), dict(outputs))
