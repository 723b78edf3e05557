"""The synchronous client that plan scripts and steps use to talk to the director.

It is deliberately light: plain sockets and msgpack, no trio, so that a plan script starts fast.

Most requests are calls: the client sends one and waits for its reply. Step definitions are
*posted* instead: sent at once, their replies read later. A plan that defines thousands of
steps then does not wait for the director once per step, and the director takes the
definitions in batches. A definition the director refused is raised as soon as the client
sees its reply, at the latest by the next call or when the plan exits, with the lines of the
plan that made it (see :mod:`stepup_trio.api`). The director performs nothing that a plan
posted after a refused definition, so the workflow ends up as if the plan had stopped right
there, as it would have with a call.
"""

import atexit
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

import attrs

from stepup_trio import errors, wire
from stepup_trio.convert import shared_converter

__all__ = ["DummyClient", "Origin", "RemoteError", "SocketClient", "get_client"]

#: Where a posted request was made: (file, line, function) of the caller's frames, outermost
#: first, as ``traceback.FrameSummary`` would name them.
Origin = Sequence[tuple[str, int, str]]


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
    """One connection to the director's Unix socket, for calls and posted requests."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._socket: socket.socket | None = None
        self._unpacker = wire.new_unpacker()
        self._call_id = 0
        # Posted requests whose reply has not been read, by call id.
        self._posted: dict[int, Origin] = {}
        # The first posted request that was refused, not raised yet.
        self._refused: tuple[Exception, Origin] | None = None
        # After a refusal, the director refuses the posted requests that follow, up to the
        # next call: those refusals say nothing new.
        self._after_refusal = False
        self._settle_at_exit = False

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

    def _send(self, message: Any) -> int:
        sock = self._connect()
        self._call_id += 1
        try:
            sock.sendall(wire.encode(self._call_id, message))
        except ConnectionError:
            self._lost()
        return self._call_id

    def _lost(self) -> None:
        self.close()
        raise RemoteError("The stepup director closed the connection.")

    def _receive(self, block: bool = True) -> wire.Envelope | None:
        """The next reply; None if none has arrived and ``block`` is false."""
        while True:
            for obj in self._unpacker:
                return wire.decode(obj)
            try:
                chunk = self._socket.recv(65536, 0 if block else socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            except ConnectionError:
                chunk = b""
            if not chunk:
                self._lost()
            self._unpacker.feed(chunk)

    def _take_posted(self, envelope: wire.Envelope) -> bool:
        """Note the reply to a posted request (True) or leave a call's reply (False)."""
        origin = self._posted.pop(envelope.call_id, None)
        if origin is None:
            return False
        if envelope.name != "ok" and not self._after_refusal:
            self._refused = (_remote_exception(envelope.payload), origin)
            self._after_refusal = True
        return True

    def _raise_refused(self) -> None:
        if self._refused is not None:
            exc, origin = self._refused
            self._refused = None
            exc.origin = origin
            raise exc

    def settle(self) -> None:
        """Wait for the replies to all posted requests; raise the first refusal."""
        while self._posted:
            self._take_posted(self._receive())
        self._raise_refused()

    def call(self, message: Any) -> Any:
        """Send one request and wait for its reply; raise the director's error if it failed.

        Posted requests are settled first: a call never overtakes a refused definition.
        """
        self.settle()
        call_id = self._send(message)
        self._after_refusal = False
        while True:
            envelope = self._receive()
            if envelope.call_id != call_id:
                continue
            if envelope.name == "ok":
                return envelope.payload
            raise _remote_exception(envelope.payload)

    def post(self, message: wire.Perform, origin: Origin) -> None:
        """Send a request without waiting for its reply; raise a refusal seen so far."""
        if self._after_refusal and self._refused is None:
            # The plan caught the refusal and goes on: a call ends the director's refusals.
            self.call(message)
            return
        self._send(attrs.evolve(message, posted=True))
        self._posted[self._call_id] = origin
        if not self._settle_at_exit:
            atexit.register(self._settle_at_exit_or_fail)
            self._settle_at_exit = True
        while (envelope := self._receive(block=False)) is not None:
            self._take_posted(envelope)
        self._raise_refused()

    def _settle_at_exit_or_fail(self) -> None:
        """At exit, a refused definition must still fail the plan, as if raised where it was
        made: an exception in an exit handler would only be printed."""
        try:
            self.settle()
        except errors.StepUpError as exc:
            sys.stdout.flush()
            sys.excepthook(type(exc), exc, exc.__traceback__)
            sys.stderr.flush()
            os._exit(1)
        except OSError:
            pass  # The director is gone: it reports the plan itself.

    def close(self) -> None:
        """Close the connection; replies to posted requests can no longer arrive."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._posted.clear()


class DummyClient:
    """Used when no director is running: prints each call instead of sending it."""

    def call(self, message: Any) -> Any:
        fields = ", ".join(
            f"{key}={value!r}" for key, value in shared_converter().unstructure(message).items()
        )
        print(f"{type(message).__name__}({fields})", file=sys.stderr)
        return None

    def post(self, message: Any, origin: Origin) -> None:
        self.call(message)

    def settle(self) -> None:
        pass

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
