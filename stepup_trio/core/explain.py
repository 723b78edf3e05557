"""Why a step is skipped or rerun: compare an old and a new step hash, line by line.

The lines have the form ``f"{label:20s} {content}"`` and go to the SKIP, NOSKIP and
DROPAMEND boxes of ``stepup -e``. (``inp_digset`` is spelled as StepUp spells it: tools parse
these lines.)
"""

import hashlib
import stat

from stepup_trio.core.stephash import StepHash
from stepup_trio.hashing import DIR_DIGEST, UNKNOWN_DIGEST, FileHash

__all__ = ["explain", "short_digest"]


def short_digest(digest: bytes) -> str:
    if digest == UNKNOWN_DIGEST:
        return "UNKNOWN"
    if digest == DIR_DIGEST:
        return "DIRECTORY"
    return digest.hex()[:8]


def _arrow(name: str, old: str, new: str) -> str:
    return f"{name} {old}" if old == new else f"{name} {old} ➜ {new}"


def _kind(step_hash: StepHash) -> str:
    return "extended" if step_hash.extended else "compact"


def _line(label: str, content: str) -> str:
    return f"{label:20s} {content}"


def _file_lines(
    what: str, old: dict[str, FileHash], new: dict[str, FileHash]
) -> tuple[list[str], list[str]]:
    changed, same = [], []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            changed.append(_line(f"Deleted {what} hash", path))
        elif path not in old:
            changed.append(_line(f"Added {what} hash", path))
        else:
            before, after = old[path], new[path]
            parts = []
            if before.digest != after.digest:
                parts.append(
                    _arrow("digest", short_digest(before.digest), short_digest(after.digest))
                )
            if before.size != after.size:
                parts.append(_arrow("size", str(before.size), str(after.size)))
            if before.mode != after.mode:
                parts.append(_arrow("mode", stat.filemode(before.mode), stat.filemode(after.mode)))
            if parts:
                changed.append(_line(f"Modified {what} hash", f"{path} ({', '.join(parts)})"))
            else:
                same.append(_line(f"Same {what} hash", path))
    return changed, same


def _env_lines(
    old: dict[str, str | None], new: dict[str, str | None]
) -> tuple[list[str], list[str]]:
    def shown(value: str | None) -> str:
        return "(unset)" if value is None else f"={value!r}"

    changed, same = [], []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            changed.append(_line("Deleted env var", f"{name} {shown(old[name])}"))
        elif name not in old:
            changed.append(_line("Added env var", f"{name} {shown(new[name])}"))
        elif old[name] != new[name]:
            changed.append(
                _line("Modified env var", f"{name} {shown(old[name])} ➜ {shown(new[name])}")
            )
        else:
            same.append(_line("Same env var", f"{name} {shown(new[name])}"))
    return changed, same


def _stamp(stamp: bytes) -> str:
    """Stamps are any bytes, often readable ones that start alike (``ETag: "v1"``): show a
    short hash of them, as for file digests."""
    if not stamp:
        return "(not probed)"
    return hashlib.blake2b(stamp, digest_size=4).hexdigest()


def _source_lines(old: dict[str, bytes], new: dict[str, bytes]) -> tuple[list[str], list[str]]:
    changed, same = [], []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changed.append(_line("Deleted source", key))
        elif key not in old:
            changed.append(_line("Added source", key))
        elif old[key] != new[key]:
            stamps = _arrow("stamp", _stamp(old[key]), _stamp(new[key]))
            changed.append(_line("Modified source", f"{key} ({stamps})"))
        else:
            same.append(_line("Same source", key))
    return changed, same


def explain(old: StepHash, new: StepHash) -> tuple[list[str], list[str]]:
    """The lines that changed and the lines that remained the same, in a stable order.

    Order: the step hash, then the inputs, the environment variables, the sources and the
    outputs, each sorted. Only the step-hash line is shown when the old hash was compact.
    """
    kind = _arrow("", _kind(old), _kind(new)).strip()
    content = ", ".join(
        [
            kind,
            _arrow("digest", short_digest(old.digest), short_digest(new.digest)),
            _arrow("inp_digset", short_digest(old.inp_digest), short_digest(new.inp_digest)),
        ]
    )
    changed: list[str] = []
    same: list[str] = []
    if old.digest == new.digest:
        same.append(_line("Same step hash", content))
    else:
        changed.append(_line("Modified step hash", content))
    if not (old.extended and new.extended):
        return changed, same
    for more_changed, more_same in (
        _file_lines("inp", old.inputs, new.inputs),
        _env_lines(old.env, new.env),
        _source_lines(old.sources or {}, new.sources or {}),
        _file_lines("out", old.outputs, new.outputs),
    ):
        changed.extend(more_changed)
        same.extend(more_same)
    return changed, same
