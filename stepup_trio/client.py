"""The synchronous client that plan scripts and steps use to talk to the director.

It is deliberately light: plain sockets and msgpack, no trio, so that a plan script starts fast.
"""

import os
import socket
import sys
from typing import Any

from stepup_trio import errors, wire
from stepup_trio.convert import shared_converter

__all__ = ["DummyClient", "RemoteError", "SocketClient", "get_client"]


class RemoteError(errors.StepUpError):
    """The director refused a request. The message says why."""


def _remote_exception(payload: Any) -> Exception:
    if isinstance(payload, dict):
        kind = payload.get("type")
        message = str(payload.get("message", payload))
    else:
        kind, message = None, str(payload)
    cls = getattr(errors, kind, None) if isinstance(kind, str) else None
    if not (isinstance(cls, type) and issubclass(cls, errors.StepUpError)):
        cls = RemoteError
    return cls(message)


class SocketClient:
    """One connection to the director's Unix socket, used for blocking calls."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._socket: socket.socket | None = None
        self._unpacker = wire.new_unpacker()
        self._call_id = 0

    def _connect(self) -> socket.socket:
        if self._socket is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except OSError as exc:
                sock.close()
                raise RemoteError(
                    f"Cannot reach the stepup director at {self.path}: {exc.strerror}. "
                    "Is stepup still running?"
                ) from None
            self._socket = sock
        return self._socket

    def call(self, message: Any) -> Any:
        """Send one request and wait for its reply; raise the director's error if it failed."""
        sock = self._connect()
        self._call_id += 1
        call_id = self._call_id
        sock.sendall(wire.encode(call_id, message))
        while True:
            for obj in self._unpacker:
                envelope = wire.decode(obj)
                if envelope.call_id != call_id:
                    continue
                if envelope.name == "ok":
                    return envelope.payload
                raise _remote_exception(envelope.payload)
            chunk = sock.recv(65536)
            if not chunk:
                self.close()
                raise RemoteError("The stepup director closed the connection.")
            self._unpacker.feed(chunk)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class DummyClient:
    """Used when no director is running: prints each call instead of sending it."""

    def call(self, message: Any) -> Any:
        fields = ", ".join(
            f"{key}={value!r}" for key, value in shared_converter().unstructure(message).items()
        )
        print(f"{type(message).__name__}({fields})", file=sys.stderr)
        return None

    def close(self) -> None:
        pass


_CLIENT: SocketClient | DummyClient | None = None


def get_client() -> SocketClient | DummyClient:
    """The process-wide client, from ``STEPUP_DIRECTOR_SOCKET`` (a dummy when it is unset)."""
    global _CLIENT
    if _CLIENT is None:
        path = os.environ.get("STEPUP_DIRECTOR_SOCKET")
        _CLIENT = DummyClient() if path is None else SocketClient(path)
    return _CLIENT
