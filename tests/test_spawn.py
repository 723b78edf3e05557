"""A command started without the shell must look exactly as if the shell had started it.

Each command runs twice in a real worker process, once with direct starts and once with
``STEPUP_DIRECT_START=0`` (always ``/bin/sh -c``), and the exit code, standard output and
standard error must be the same. A probe program tells which way it was started, so that the
comparison cannot pass by accident with both workers using the shell.
"""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stepup_trio import wire
from stepup_trio.spawn import SHELL, Launcher, find_program, plain_words, shell_pwd, shell_status

DASH = os.path.basename(os.path.realpath(SHELL)) == "dash"
needs_dash = pytest.mark.skipif(not DASH, reason="direct starts imitate dash, /bin/sh here")
PYTHON = sys.executable


class WorkerProcess:
    """A real ``python -m stepup_trio.worker`` in a folder, driven over its pipes."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [PYTHON, "-m", "stepup_trio.worker"],
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.unpacker = wire.new_unpacker()

    def run(self, command: str, workdir: str = "./") -> wire.JobFinished:
        job = wire.RunJob(
            key=f"step:{command}",
            command=command,
            workdir=workdir,
            env={"STEPUP_STEP_KEY": f"step:{command}", "HERE": ".", "ROOT": "."},
            inputs=[],
            outputs=[],
        )
        self.process.stdin.write(wire.encode(0, job))
        self.process.stdin.flush()
        while True:
            for obj in self.unpacker:
                message = wire.decode(obj).payload
                if isinstance(message, wire.JobFinished):
                    return message
            data = os.read(self.process.stdout.fileno(), 65536)
            assert data, "the worker exited"
            self.unpacker.feed(data)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def write_program(path: Path, body: str, shebang: str = f"#!{PYTHON}") -> None:
    path.write_text(shebang + "\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)


#: How a program learns whether a shell started it: the name of its parent process.
PARENT_PROBE = """
import os
with open(f"/proc/{os.getppid()}/comm") as fh:
    print(fh.read().strip())
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "in.txt").write_text("some input\n")
    (tmp_path / "bin").mkdir()
    write_program(tmp_path / "parent", PARENT_PROBE)
    write_program(tmp_path / "bin/exit3", "import sys\nprint('out')\nsys.exit(3)")
    write_program(
        tmp_path / "bin/both", "import sys\nprint('to out')\nprint('to err', file=sys.stderr)"
    )
    write_program(tmp_path / "bin/args", "import sys\nprint(sys.argv)")
    for name, signum in (
        ("abort", "SIGABRT"),
        ("segv", "SIGSEGV"),
        ("term", "SIGTERM"),
        ("int", "SIGINT"),
        ("pipe", "SIGPIPE"),
        ("kill", "SIGKILL"),
        ("usr1", "SIGUSR1"),
    ):
        write_program(
            tmp_path / f"bin/{name}",
            f"""
            import os, signal, sys
            print("before", flush=True)
            signal.signal(signal.{signum}, signal.SIG_DFL)
            os.kill(os.getpid(), signal.{signum})
            """,
        )
    # A script without a shebang: the shell runs it itself.
    (tmp_path / "bin/noshebang").write_text("echo from a script without shebang\nexit 4\n")
    (tmp_path / "bin/noshebang").chmod(0o755)
    # Not executable: the shell says "Permission denied".
    (tmp_path / "bin/noexec").write_text("#!/bin/sh\necho never\n")
    (tmp_path / "bin/noexec").chmod(0o644)
    # A program that exists only in the folder, found through an empty PATH entry.
    write_program(tmp_path / "local-only", "print('local program')")
    return tmp_path


def worker_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPUP_")}
    env["PATH"] = f"{folder / 'bin'}:/usr/bin:/bin"
    env.update(extra)
    return env


@pytest.fixture
def workers(folder: Path):
    """Two workers with the same environment: direct starts on, and off."""
    env = worker_env(folder, **{"NOT-A-NAME": "dropped by dash", "PWD": "/nowhere"})
    direct = WorkerProcess(folder, env)
    shell = WorkerProcess(folder, {**env, "STEPUP_DIRECT_START": "0"})
    yield direct, shell
    direct.close()
    shell.close()


def normalized(command: str, stdout: bytes) -> bytes | list[bytes]:
    """The output of ``env`` in a fixed order, without the variable that tells the workers
    apart: dash lists the environment in the order of its hash table."""
    if command != "env":
        return stdout
    return sorted(line for line in stdout.splitlines() if not line.startswith(b"STEPUP_DIRECT"))


SAME_AS_SHELL = [
    "cp in.txt out.txt",
    "cat in.txt",
    "cat missing.txt",
    "ls -1 .",
    "env",
    "exit3",
    "both",
    "args  a  b,c  key=value  x:y  -n  --flag=1  @at  100%  ./in.txt ",
    "bin/exit3",
    "./bin/exit3",
    "abort",
    "segv",
    "term",
    "int",
    "pipe",
    "kill",
    "usr1",
    "noshebang",
    "noexec",
    "./bin/noexec",
    "no-such-program",
    "./no/such/path",
    "in.txt",
    "./in.txt",
    "bin",
    "local-only",
]


