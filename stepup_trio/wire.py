"""Messages between processes, as attrs classes, and their msgpack encoding through cattrs.

Every message travels in an envelope ``[call_id, name, payload]``: ``name`` is the message
class name for a request, ``"ok"`` or ``"error"`` for a reply. msgpack is self-delimiting, so a
stream is a plain sequence of envelopes. Payloads are validated by cattrs when they are
structured, before they reach the workflow.
"""

from collections.abc import Collection
from typing import Any

import attrs
import cattrs
import msgpack

from stepup_trio.convert import pack, shared_converter, unpacker
from stepup_trio.core.actions import Action
from stepup_trio.hashing import FileHash

__all__ = [
    "CONTROL_COMMANDS",
    "DEFAULT_GRAPH_FORMATS",
    "MAX_MESSAGE_SIZE",
    "Cleanup",
    "Control",
    "Envelope",
    "JobFinished",
    "Perform",
    "RunJob",
    "Shutdown",
    "WatchChange",
    "WireError",
    "WriteGraph",
    "decode",
    "encode",
    "encode_reply",
    "new_unpacker",
]

#: Upper bound for one message, and for any string or binary in it: a message that announces
#: more is refused as soon as its header arrives, rather than buffered.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class WireError(Exception):
    """A message could not be decoded or did not match its schema."""


# Requests from plan scripts and other clients to the director.


@attrs.frozen
class Perform:
    """Perform an action (define a step, declare static files) on behalf of ``creator``.

    A ``posted`` request is one whose reply the client reads later (see
    :mod:`stepup_trio.client`): after a refused one, the director refuses the posted requests
    that follow on the same connection, up to the next request that is not posted.
    """

    creator: str
    action: Action
    posted: bool = False


#: The graph formats written when a client names none, as StepUp 1.x did.
DEFAULT_GRAPH_FORMATS = ("text", "dot")


@attrs.frozen
class WriteGraph:
    """Write the graph files of the exporters named in ``formats`` under ``prefix``.

    ``formats`` has a default so that a client that sends only ``prefix`` (as StepUp-style
    clients do) still gets ``<prefix>.txt`` and the two dot files.
    """

    prefix: str
    formats: list[str] = attrs.Factory(lambda: list(DEFAULT_GRAPH_FORMATS))

    def format_problem(self, installed: Collection[str]) -> str | None:
        """Why ``formats`` cannot be written with the ``installed`` exporters, or None.

        The director checks this before writing anything, so that a bad request becomes an
        error reply that names the fix, and no half-written set of files.
        """
        if not self.formats:
            return "No graph format given: name at least one, for example text or dot."
        unknown = [name for name in self.formats if name not in installed]
        if not unknown:
            return None
        return (
            f"Unknown graph format{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}. Installed formats: "
            f"{', '.join(sorted(installed))}. Other formats come from exporter plugins: install "
            "one (for example `pip install stepup-trio-mermaid` for 'mermaid'), restart stepup, "
            "and check with `stepup --list-plugins`."
        )


# Requests of interactive clients (stepup_trio.interact, the stepup subcommands, the keyboard).


@attrs.frozen
class Control:
    """A request without arguments: run, wait, join, shutdown, drain, from_scratch, try_replay."""

    command: str


CONTROL_COMMANDS = ("run", "wait", "join", "shutdown", "drain", "from_scratch", "try_replay")


@attrs.frozen
class WatchChange:
    """Wait until the watcher has recorded ``path`` as ``updated`` or ``deleted``."""

    path: str
    deleted: bool


@attrs.frozen
class Cleanup:
    """Remove the given outputs and everything that depends on them (watch phase only)."""

    paths: list[str]


# Between the director and its workers.


@attrs.frozen
class RunJob:
    """Run a step's command in a worker and hash its inputs and outputs.

    ``known`` holds earlier hashes: a file whose stat did not change is not read again.
    """

    key: str
    command: str
    workdir: str
    env: dict[str, str]
    inputs: list[str]
    outputs: list[str]
    known: dict[str, FileHash] = attrs.Factory(dict)


@attrs.frozen
class JobFinished:
    """The outcome of a :class:`RunJob`. ``returncode`` is None when the step did not start."""

    returncode: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    hashes: dict[str, FileHash] = attrs.Factory(dict)
    invalid_inputs: dict[str, str] = attrs.Factory(dict)
    missing_outputs: list[str] = attrs.Factory(list)
    resources: list[float] | None = None

    @property
    def success(self) -> bool:
        return self.returncode == 0 and not self.invalid_inputs and not self.missing_outputs


@attrs.frozen
class Shutdown:
    """Ask a worker to exit."""


MESSAGES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Perform,
        WriteGraph,
        Control,
        WatchChange,
        Cleanup,
        RunJob,
        JobFinished,
        Shutdown,
    )
}


@attrs.frozen
class Envelope:
    call_id: int
    name: str
    payload: Any


def encode(call_id: int, message: Any) -> bytes:
    """Pack a request message."""
    name = type(message).__name__
    if name not in MESSAGES:
        raise WireError(f"Not a message class: {name}")
    return pack([call_id, name, shared_converter().unstructure(message)])


def encode_reply(call_id: int, ok: bool, payload: Any = None) -> bytes:
    """Pack a reply: a plain value when ``ok``, an error message otherwise."""
    return pack([call_id, "ok" if ok else "error", payload])


def new_unpacker() -> msgpack.Unpacker:
    return unpacker(
        max_buffer_size=MAX_MESSAGE_SIZE,
        max_str_len=MAX_MESSAGE_SIZE,
        max_bin_len=MAX_MESSAGE_SIZE,
        max_array_len=MAX_MESSAGE_SIZE // 8,
        max_map_len=MAX_MESSAGE_SIZE // 16,
        strict_map_key=True,
    )


def decode(obj: Any) -> Envelope:
    """Check an unpacked envelope and structure its payload into a message object."""
    if not (
        isinstance(obj, list)
        and len(obj) == 3
        and isinstance(obj[0], int)
        and not isinstance(obj[0], bool)
        and isinstance(obj[1], str)
    ):
        raise WireError("A message must be a list [call_id, name, payload].")
    call_id, name, payload = obj
    if name in ("ok", "error"):
        return Envelope(call_id, name, payload)
    cls = MESSAGES.get(name)
    if cls is None:
        raise WireError(f"Unknown message: {name}")
    if not isinstance(payload, dict):
        raise WireError(f"Invalid {name} message: the payload must be a map of fields.")
    try:
        message = shared_converter().structure(payload, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise WireError(f"Invalid {name} message: {detail}") from None
    return Envelope(call_id, name, message)
