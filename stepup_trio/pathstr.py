"""A path that is also a string, as the paths StepUp's API returns.

Plans use results of ``glob()`` and ``StepInfo`` both as strings (``" ".join(paths)``,
f-strings, concatenation) and as paths (``.stem``, ``.suffix``, ``/``). A ``str`` subclass
with the common read-only ``pathlib`` properties serves both. A trailing slash, which marks a
directory in StepUp, is kept.
"""

import os
import pathlib

__all__ = ["Path"]


class Path(str):
    """A string path with ``name``, ``stem``, ``suffix``, ``parent``, ``/`` and friends."""

    __slots__ = ()

    @property
    def _pure(self) -> pathlib.PurePosixPath:
        return pathlib.PurePosixPath(self)

    @property
    def name(self) -> str:
        return self._pure.name

    @property
    def stem(self) -> str:
        return self._pure.stem

    @property
    def suffix(self) -> str:
        return self._pure.suffix

    @property
    def suffixes(self) -> list[str]:
        return self._pure.suffixes

    @property
    def parts(self) -> tuple[str, ...]:
        return self._pure.parts

    @property
    def parent(self) -> "Path":
        return Path(os.path.dirname(self.rstrip("/")) or ".")

    def with_suffix(self, suffix: str) -> "Path":
        return Path(str(self._pure.with_suffix(suffix)))

    def with_name(self, name: str) -> "Path":
        return Path(str(self._pure.with_name(name)))

    def __truediv__(self, other: "str | os.PathLike") -> "Path":
        return Path(os.path.join(self, os.fspath(other)))

    def __fspath__(self) -> str:
        return str(self)

    def exists(self) -> bool:
        return os.path.exists(self)

    def is_file(self) -> bool:
        return os.path.isfile(self)

    def is_dir(self) -> bool:
        return os.path.isdir(self)

    def read_text(self, encoding: str = "utf-8") -> str:
        with open(self, encoding=encoding) as fh:
            return fh.read()

    def read_bytes(self) -> bytes:
        with open(self, "rb") as fh:
            return fh.read()
