"""The director's socket: oversized messages are refused at once, other users are refused.

In-process tests of the RPC server (as in tests/test_rpc.py) and an end-to-end test in which a
process of another user connects to the socket of a running ``stepup``.
"""

import fcntl
import os
import pwd
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import pytest
import trio
from helpers import run_stepup, start_stepup, wait_for, write_plan

from stepup_trio import wire
from stepup_trio.services import rpc
from stepup_trio.services.rpc import SizeGuard, serve_rpc

# The guard, chunk by chunk

# A request with strings, binaries and extensions of each size class, nested in maps and arrays.
SAMPLE = msgpack.packb(
    [
        300,
        "WriteGraph",
        {
            "prefix": "p" * 40,
            "str8": "s" * 200,
            "str16": "t" * 70_000,
            "bin8": b"b" * 200,
            "bin16": b"c" * 1000,
            "bin32": b"d" * 70_000,
            "ext": [msgpack.ExtType(5, b"e" * n) for n in (1, 2, 4, 8, 16, 3, 300, 70_000)],
            "numbers": [1, -1, 200, 70_000, 2**40, -(2**40), 1.5, None, True, False],
        },
    ],
    use_bin_type=True,
)


def feed_in_chunks(guard: SizeGuard, data: bytes, size: int) -> str | None:
    for start in range(0, len(data), size):
        problem = guard.feed(data[start : start + size])
        if problem is not None:
            return problem
    return None


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 65536, 1 << 20])
def test_guard_follows_a_message_in_any_chunks(size):
    guard = SizeGuard(limit=len(SAMPLE))
    assert feed_in_chunks(guard, SAMPLE, size) is None
    assert guard.size == len(SAMPLE)
    assert guard.call_id == 300
    # One byte less of room: refused, at the header of the big string at the latest.
    guard = SizeGuard(limit=len(SAMPLE) - 1)
    assert feed_in_chunks(guard, SAMPLE, size).startswith("Message too large")


@pytest.mark.parametrize(
    "header",
    [
        b"\xdb" + struct.pack(">I", 1000),  # str 32
        b"\xc6" + struct.pack(">I", 1000),  # bin 32
        b"\xc9" + struct.pack(">I", 1000) + b"\x05",  # ext 32
        b"\xda" + struct.pack(">H", 1000),  # str 16
    ],
    ids=["str32", "bin32", "ext32", "str16"],
)
def test_guard_refuses_at_the_header(header):
    guard = SizeGuard(limit=999)
    envelope = b"\x93\xcd\x01\x02" + msgpack.packb("Perform") + b"\x81\xa1k\x91"
    assert guard.feed(envelope) is None
    # Nothing of the announced data has arrived: the header alone is enough to refuse.
    problem = guard.feed(header)
    assert problem == (
        f"Message too large: it announces at least {len(envelope) + len(header) + 1000} bytes, "
        "more than the limit of 999 bytes for one message."
    )
    assert guard.call_id == 0x0102


# The server


async def echo(message):
    if isinstance(message, wire.WriteGraph):
        return f"wrote {len(message.prefix)}"
    return None


@pytest.fixture
async def server(nursery):
    with tempfile.TemporaryDirectory(prefix="stepup-test-") as tmp:
        path = os.path.join(tmp, "director")
        scope = trio.CancelScope()

        async def run(task_status=trio.TASK_STATUS_IGNORED):
            with scope:
                await serve_rpc(path, echo, task_status=task_status)

        await nursery.start(run)
        yield path
        scope.cancel()


def exchange(
    path: str, pieces: list[bytes], timeout: float = 10, expect: int | None = None
) -> tuple[list, str]:
    """Send the pieces one by one, then read the replies.

    Reading ends when the server closes the connection ("closed"), or when it stays quiet for
    ``timeout`` seconds or ``expect`` replies came ("open").
    """
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        unpacker = msgpack.Unpacker(raw=False)
        replies = []
        try:
            for piece in pieces:
                sock.sendall(piece)
            while chunk := sock.recv(65536):
                unpacker.feed(chunk)
                replies.extend(unpacker)
                if expect is not None and len(replies) >= expect:
                    return replies, "open"
            end = "closed"
        except (BrokenPipeError, ConnectionResetError):
            end = "closed"
        except TimeoutError:
            end = "open"
        return replies, end


async def test_server_refuses_an_announced_oversized_message_at_once(server):
    # A request [7, "WriteGraph", {"prefix": <str32 of 100 MiB>}], of which only a bit arrives.
    header = b"\x93\x07" + msgpack.packb("WriteGraph") + b"\x81" + msgpack.packb("prefix")
    header += b"\xdb" + struct.pack(">I", 100 << 20)
    replies, end = await trio.to_thread.run_sync(exchange, server, [header + b"x" * 1000], 5)
    assert end == "closed"
    [[call_id, status, payload]] = replies
    assert (call_id, status, payload["type"]) == (7, "error", "WireError")
    assert payload["message"].startswith("Message too large")
    assert str(wire.MAX_MESSAGE_SIZE) in payload["message"]


