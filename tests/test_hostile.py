"""Hostile or broken plans with the real ``stepup -n``: awkward file names, many steps, a flood
of output, garbage on the director's socket, daemons, and paths that leave the root.

Each test builds a small project in ``tmp_path`` and checks that the build neither crashes nor
leaves anything behind: a clear exit code, no traceback, correct output files.
"""

import json
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import STEPUP, clean_env, pid_alive, wait_for, write_plan

from stepup_trio.wire import MAX_MESSAGE_SIZE


def no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


def run_bytes(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Like ``run_stepup``, but file names that are not UTF-8 may appear in the output."""
    return subprocess.run(
        [STEPUP, *(args or ("-n", "-w2"))],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def build(folder: Path, *args: str, timeout: float = 120):
    result = run_bytes(folder, *args, timeout=timeout)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    no_traceback(result)
    return result


def started(result) -> list[str]:
    return re.findall(r"START │ (.*)", result.stdout)


def path_arg(name: str) -> str:
    """A file name as a path argument of the API: ``$`` is written ``$$`` there."""
    return name.replace("$", "$$")


def command_arg(*names: str, template: str) -> str:
    """A shell command with the names quoted; ``$`` becomes ``$$`` for the command template."""
    quoted = [shlex.quote(name).replace("$", "$$") for name in names]
    return template.format(*quoted)


# File names with characters that need quoting


HOSTILE_NAMES = {
    "space": "with space.txt",
    "quotes": 'it\'s "quoted".txt',
    "dollar": "cost$HOME$$.txt",
    "newline": "new\nline.txt",
    "non_utf8": os.fsdecode(b"bad\xff\xfe.txt"),
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_hostile_file_names(tmp_path, name):
    """A static input and two generations of outputs, all with the awkward name."""
    (tmp_path / "src").mkdir()
    source = os.path.join("src", name)
    copy = "copy " + name
    final = "final " + name
    with open(os.fsencode(tmp_path / source), "wb") as fh:
        fh.write(b"payload\n")
    write_plan(
        tmp_path,
        f"""
        from stepup.core.api import static, step
        static({path_arg("src/")!r}, {path_arg(source)!r})
        step({command_arg(source, copy, template="cp {} {}")!r},
             inp={path_arg(source)!r}, out={path_arg(copy)!r})
        step({command_arg(copy, final, template="cat {} > {}")!r},
             inp={path_arg(copy)!r}, out={path_arg(final)!r})
        """,
    )
    build(tmp_path)
    with open(os.fsencode(tmp_path / final), "rb") as fh:
        assert fh.read() == b"payload\n"

    # A second run skips everything; a change of the input reruns both steps.
    assert started(build(tmp_path)) == []
    with open(os.fsencode(tmp_path / source), "wb") as fh:
        fh.write(b"changed\n")
    assert len(started(build(tmp_path))) == 2
    with open(os.fsencode(tmp_path / final), "rb") as fh:
        assert fh.read() == b"changed\n"


# Many steps


NUM_MANY = 2000


def test_many_steps_from_one_plan(tmp_path):
    write_plan(
        tmp_path,
        f"""
        from stepup.core.api import step
        for i in range({NUM_MANY}):
            step(f"echo {{i}} > o{{i}}.txt", out=f"o{{i}}.txt")
        """,
    )
    result = build(tmp_path, "-n", "-w2", timeout=300)
    assert result.stdout.count("   SUCCESS │ echo ") == NUM_MANY
    assert "FAIL" not in result.stdout
    for i in range(0, NUM_MANY, 97):
        assert (tmp_path / f"o{i}.txt").read_text() == f"{i}\n"
    assert (tmp_path / f"o{NUM_MANY - 1}.txt").read_text() == f"{NUM_MANY - 1}\n"


# A flood of standard output


FLOOD_SIZE = 20_000_000
FLOOD_COMMAND = (
    f"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {FLOOD_SIZE}; echo ok > flood.txt"
)


@pytest.fixture(scope="module")
def flood_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flood")
    write_plan(
        folder,
        f"""
        from stepup.core.api import step
        step({FLOOD_COMMAND!r}, out="flood.txt")
        step("cp flood.txt after.txt", inp="flood.txt", out="after.txt")
        """,
    )
    result = run_bytes(folder, "-n", "-w2", timeout=300)
    return folder, result


def test_flood_of_stdout_does_not_crash(flood_run):
    folder, result = flood_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    no_traceback(result)
    assert (folder / "after.txt").read_text() == "ok\n"
    assert "  DIRECTOR │ See you!" in result.stdout


def test_flood_of_stdout_is_truncated_in_the_report(flood_run):
    _, result = flood_run
    assert len(result.stdout) < 1_000_000, len(result.stdout)


# Garbage on the director's socket

SOCKET_PLAN = r"""
import json
import os
import socket
import struct

import msgpack

from stepup.core.api import step

PATH = os.environ["STEPUP_DIRECTOR_SOCKET"]
log = {}


def exchange(name, data, expect_reply):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(15)
        sock.connect(PATH)
        try:
            sock.sendall(data)
        except OSError as exc:
            log[name] = f"send: {type(exc).__name__}"
            return
        if not expect_reply:
            # Close without waiting: the director may wait for the rest of a message.
            log[name] = "sent"
            return
        unpacker = msgpack.Unpacker(raw=False)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    log[name] = "closed"
                    return
                unpacker.feed(chunk)
                for obj in unpacker:
                    log[name] = obj
                    return
        except OSError as exc:
            log[name] = f"recv: {type(exc).__name__}"


exchange("malformed", b"\xc1\xc1\xc1 not msgpack at all", True)
exchange("random", bytes(range(256)) * 64, True)
# A bin32 header that announces 4 GiB, far above MAX_MESSAGE_SIZE, followed by a little data.
exchange("oversized_header", b"\xc6" + struct.pack(">I", 0xFFFFFFF0) + b"x" * 100_000, False)
# A map32 header that announces 4 billion entries.
exchange("oversized_map", b"\xdf" + struct.pack(">I", 0xFFFFFFF0), False)
# Deep nesting: 100000 nested one-element arrays.
exchange("deep", b"\x91" * 100_000 + b"\xc0", True)
# 1 MB of a valid msgpack envelope with a schema error.
big = msgpack.packb([1, "Perform", {"creator": "x" * 1_000_000, "action": 5}])
exchange("invalid_big", big, True)
exchange("not_a_list", msgpack.packb(5), True)
exchange("unknown", msgpack.packb([2, "Nonsense", {}]), True)
exchange("bad_key", msgpack.packb([3, "WriteGraph", {1: 2}]), True)
exchange(
    "wrong_creator",
    msgpack.packb(
        [4, "Perform",
         {"creator": "step:no such step", "action": {"action": "DeclareStatic", "paths": ["x"]}}]
    ),
    True,
)
# Half a message, then the connection closes.
exchange("truncated", msgpack.packb([5, "WriteGraph", {"prefix": "g"}])[:-3], False)

with open("replies.json", "w") as fh:
    json.dump({key: repr(value) for key, value in log.items()}, fh, indent=2)

step("echo after > after.txt", out="after.txt")
"""


def test_plan_sends_garbage_to_the_socket(tmp_path):
    write_plan(tmp_path, SOCKET_PLAN)
    result = build(tmp_path, timeout=180)
    assert (tmp_path / "after.txt").read_text() == "after\n"
    assert "   SUCCESS │ ./plan.py" in result.stdout
    replies = (tmp_path / "replies.json").read_text()
    # Bytes that are not msgpack close only that connection.
    assert '"malformed": "\'closed\'"' in replies, replies
    # Requests that are well-formed msgpack get an error reply, and the director lives on.
    for name in ("invalid_big", "not_a_list", "unknown", "wrong_creator"):
        assert f'"{name}": "[' in replies, replies
        assert "'error'" in replies.split(f'"{name}"')[1].split("\n")[0], replies


# A step that leaves a process behind


def run_or_kill(folder: Path, timeout: float):
    """Run stepup in a session of its own; kill it when it does not end within ``timeout``."""
    process = subprocess.Popen(
        [STEPUP, "-n", "-w2"],
        cwd=folder,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr


def kill_recorded(path: Path) -> None:
    if path.exists() and path.read_text().strip():
        pid = int(path.read_text().split()[0])
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "redirect",
    [
        pytest.param(" > /dev/null 2>&1", id="redirected"),
        pytest.param("", id="inherits_pipes"),
    ],
)
def test_step_daemon_is_killed(tmp_path, redirect):
    write_plan(
        tmp_path,
        f"""
        from stepup.core.api import step
        step("sleep 300{redirect} & echo $! > daemon.pid", out="daemon.pid")
        step("cp daemon.pid after.txt", inp="daemon.pid", out="after.txt")
        """,
    )
    pid_file = tmp_path / "daemon.pid"
    try:
        returncode, stdout, stderr = run_or_kill(tmp_path, timeout=10)
        assert returncode == 0, stdout + stderr
        assert "Traceback" not in stdout + stderr
        pid = int(pid_file.read_text())
        assert wait_for(lambda: not pid_alive(pid), timeout=10), f"daemon {pid} survived"
        assert (tmp_path / "after.txt").exists()
    finally:
        kill_recorded(pid_file)


# Paths that leave the root


ANNOUNCE_PLAN = r"""
import json
import os
import socket
import struct

import msgpack

from stepup.core.api import step

with socket.socket(socket.AF_UNIX) as sock:
    sock.settimeout(5)
    sock.connect(os.environ["STEPUP_DIRECTOR_SOCKET"])
    # A request [9, "WriteGraph", <bin32>] whose bin32 header announces 4 GiB, far above
    # wire.MAX_MESSAGE_SIZE (64 MiB), followed by a little of that data.
    header = b"\x93\x09" + msgpack.packb("WriteGraph") + b"\xc6" + struct.pack(">I", 0xFFFFFFF0)
    sock.sendall(header + b"x" * 1000)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
        end = "closed"
    except ConnectionResetError:
        # The director closed the connection with our unread bytes in it.
        end = "closed"
    except TimeoutError:
        end = "still buffering"
unpacker = msgpack.Unpacker(raw=False)
unpacker.feed(data)
with open("outcome.json", "w") as fh:
    json.dump({"end": end, "replies": list(unpacker)}, fh)
step("echo after > after.txt", out="after.txt")
"""


def test_announced_oversized_message_is_refused_at_once(tmp_path):
    write_plan(tmp_path, ANNOUNCE_PLAN)
    build(tmp_path, timeout=60)
    assert (tmp_path / "after.txt").read_text() == "after\n"
    outcome = json.loads((tmp_path / "outcome.json").read_text())
    # An error reply to the request (its call id read from the header), then the end.
    assert outcome["end"] == "closed", outcome
    [[call_id, status, payload]] = outcome["replies"]
    assert (call_id, status, payload["type"]) == (9, "error", "WireError"), outcome
    assert payload["message"].startswith("Message too large: it announces at least "), outcome
    assert payload["message"].endswith(
        f"more than the limit of {MAX_MESSAGE_SIZE} bytes for one message."
    )


def test_static_input_outside_the_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("outside 1\n")
    write_plan(
        root,
        f"""
        from stepup.core.api import static, step
        static("../outside.txt", "../../{tmp_path.name}/", "../../{tmp_path.name}/outside.txt")
        step("cat ../outside.txt > copy.txt", inp="../outside.txt", out="copy.txt")
        step("cat ../../{tmp_path.name}/outside.txt > far.txt",
             inp="../../{tmp_path.name}/outside.txt", out="far.txt")
        """,
    )
    build(root)
    assert (root / "copy.txt").read_text() == "outside 1\n"
    assert (root / "far.txt").read_text() == "outside 1\n"
    assert started(build(root)) == []
    outside.write_text("outside 2\n")
    result = build(root)
    assert sorted(started(result)) == sorted(
        ["cat ../outside.txt > copy.txt", f"cat ../../{tmp_path.name}/outside.txt > far.txt"]
    )
    assert (root / "copy.txt").read_text() == "outside 2\n"

    # Dropping the steps and the static declaration never touches the file outside the root.
    write_plan(
        root,
        """
        from stepup.core.api import step
        step("echo alone > alone.txt", out="alone.txt")
        """,
    )
    build(root)
    assert outside.read_text() == "outside 2\n"
    assert not (root / "copy.txt").exists()


def test_symlink_input_outside_the_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    target = tmp_path / "target.txt"
    target.write_text("target 1\n")
    (root / "link.txt").symlink_to(target)
    write_plan(
        root,
        """
        from stepup.core.api import static, step
        static("link.txt")
        step("cat link.txt > copy.txt", inp="link.txt", out="copy.txt")
        """,
    )
    build(root)
    assert (root / "copy.txt").read_text() == "target 1\n"
    assert started(build(root)) == []
    # A change of the target, not of the link, must rerun the step.
    target.write_text("target 2, longer\n")
    assert started(build(root)) == ["cat link.txt > copy.txt"]
    assert (root / "copy.txt").read_text() == "target 2, longer\n"

    # Dropping everything removes the output, never the link's target.
    write_plan(root, "from stepup.core.api import step\n")
    build(root)
    assert target.read_text() == "target 2, longer\n"
    assert (root / "link.txt").is_symlink()
