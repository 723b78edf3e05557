"""The director's Unix-socket server for plan scripts, steps and interactive clients.

The socket lives in a private directory (mode 0700) and only peers with the director's own user
id are served. Each connection is read as a stream of msgpack envelopes; each request is
validated by the wire converter, handled, and answered in order.

A message may not exceed :data:`stepup_trio.wire.MAX_MESSAGE_SIZE`. msgpack announces the length
of every string, binary and extension before its data, but checks that length only once all
the data is there; a :class:`SizeGuard` reads the headers of an incomplete message as they
arrive, so that a message that announces too much is refused at once, with an error reply,
instead of being buffered up to the limit.
"""

import contextlib
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from stepup_trio import wire
from stepup_trio.errors import StepUpError

__all__ = ["SizeGuard", "serve_rpc"]

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[Any]]


def _peer_uid(sock: trio.socket.SocketType) -> int | None:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]


# The layout of a msgpack token, by its first byte: (size of the header, offset and size of the
# big-endian length in the header, size of a fixed payload). Only strings, binaries and
# extensions announce a length; msgpack itself refuses arrays and maps that announce too many
# elements as soon as it reads their header.
def _layout(first: int) -> tuple[int, int, int, int]:
    if 0xA0 <= first <= 0xBF:  # fixstr
        return 1, 0, 0, first & 0x1F
    return _LAYOUTS.get(first, (1, 0, 0, 0))


_LAYOUTS = {
    0xC4: (2, 1, 1, 0),  # bin 8
    0xC5: (3, 1, 2, 0),  # bin 16
    0xC6: (5, 1, 4, 0),  # bin 32
    0xC7: (3, 1, 1, 0),  # ext 8: length, then the type byte
    0xC8: (4, 1, 2, 0),  # ext 16
    0xC9: (6, 1, 4, 0),  # ext 32
    0xCA: (5, 0, 0, 0),  # float 32
    0xCB: (9, 0, 0, 0),  # float 64
    0xCC: (2, 0, 0, 0),  # uint 8
    0xCD: (3, 0, 0, 0),  # uint 16
    0xCE: (5, 0, 0, 0),  # uint 32
    0xCF: (9, 0, 0, 0),  # uint 64
    0xD0: (2, 0, 0, 0),  # int 8
    0xD1: (3, 0, 0, 0),  # int 16
    0xD2: (5, 0, 0, 0),  # int 32
    0xD3: (9, 0, 0, 0),  # int 64
    0xD4: (2, 0, 0, 1),  # fixext 1
    0xD5: (2, 0, 0, 2),  # fixext 2
    0xD6: (2, 0, 0, 4),  # fixext 4
    0xD7: (2, 0, 0, 8),  # fixext 8
    0xD8: (2, 0, 0, 16),  # fixext 16
    0xD9: (2, 1, 1, 0),  # str 8
    0xDA: (3, 1, 2, 0),  # str 16
    0xDB: (5, 1, 4, 0),  # str 32
    0xDC: (3, 0, 0, 0),  # array 16
    0xDD: (5, 0, 0, 0),  # array 32
    0xDE: (3, 0, 0, 0),  # map 16
    0xDF: (5, 0, 0, 0),  # map 32
}


class SizeGuard:
    """Follows the headers of one incomplete message, chunk by chunk, without keeping its data.

    ``feed`` returns a reason to refuse the message as soon as a header announces more data
    than ``limit`` bytes in all. The payloads are skipped, not read, so each byte costs nothing
    and a complete message that arrives in one piece is never looked at (see
    :func:`_serve_connection`).
    """

    def __init__(self, limit: int = wire.MAX_MESSAGE_SIZE) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        """The next byte fed starts a new message."""
        self.size = 0  # bytes of the message seen so far
        self.skip = 0  # bytes of a payload still to come
        self.head = b""  # an incomplete header
        self.tokens = 0
        #: The call id of the message, once its first two tokens are known (0 until then).
        self.call_id = 0

    def feed(self, data: bytes) -> str | None:
        if self.head:
            data = self.head + data
            self.size -= len(self.head)
            self.head = b""
        i, end = 0, len(data)
        while i < end:
            if self.skip:
                step = min(self.skip, end - i)
                self.skip -= step
                self.size += step
                i += step
                continue
            first = data[i]
            header, offset, width, payload = _layout(first)
            if i + header > end:
                self.head = data[i:]
                self.size += end - i
                return None
            if width:
                payload = int.from_bytes(data[i + offset : i + offset + width], "big")
            if self.tokens == 1 and first <= 0x7F:
                self.call_id = first
            elif self.tokens == 1 and 0xCC <= first <= 0xCF:
                self.call_id = int.from_bytes(data[i + 1 : i + header], "big")
            self.tokens += 1
            self.size += header
            i += header
            if self.size + payload > self.limit:
                return (
                    f"Message too large: it announces at least {self.size + payload} bytes, "
                    f"more than the limit of {self.limit} bytes for one message."
                )
            self.skip = payload
        return None


