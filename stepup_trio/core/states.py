"""States of files and steps. The numeric values are those of StepUp 1.3.1."""

import enum

__all__ = ["FileState", "Mandatory", "StepState"]


class FileState(enum.IntEnum):
    STATIC = 11
    """Declared by the user: a source file or directory."""
    PENDING = 12
    """An output not (re)built yet, or a placeholder for an unknown input."""
    BUILT = 13
    """An output of a step that succeeded."""
    MISSING = 14
    """Static, but deleted."""
    VOLATILE = 15
    """A volatile output: never hashed, never an input, always cleaned."""

    @property
    def available(self) -> bool:
        return self in (FileState.STATIC, FileState.BUILT)


class StepState(enum.IntEnum):
    PENDING = 21
    QUEUED = 22
    RUNNING = 23
    SUCCEEDED = 24
    FAILED = 25


class Mandatory(enum.IntEnum):
    YES = 31
    IMPLIED = 32
    """Optional, but needed by a mandatory step."""
    NO = 33
    """Optional and not needed: not run."""
