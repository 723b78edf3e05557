"""Exceptions that carry a message meant for the user, never a traceback."""


class StepUpError(Exception):
    """Base class of all errors that stepup-trio reports to the user as plain messages."""


class GraphError(StepUpError):
    """A requested change would make the workflow graph inconsistent."""


class CyclicError(GraphError):
    """A new supplier relation would close a cycle in the supplier graph."""


class PluginError(StepUpError):
    """A node-kind or exporter plugin could not be loaded or is malformed."""


class UsageError(StepUpError):
    """The command line or the plan script was used in a way that cannot work."""


class DumpError(StepUpError):
    """The workflow dump could not be read: it is truncated, corrupt or from another version."""


class MissingPathError(StepUpError, FileNotFoundError):
    """A path that must exist does not (also a FileNotFoundError, as in StepUp)."""
