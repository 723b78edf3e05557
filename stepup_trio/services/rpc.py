"""The director's Unix-socket server for plan scripts, steps and interactive clients.

The socket lives in a private directory (mode 0700) and only peers with the director's own user
id are served. Each connection is read as a stream of msgpack envelopes; each request is
validated by the wire converter, handled, and answered in order.
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

__all__ = ["serve_rpc"]

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[Any]]


def _peer_uid(sock: trio.socket.SocketType) -> int | None:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[1]


async def _serve_connection(stream: trio.SocketStream, handler: Handler) -> None:
    uid = _peer_uid(stream.socket)
    if uid is not None and uid != os.getuid():
        logger.warning("Refused a connection from user id %s", uid)
        await stream.aclose()
        return
    unpacker = wire.new_unpacker()
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
                objects = list(unpacker)
            except Exception as exc:  # msgpack raises several unrelated types
                logger.warning("Closing a connection that sent malformed data: %s", exc)
                return
            for obj in objects:
                reply = await _answer(obj, handler)
                try:
                    await stream.send_all(reply)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return


async def _answer(obj: Any, handler: Handler) -> bytes:
    call_id = obj[0] if isinstance(obj, list) and obj and isinstance(obj[0], int) else 0
    try:
        envelope = wire.decode(obj)
    except wire.WireError as exc:
        return wire.encode_reply(call_id, False, {"type": "WireError", "message": str(exc)})
    try:
        result = await handler(envelope.payload)
    except StepUpError as exc:
        return wire.encode_reply(call_id, False, {"type": type(exc).__name__, "message": str(exc)})
    except Exception as exc:
        # A bug in the director must not take the build down: log it and tell the client.
        logger.exception("Internal error while handling %s", envelope.name)
        message = f"Internal error in the director while handling {envelope.name}: {exc!r}"
        return wire.encode_reply(call_id, False, {"type": "StepUpError", "message": message})
    return wire.encode_reply(call_id, True, result)


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