async def test_server_answers_a_message_that_arrives_in_pieces(server):
    # Two requests; the second is big and arrives in many pieces, the first with its start.
    first = wire.encode(1, wire.WriteGraph("a" * 10))
    second = wire.encode(2, wire.WriteGraph("b" * 3_000_000))
    data = first + second
    pieces = [data[: len(first) + 7]] + [
        data[start : start + 65_000] for start in range(len(first) + 7, len(data), 65_000)
    ]
    replies, end = await trio.to_thread.run_sync(exchange, server, pieces, 10, 2)
    assert replies == [[1, "ok", "wrote 10"], [2, "ok", "wrote 3000000"]]
    assert end == "open"


async def test_server_refuses_another_user(server, monkeypatch):
    # The server believes it runs as another user than this test, its peer.
    real_uid = os.getuid()
    monkeypatch.setattr(rpc.os, "getuid", lambda: real_uid + 1)
    request = wire.encode(1, wire.WriteGraph("x"))
    replies, end = await trio.to_thread.run_sync(exchange, server, [request], 5)
    assert (replies, end) == ([], "closed")
    monkeypatch.undo()
    replies, end = await trio.to_thread.run_sync(exchange, server, [request], 10, 1)
    assert replies == [[1, "ok", "wrote 1"]]


# Another user on the socket of a running stepup

CLIENT = r"""
import fcntl
import os
import socket
import sys

import msgpack

path, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if uid >= 0:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
with socket.socket(socket.AF_UNIX) as sock:
    sock.settimeout(10)
    sock.connect(path)
    unpacker = msgpack.Unpacker(raw=False)
    try:
        sock.sendall(msgpack.packb([1, "Nonsense", {}]))
        while chunk := sock.recv(65536):
            unpacker.feed(chunk)
            for reply in unpacker:
                print("reply", reply)
                sys.exit()
        print("closed")
    except (BrokenPipeError, ConnectionResetError):
        print("closed")
    except TimeoutError:
        print("timeout")
"""

PLAN = """
import fcntl
import os
import time

from stepup.core.api import step

open("ready", "w").close()
deadline = time.monotonic() + 60
while not os.path.exists("go") and time.monotonic() < deadline:
    time.sleep(0.05)
step("echo after > after.txt", out="after.txt")
"""


def connect_as(path: str, uid: int, gid: int) -> str:
    """Connect from a process that becomes user ``uid`` after Python started (-1: stays)."""
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, path, str(uid), str(gid)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_another_user_is_refused_while_the_build_goes_on(tmp_path):
    try:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    except KeyError:
        uid = gid = 65534
    write_plan(tmp_path, PLAN)
    process = start_stepup(tmp_path, "-n", "-w2")
    try:
        assert wait_for(lambda: (tmp_path / "ready").exists(), timeout=60)
        log = (tmp_path / ".stepup/director.log").read_text()
        path = log.splitlines()[0].removeprefix("SOCKET ")
        # Open up the private folder and the socket, as if the first defence had failed:
        # the user id check must still refuse the other user.
        os.chmod(os.path.dirname(path), 0o711)
        os.chmod(path, 0o777)
        # The same user gets an (error) reply; the other user gets nothing, and is closed.
        same = connect_as(path, -1, -1)
        assert same.startswith("reply [1, 'error', {'type': 'WireError'"), same
        assert connect_as(path, uid, gid) == "closed"
        (tmp_path / "go").write_text("")
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stdout + stderr
    assert (tmp_path / "after.txt").read_text() == "after\n"
    log = Path(tmp_path / ".stepup/director.log").read_text()
    assert f"Refused a connection from user id {uid}" in log


def test_socket_folders_of_killed_directors_are_removed(tmp_path):
    """SIGKILL leaves a director's private socket folder behind; the next stepup removes the
    ones whose director is gone (nobody holds their lock), and leaves every other folder alone:
    also that of a stepup that has bound its socket but does not listen yet."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def private(name: str, listen: bool | None, lock: bool | None = None) -> Path:
        """A private folder with a socket (listening, bound only, or none) and a lock file
        (held by this test, left unlocked, or none)."""
        folder = tmp / name
        folder.mkdir(mode=0o700)
        if lock is not None:
            fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            if lock:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held.append(fd)
            else:
                os.close(fd)
        if listen is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(str(folder / "director"))
            if listen:
                sock.listen()
            sockets.append(sock)
        return folder

    held, sockets = [], []
    # Killed directors: an unlocked lock, or (an earlier version) no lock and an old folder.
    stale = private("stepup-stale", listen=False, lock=False)
    legacy = private("stepup-legacy", listen=False)
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    for sock in sockets:
        sock.close()
    sockets.clear()
    # Alive: bound but not listening yet while holding its lock; listening; being created.
    starting = private("stepup-starting", listen=False, lock=True)
    live = private("stepup-live", listen=True)
    young = private("stepup-young", listen=False)
    empty = private("stepup-empty", listen=None)
    other = tmp / "unrelated"
    other.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    write_plan(project, "from stepup.core.api import step\nstep('true')\n")
    try:
        result = run_stepup(project, TMPDIR=str(tmp))
    finally:
        for sock in sockets:
            sock.close()
        for fd in held:
            os.close(fd)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not stale.exists() and not legacy.exists()
    for folder in starting, live, young, empty, other:
        assert folder.exists(), folder
    # The folder of the run itself is gone too, as after every normal exit.
    assert sorted(path.name for path in tmp.iterdir()) == [
        "stepup-empty",
        "stepup-live",
        "stepup-starting",
        "stepup-young",
        "unrelated",
    ]