@needs_dash
@pytest.mark.parametrize("command", SAME_AS_SHELL)
def test_direct_start_looks_like_the_shell(workers, folder, command):
    direct, shell = workers
    expected = shell.run(command)
    got = direct.run(command)
    assert (got.returncode, normalized(command, got.stdout), got.stderr) == (
        expected.returncode,
        normalized(command, expected.stdout),
        expected.stderr,
    )
    if command.startswith("cp "):
        assert (folder / "out.txt").read_text() == "some input\n"


@needs_dash
def test_the_probe_tells_the_ways_apart(workers):
    direct, shell = workers
    assert shell.run("./parent").stdout == b"sh\n"
    assert direct.run("./parent").stdout.startswith(b"python")
    # Shell syntax, builtins and another working directory go through the shell.
    for command in ("./parent ; true", "./parent > /dev/stdout", "FOO=1 ./parent"):
        assert direct.run(command).stdout == b"sh\n", command
    assert direct.run("../parent", workdir="bin/").stdout == b"sh\n"


@needs_dash
def test_signals_are_reported_as_by_dash(workers):
    direct, _ = workers
    segv = direct.run("segv")
    assert segv.returncode == 128 + 11
    assert segv.stdout == b"before\n"
    assert segv.stderr.startswith(b"Segmentation fault")
    assert direct.run("int").stderr == b""
    assert direct.run("term").stderr == b"Terminated\n"


@needs_dash
def test_environment_as_dash_passes_it_on(folder):
    """Invalid names are dropped and PWD is corrected; the step's variables are added."""
    env = worker_env(folder, **{"NOT-A-NAME": "x", "1ST": "y", "PWD": "relative", "KEEP": "z"})
    direct = WorkerProcess(folder, env)
    try:
        listed = dict(line.split("=", 1) for line in direct.run("env").stdout.decode().splitlines())
    finally:
        direct.close()
    assert "NOT-A-NAME" not in listed
    assert "1ST" not in listed
    assert listed["KEEP"] == "z"
    assert listed["PWD"] == os.path.realpath(folder)
    assert listed["STEPUP_STEP_KEY"] == "step:env"


def test_direct_start_can_be_turned_off(folder):
    launcher = Launcher.from_environment({"PATH": "/usr/bin", "STEPUP_DIRECT_START": "0"})
    start = launcher.start("cp a b", "./", {})
    assert not start.direct
    assert start.argv == [SHELL, "-c", "cp a b"]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("cp a b", ["cp", "a", "b"]),
        ("  cp\ta   b ", ["cp", "a", "b"]),
        ("dd if=a of=b bs=1M", ["dd", "if=a", "of=b", "bs=1M"]),
        ("./plan.py", ["./plan.py"]),
        (
            "python3 -m pkg.mod --x=1,2 @file 50% a:b",
            ["python3", "-m", "pkg.mod", "--x=1,2", "@file", "50%", "a:b"],
        ),
        ("", None),
        ("   ", None),
        ("cp 'a b' c", None),
        ('cp "a" c', None),
        ("cp $HOME c", None),
        ("cp a* b", None),
        ("cp a? b", None),
        ("cp [ab] c", None),
        ("cp ~/a b", None),
        ("cp a b # comment", None),
        ("cp a b > c", None),
        ("cp a b < c", None),
        ("cp a b | cat", None),
        ("cp a b; true", None),
        ("cp a b & wait", None),
        ("cp a\\ b c", None),
        ("cp a b\ntrue", None),
        ("(cp a b)", None),
        ("{ cp a b; }", None),
        ("cp `a` b", None),
        ("FOO=1 cp a b", None),
        ("echo hello", None),
        ("test -f a", None),
        ("cd sub", None),
        ("exit 1", None),
        ("true", None),
        ("! cp a b", None),
        ("kill 1", None),
        ("-x", ["-x"]),
    ],
)
def test_plain_words(command, words):
    assert plain_words(command) == words


def test_find_program(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    program = tmp_path / "b/tool"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (tmp_path / "a/tool").write_text("not executable")  # skipped, as by the shell
    (tmp_path / "a/dir").mkdir()
    assert find_program("tool", f"{tmp_path}/a:{tmp_path}/b") == f"{tmp_path}/b/tool"
    assert find_program("tool", "a:b") == "b/tool"
    assert find_program("dir", f"{tmp_path}/a") is None
    assert find_program("tool", "") is None
    assert find_program("b/tool", "") == "b/tool"
    assert find_program("a/tool", "") is None
    (tmp_path / "here").write_text("")
    (tmp_path / "here").chmod(stat.S_IRWXU)
    assert find_program("here", "/nonexistent:") == "here"  # an empty entry is "."


def test_shell_pwd(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path / "link")
    assert shell_pwd({"PWD": str(tmp_path / "link")}) == str(tmp_path / "link")
    assert shell_pwd({"PWD": "relative"}) == os.getcwd()
    assert shell_pwd({"PWD": str(tmp_path)}) == os.getcwd()
    assert shell_pwd({}) == os.getcwd()


def test_shell_status():
    assert shell_status(0, True) == (0, b"")
    assert shell_status(3 << 8, True) == (3, b"")
    assert shell_status(15, False) == (-15, b"")  # The shell itself was killed.
    assert shell_status(15, True) == (143, b"Terminated\n")
    assert shell_status(2, True) == (130, b"")
    assert shell_status(13, True) == (141, b"")
    assert shell_status(11 | 0x80, True) == (139, b"Segmentation fault (core dumped)\n")
