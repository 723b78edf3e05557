"""Messages between processes, as attrs classes, and their msgpack encoding through cattrs.

Every message travels in an envelope ``[call_id, name, payload]``: ``name`` is the message
class name for a request, ``"ok"`` or ``"error"`` for a reply. msgpack is self-delimiting, so a
stream is a plain sequence of envelopes. Payloads are validated by cattrs when they are
structured, before they reach the workflow.
"""

from typing import Any, get_args, get_origin

import attrs
import cattrs
import msgpack
from cattrs.preconf.msgpack import make_converter

from stepup_trio.hashing import FileHash

__all__ = [
    "MAX_MESSAGE_SIZE",
    "DefineStatic",
    "DefineStep",
    "Envelope",
    "JobFinished",
    "JobStarted",
    "RunJob",
    "Shutdown",
    "WireError",
    "WriteGraph",
    "converter",
    "decode",
    "encode",
    "encode_reply",
    "new_unpacker",
]

#: Upper bound for one message: larger ones are refused rather than buffered.
MAX_MESSAGE_SIZE = 256 * 1024 * 1024


class WireError(Exception):
    """A message could not be decoded or did not match its schema."""


# Requests from plan scripts and other clients to the director.


@attrs.frozen
class DefineStep:
    """Define a step on behalf of the step ``creator`` (a node key)."""

    creator: str
    command: str
    workdir: str = "./"
    inp: list[str] = attrs.Factory(list)
    out: list[str] = attrs.Factory(list)
    env: list[str] = attrs.Factory(list)
    optional: bool = False
    pool: str | None = None
    block: bool = False


@attrs.frozen
class DefineStatic:
    """Declare static files and directories on behalf of ``creator``."""

    creator: str
    paths: list[str]


@attrs.frozen
class WriteGraph:
    """Write the graph files ``<prefix>.txt``, ``<prefix>_supplier.dot``, ..."""

    prefix: str


# Between the director and its workers.


@attrs.frozen
class RunJob:
    """Run a step's command in a worker and hash its inputs and outputs."""

    key: str
    command: str
    workdir: str
    env: dict[str, str]
    inputs: list[str]
    outputs: list[str]


@attrs.frozen
class JobStarted:
    """The step's process started, in its own process group ``pgid``."""

    pgid: int


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
    for cls in (DefineStep, DefineStatic, WriteGraph, RunJob, JobStarted, JobFinished, Shutdown)
}

converter = make_converter()


def _strict(expected: type | tuple[type, ...]):
    """cattrs converts scalars with ``str(x)``, ``int(x)``...: a wrong type must be refused."""

    def structure(value: Any, cls: type) -> Any:
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {cls.__name__}, got {type(value).__name__} {value!r}")
        return cls(value)

    return structure


for _cls, _expected in (
    (str, str),
    (int, int),
    (bool, bool),
    (float, (int, float)),
    (bytes, bytes),
):
    converter.register_structure_hook(_cls, _strict(_expected))


def _strict_list(value: Any, cls: Any) -> list:
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list, got {type(value).__name__} {value!r}")
    (item,) = get_args(cls) or (Any,)
    return [converter.structure(element, item) for element in value]


def _strict_dict(value: Any, cls: Any) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"expected a map, got {type(value).__name__} {value!r}")
    key_type, value_type = get_args(cls) or (Any, Any)
    return {
        converter.structure(key, key_type): converter.structure(element, value_type)
        for key, element in value.items()
    }


converter.register_structure_hook_func(lambda cls: get_origin(cls) is list, _strict_list)
converter.register_structure_hook_func(lambda cls: get_origin(cls) is dict, _strict_dict)


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
    return msgpack.packb([call_id, name, converter.unstructure(message)], use_bin_type=True)


def encode_reply(call_id: int, ok: bool, payload: Any = None) -> bytes:
    """Pack a reply: a plain value when ``ok``, an error message otherwise."""
    return msgpack.packb([call_id, "ok" if ok else "error", payload], use_bin_type=True)


def new_unpacker() -> msgpack.Unpacker:
    return msgpack.Unpacker(raw=False, max_buffer_size=MAX_MESSAGE_SIZE, strict_map_key=True)


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
        message = converter.structure(payload, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise WireError(f"Invalid {name} message: {detail}") from None
    return Envelope(call_id, name, message)
