"""The director's socket server with the real client, over a real Unix socket."""

import os
import socket
import tempfile

import msgpack
import pytest
import trio

from stepup_trio import wire
from stepup_trio.client import RemoteError, SocketClient
from stepup_trio.core.actions import DefineStep
from stepup_trio.errors import GraphError, StepUpError
from stepup_trio.services.rpc import serve_rpc

PERFORMED = []


async def handler(message):
    if isinstance(message, wire.Perform):
        if message.action.command == "refuse":
            raise GraphError("Refused: refuse")
        PERFORMED.append(message.action.command)
        return f"step:{message.action.command}"
    if isinstance(message, wire.WriteGraph):
        if message.prefix == "graph-error":
            raise GraphError("Refused: graph-error")
        if message.prefix == "bug":
            raise KeyError("internal")
        return f"wrote {message.prefix}"
    return None


@pytest.fixture
async def server(nursery):
    with tempfile.TemporaryDirectory(prefix="stepup-test-") as tmp:
        path = os.path.join(tmp, "director")
        scope = trio.CancelScope()

        async def run(task_status=trio.TASK_STATUS_IGNORED):
            with scope:
                await serve_rpc(path, handler, task_status=task_status)

        await nursery.start(run)
        yield path
        scope.cancel()


async def call(path, message):
    def blocking():
        client = SocketClient(path)
        try:
            return client.call(message)
        finally:
            client.close()

    return await trio.to_thread.run_sync(blocking)


async def test_call_and_reply(server):
    assert await call(server, wire.WriteGraph("g")) == "wrote g"


async def test_errors_reach_the_client_with_their_type(server):
    with pytest.raises(GraphError, match="Refused: graph-error"):
        await call(server, wire.WriteGraph("graph-error"))


async def test_internal_error_is_reported_and_server_goes_on(server):
    with pytest.raises(StepUpError, match="Internal error in the director"):
        await call(server, wire.WriteGraph("bug"))
    assert await call(server, wire.WriteGraph("after")) == "wrote after"


async def test_invalid_payload_gets_an_error_reply(server):
    def blocking():
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(server)
            action = {"action": "DefineStep", "command": None}
            sock.sendall(msgpack.packb([7, "Perform", {"creator": 3, "action": action}]))
            unpacker = wire.new_unpacker()
            while True:
                unpacker.feed(sock.recv(65536))
                for obj in unpacker:
                    return obj

    call_id, status, payload = await trio.to_thread.run_sync(blocking)
    assert (call_id, status) == (7, "error")
    assert payload["type"] == "WireError"
    assert "Invalid Perform message" in payload["message"]
    assert "command" in payload["message"]
    assert "creator" in payload["message"]


async def test_malformed_bytes_close_only_that_connection(server):
    def blocking():
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(server)
            sock.sendall(b"\xc1\xc1\xc1 not msgpack")
            return sock.recv(100)

    assert await trio.to_thread.run_sync(blocking) == b""
    assert await call(server, wire.WriteGraph("still")) == "wrote still"


async def test_socket_removed_after_shutdown():
    with tempfile.TemporaryDirectory(prefix="stepup-test-") as tmp:
        path = os.path.join(tmp, "director")
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_rpc, path, handler)
            assert os.path.exists(path)
            nursery.cancel_scope.cancel()
        assert not os.path.exists(path)


def test_client_without_director(tmp_path):
    client = SocketClient(str(tmp_path / "nothing"))
    with pytest.raises(RemoteError, match="Cannot reach the stepup director"):
        client.call(wire.WriteGraph("g"))


def define(command: str) -> wire.Perform:
    return wire.Perform("step:./plan.py", DefineStep(command))


async def test_posted_requests_and_a_refusal(server):
    """Posted definitions are performed in order without waiting; after a refused one, the
    director performs none of the posted ones that follow, up to the next call, and the client
    raises the refusal with where it was posted."""
    PERFORMED.clear()

    def blocking():
        client = SocketClient(server)
        try:
            # The refusal is raised by a later post or, at the latest, by settle.
            with pytest.raises(GraphError, match="Refused: refuse") as info:
                for command in ("a", "b", "refuse", "c", "d"):
                    client.post(define(command), [("plan.py", 7, command)])
                client.settle()
            assert info.value.origin == [("plan.py", 7, "refuse")]
            client.settle()  # Raised once.
            # A call settles first and is performed again; so are later posts.
            assert client.call(wire.WriteGraph("g")) == "wrote g"
            client.post(define("e"), [])
            client.settle()
        finally:
            client.close()

    await trio.to_thread.run_sync(blocking)
    assert PERFORMED == ["a", "b", "e"]


async def test_a_call_raises_an_earlier_refusal_before_it_is_sent(server):
    PERFORMED.clear()

    def blocking():
        client = SocketClient(server)
        try:
            with pytest.raises(GraphError, match="Refused: refuse"):
                # The post itself raises if the refusal is back already.
                client.post(define("refuse"), [("plan.py", 3, "<module>")])
                client.call(wire.Perform("step:./plan.py", DefineStep("never")))
        finally:
            client.close()

    await trio.to_thread.run_sync(blocking)
    assert PERFORMED == []


async def test_posts_after_a_caught_refusal_are_performed(server):
    """A plan that catches a refusal and goes on defining steps gets them performed."""
    PERFORMED.clear()

    def blocking():
        client = SocketClient(server)
        try:
            with pytest.raises(GraphError):
                client.post(define("refuse"), [])
                client.post(define("lost"), [])  # Posted before the refusal was seen.
                client.settle()
            client.post(define("f"), [])
            client.post(define("g"), [])
            client.settle()
        finally:
            client.close()

    await trio.to_thread.run_sync(blocking)
    assert PERFORMED in (["f", "g"], ["lost", "f", "g"])


def test_director_closes_while_requests_are_posted(tmp_path):
    """The director goes away before it answers: the client says so once, and settling again
    (as at the plan's exit) finds nothing left to wait for, instead of failing inside."""
    path = str(tmp_path / "director")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen()
        client = SocketClient(path)
        try:
            client.post(define("a"), [("plan.py", 1, "<module>")])
            connection, _ = listener.accept()
            connection.close()
            with pytest.raises(RemoteError, match="closed the connection"):
                client.settle()
            client.settle()
        finally:
            client.close()
