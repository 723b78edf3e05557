"""Starting a step's command: through ``/bin/sh -c``, or directly when the shell would only
pass it on.

A command such as ``cp in/a.txt out/a.txt`` has no quotes, variables, globs, redirections,
pipes or other shell syntax, and its first word names a program, not a shell builtin. To the
shell it means exactly "run this program with these words". GNU make starts such commands
without a shell too. Here it saves a whole process per step: dash, Debian's ``/bin/sh``, forks
before it runs the last command of ``-c`` instead of replacing itself with it, and the two
extra process starts cost about as much CPU as a ``cp``.

The direct start must be indistinguishable from the shell's, so it is only taken where its
effects are known, and everything else goes through the shell as before:

- ``/bin/sh`` is dash. The program gets the environment dash would give it: dash drops
  variables whose names are not valid shell names and sets ``PWD``.
- The program is found on ``PATH`` as dash finds it. A program that is not found, or that
  cannot be started (permissions, an unknown binary format), goes to the shell, which then
  prints its own error and returns its own exit code.
- A program killed by a signal gets the exit code ``128 + signal`` and the line dash prints
  on standard error ("Segmentation fault (core dumped)").
- ``STEPUP_DIRECT_START=0`` in stepup's environment turns the direct start off.

The rules are tested against the real shell, command by command, in ``tests/test_spawn.py``.
"""

import os
import re
import signal
import stat
from collections.abc import Mapping

import attrs

__all__ = ["SHELL", "Launcher", "Start", "plain_words", "shell_status", "spawn"]

SHELL = "/bin/sh"

#: A command whose characters the shell reads as plain words separated by blanks. Quotes,
#: ``$``, globs, ``~``, ``#``, redirections, separators, grouping, backslashes and newlines
#: are all left out.
_PLAIN_COMMAND = re.compile(r"[ \t]*[A-Za-z0-9_\-./,:+@%][A-Za-z0-9_\-./,:=+@% \t]*")

#: Words that the shell treats itself when they come first: the keywords and builtins of
#: dash, and those of bash for good measure. Some also exist as programs (``echo``, ``test``,
#: ``kill``, ``printf``, ``pwd``), whose options differ from the builtins'.
SHELL_WORDS = frozenset(
    """
    ! { } [ [[ ]] . : alias bg bind break builtin caller case cd chdir command compgen
    complete compopt continue coproc declare dirs disown do done echo elif else enable esac
    eval exec exit export false fc fg fi for function getopts hash help history if in jobs
    kill let local logout mapfile popd printf pushd pwd read readarray readonly return select
    set shift shopt source suspend test then time times trap true type typeset ulimit umask
    unalias unset until wait while
    """.split()  # noqa: SIM905 (a list literal of 90 words, one per line, reads worse)
)

#: Names that dash accepts as variables; it leaves other environment entries out.
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Deaths by these signals dash does not report on standard error.
_QUIET_SIGNALS = frozenset({signal.SIGINT, signal.SIGPIPE})


def plain_words(command: str) -> list[str] | None:
    """The words of ``command`` if the shell would run them as a program and its arguments,
    with nothing expanded, redirected or grouped; None otherwise."""
    if _PLAIN_COMMAND.fullmatch(command) is None:
        return None
    words = command.split()
    if words[0] in SHELL_WORDS or "=" in words[0]:
        return None  # A builtin, a keyword, or a variable assignment.
    return words


def _is_program(path: str) -> bool:
    """Would ``execve`` find a file it may try to run here? (Whether it runs is up to it.)"""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(mode) and os.access(path, os.X_OK)


def find_program(name: str, search_path: str) -> str | None:
    """The file dash would run for the command name ``name``, or None if there is none.

    As in dash, a name with a slash is a path, and an empty entry of ``PATH`` is the current
    directory.
    """
    if "/" in name:
        return name if _is_program(name) else None
    for directory in search_path.split(":"):
        candidate = f"{directory}/{name}" if directory else name
        if _is_program(candidate):
            return candidate
    return None


def shell_pwd(environ: Mapping[str, str]) -> str:
    """The ``PWD`` dash exports: the inherited one if it is absolute and names the current
    directory (a path through a symbolic link stays as it is), else the physical path."""
    pwd = environ.get("PWD", "")
    if pwd.startswith("/"):
        try:
            if os.path.samestat(os.stat(pwd), os.stat(".")):
                return pwd
        except OSError:
            pass
    return os.getcwd()


