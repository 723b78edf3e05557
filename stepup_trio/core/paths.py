"""Path conventions of the graph: normalized strings, a trailing slash for directories."""

import functools
import os.path
import re

__all__ = ["is_always_static", "normalize", "parent_path"]

_ALWAYS_STATIC = re.compile(r"^(\./|/|(\.\./)+)$")


def normalize(path: str) -> str:
    """Normalize a path, keeping (or adding, for ``.``, ``..`` and ``/``) the trailing slash."""
    if path == "":
        raise ValueError("A path cannot be empty.")
    is_dir = path.endswith("/") or path.endswith("/.") or path in (".", "..")
    normed = os.path.normpath(path)
    if normed.startswith("//"):
        # POSIX keeps exactly two leading slashes; for us they mean the same as one.
        normed = normed[1:]
    if normed in (".", "/"):
        return "./" if normed == "." else "/"
    if is_dir or os.path.basename(normed) == "..":
        normed += "/"
    return normed


# Both are asked for the same paths over and over when a large plan is replayed.
_CACHE_SIZE = 1 << 16


@functools.lru_cache(maxsize=_CACHE_SIZE)
def is_always_static(path: str) -> bool:
    """``./``, ``/`` and chains of ``../`` exist by definition: the root creates them."""
    return _ALWAYS_STATIC.match(path) is not None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def parent_path(path: str) -> str | None:
    """The directory that contains ``path``; ``None`` for ``./`` and ``/``.

    As in StepUp, ``../`` has ``./`` as its parent and ``../../`` has ``../``.
    """
    if path in ("./", "/"):
        return None
    if is_always_static(path):
        return path[3:] or "./"
    head = os.path.dirname(path.rstrip("/"))
    if head == "":
        return "./"
    if head == "/":
        return "/"
    return head + "/"
