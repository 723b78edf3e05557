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
import msgpack

from stepup_trio.hashing import FileHash

__all__ = ["StepHash", "compute_step_hash"]


@attrs.frozen
class StepHash:
    digest: bytes
    inp_digest: bytes
    inputs: dict[str, FileHash] | None = None
    env: dict[str, str | None] | None = None
    outputs: dict[str, FileHash] | None = None
    # The stamps of source nodes, by key (only for steps that need sources).
    sources: dict[str, bytes] | None = None

    @property
    def extended(self) -> bool:
        return self.inputs is not None


def _pack(obj: object) -> bytes:
    # msgpack is typed and self-delimiting: no two different sequences of words give the same
    # bytes. Paths may hold undecodable bytes (surrogateescape), which are kept apart too.
    return msgpack.packb(obj, use_bin_type=True, unicode_errors="surrogateescape")


def _files(pairs: list[tuple[str, FileHash]]) -> list[tuple[str, int, int, bytes]]:
    return [(path, h.mode, h.size, h.digest) for path, h in pairs]


def compute_step_hash(
    key: str,
    inputs: Iterable[tuple[str, FileHash]],
    env: Mapping[str, str | None],
    outputs: Iterable[tuple[str, FileHash]],
    extended: bool = False,
    sources: Iterable[tuple[str, bytes]] = (),
) -> StepHash:
    """Hash a step from its key, input hashes, variable values, the stamps of the source
    nodes it needs, and its output hashes.

    The input section (key, inputs, variables) and the output section are each packed in one
    go: building the words one by one in Python cost more than the hashing itself.
    """
    inputs = sorted(inputs, key=_path)
    outputs = sorted(outputs, key=_path)
    sources = sorted(sources)
    section = (key, _files(inputs), sorted(env.items()))
    if sources:
        # A fourth item only when there are sources: other steps keep their digests.
        section += (sources,)
    hasher = hashlib.blake2b(_pack(section))
    inp_digest = hasher.digest()
    if outputs:
        hasher.update(_pack(_files(outputs)))
        digest = hasher.digest()
    else:
        digest = inp_digest
    if not extended:
        return StepHash(digest, inp_digest)
    return StepHash(
        digest, inp_digest, dict(inputs), dict(env), dict(outputs), dict(sources) or None
    )


def _path(pair: tuple[str, FileHash]) -> str:
    return pair[0]