async def _serve_connection(stream: trio.SocketStream, handler: Handler) -> None:
    uid = _peer_uid(stream.socket)
    if uid is not None and uid != os.getuid():
        logger.warning("Refused a connection from user id %s", uid)
        await stream.aclose()
        return
    unpacker = wire.new_unpacker()
    guard = SizeGuard()
    posting = Posting()
    received = 0  # bytes received on this connection
    boundary = 0  # where the first incomplete message starts
    async with stream:
        while True:
            try:
                data = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return
            if not data:
                return
            try:
                unpacker.feed(data)
                objects = []
                for obj in unpacker:
                    objects.append(obj)
                    boundary = unpacker.tell()
            except Exception as exc:  # msgpack raises several unrelated types
                logger.warning("Closing a connection that sent malformed data: %s", exc)
                return
            before, received = received, received + len(data)
            # Only the headers of an incomplete message are followed, from where it starts.
            problem = None
            if boundary == received:
                guard.reset()
            elif boundary > before:
                guard.reset()
                problem = guard.feed(data[boundary - before :])
            else:
                problem = guard.feed(data)
            # Posted requests come in bursts: their replies go back in one write.
            replies = [await posting.answer(obj, handler) for obj in objects]
            if replies:
                try:
                    await stream.send_all(b"".join(replies))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
            if problem is not None:
                logger.warning("Closing a connection: %s", problem)
                reply = wire.encode_reply(
                    guard.call_id, False, {"type": "WireError", "message": problem}
                )
                with (
                    trio.move_on_after(1),
                    contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
                ):
                    await stream.send_all(reply)
                return


class Posting:
    """The posted requests of one connection (see stepup_trio.wire.Perform): after a refused
    one, those that follow are refused too, unperformed, up to the next request that is not
    posted. The client had gone on without waiting; it will raise the first refusal."""

    def __init__(self) -> None:
        self.refusing = False

    async def answer(self, obj: Any, handler: Handler) -> bytes:
        call_id = obj[0] if isinstance(obj, list) and obj and isinstance(obj[0], int) else 0
        try:
            envelope = wire.decode(obj)
        except wire.WireError as exc:
            return wire.encode_reply(call_id, False, {"type": "WireError", "message": str(exc)})
        posted = getattr(envelope.payload, "posted", False) is True
        if posted and self.refusing:
            return wire.encode_reply(call_id, False, NOT_PERFORMED)
        self.refusing = False
        reply, ok = await _answer(envelope, handler)
        self.refusing = posted and not ok
        return reply


#: The reply to a posted request after a refused one.
NOT_PERFORMED = {
    "type": "StepUpError",
    "message": "Not performed: an earlier request of this plan was refused.",
}


async def _answer(envelope: wire.Envelope, handler: Handler) -> tuple[bytes, bool]:
    """The reply to a request, and whether the request succeeded."""
    call_id = envelope.call_id
    try:
        result = await handler(envelope.payload)
    except StepUpError as exc:
        error = {"type": type(exc).__name__, "message": str(exc)}
        return wire.encode_reply(call_id, False, error), False
    except Exception as exc:
        # A bug in the director must not take the build down: log it and tell the client.
        logger.exception("Internal error while handling %s", envelope.name)
        message = f"Internal error in the director while handling {envelope.name}: {exc!r}"
        return wire.encode_reply(call_id, False, {"type": "StepUpError", "message": message}), False
    return wire.encode_reply(call_id, True, result), True


async def serve_rpc(path: str, handler: Handler, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Listen on the Unix socket ``path`` until cancelled, then remove the socket file."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(path)
        sock.listen(128)
        listener = trio.SocketListener(sock)
        async with trio.open_nursery() as nursery:
            await nursery.start(
                trio.serve_listeners, lambda stream: _serve_connection(stream, handler), [listener]
            )
            task_status.started()
    finally:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