def _dash_is_the_shell() -> bool:
    return os.path.basename(os.path.realpath(SHELL)) == "dash"


@attrs.frozen
class Start:
    """How to start one command: the file to execute, its argv and its environment."""

    path: str
    argv: list[str]
    env: Mapping[str, str]
    #: Started without the shell: a death by a signal is reported as the shell would.
    direct: bool


@attrs.define
class Launcher:
    """Decides how each command of a worker starts. Made once per worker: the environment of
    the worker and the shell do not change while it runs."""

    #: The environment of commands run through the shell, before the step's own variables.
    shell_env: dict[str, str]
    #: The environment of commands started directly, as dash would pass it on, or None when
    #: commands always go through the shell.
    direct_env: dict[str, str] | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Launcher":
        environ = dict(os.environ if environ is None else environ)
        direct_env = None
        if (
            environ.get("STEPUP_DIRECT_START", "1") != "0"
            and "%" not in environ.get("PATH", "%")  # dash reads "%" in PATH specially.
            and _dash_is_the_shell()
        ):
            direct_env = {
                name: value for name, value in environ.items() if _SHELL_NAME.fullmatch(name)
            }
            direct_env["PWD"] = shell_pwd(environ)
        return cls(environ, direct_env)

    def start(self, command: str, workdir: str, step_env: Mapping[str, str]) -> Start:
        """The direct start of ``command`` if it is equivalent, else ``/bin/sh -c``.

        ``step_env`` holds the step's own variables (valid shell names). A step with another
        working directory always goes through the shell, which changes to it.
        """
        if self.direct_env is not None and os.path.normpath(workdir) == ".":
            words = plain_words(command)
            if words is not None:
                program = find_program(words[0], self.direct_env.get("PATH", ""))
                if program is not None:
                    return Start(program, words, {**self.direct_env, **step_env}, True)
        return self.shell_start(command, workdir, step_env)

    def shell_start(self, command: str, workdir: str, step_env: Mapping[str, str]) -> Start:
        """``/bin/sh -c command``, in ``workdir``: the way every command can start."""
        argv = [SHELL, "-c", command]
        if os.path.normpath(workdir) != ".":
            # posix_spawn has no working-directory action: the shell changes to it.
            argv = [SHELL, "-c", 'cd -- "$1" && exec /bin/sh -c "$2"', "sh", workdir, command]
        return Start(SHELL, argv, {**self.shell_env, **step_env}, False)


def shell_status(status: int, direct: bool) -> tuple[int, bytes]:
    """The exit code the step reports for a wait status, and what the shell would have
    printed on standard error about it.

    dash reports a command killed by signal N as exit code 128 + N and prints the signal's
    name, unless it was SIGINT or SIGPIPE. A command that dash ran itself has done so already;
    one started directly gets the same here.
    """
    if not (direct and os.WIFSIGNALED(status)):
        return os.waitstatus_to_exitcode(status), b""
    signum = os.WTERMSIG(status)
    if signum in _QUIET_SIGNALS:
        return 128 + signum, b""
    name = signal.strsignal(signum) or f"Signal {signum}"
    if os.WCOREDUMP(status):
        name += " (core dumped)"
    return 128 + signum, f"{name}\n".encode()


def spawn(start: Start) -> tuple[int, int, int]:
    """Start a command in a session (and process group) of its own, with stdin from
    /dev/null; return its pid and the read ends of its stdout and stderr.

    posix_spawn runs no Python code between fork and exec, unlike subprocess: a few tenths of
    a millisecond less per step, which counts in builds of many small steps.
    """
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        pid = os.posix_spawn(
            start.path,
            start.argv,
            start.env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
            ],
            setsid=True,
            # As subprocess does: Python ignores SIGPIPE, a step must not inherit that
            # (``yes | head`` would print "Broken pipe" errors).
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            setsigmask=(),
        )
    except BaseException:
        os.close(out_read)
        os.close(err_read)
        raise
    finally:
        os.close(out_write)
        os.close(err_write)
    return pid, out_read, err_read
