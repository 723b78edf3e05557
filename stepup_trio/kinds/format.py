"""Helpers shared by the built-in kinds to format their properties in graph.txt."""

from collections.abc import Iterator

__all__ = ["digest_lines"]


def digest_lines(name: str, digest: bytes) -> Iterator[tuple[str, str]]:
    """A 64-byte digest as two lines of eight groups of eight hex digits."""
    hexdigest = digest.hex()
    for index, start in enumerate(range(0, max(len(hexdigest), 1), 64)):
        chunk = hexdigest[start : start + 64]
        groups = " ".join(chunk[i : i + 8] for i in range(0, len(chunk), 8))
        yield (name if index == 0 else ""), groups
