"""The plan-script API: what ``plan.py`` calls to tell the director about steps and files.

Every call is made on behalf of the step that runs the calling process
(``STEPUP_STEP_KEY``). Paths are relative to the caller's working directory and, for the
paths of a step, to the step's ``workdir``; they are translated to paths relative to the root
(``STEPUP_ROOT``) before they are sent.
"""

import os
import string
import sys
from collections.abc import Iterable
from pathlib import Path

import attrs

from stepup_trio import wire
from stepup_trio.client import get_client
from stepup_trio.core.actions import DeclareStatic, DefineStep
from stepup_trio.core.paths import normalize
from stepup_trio.errors import StepUpError

__all__ = ["StepInfo", "copy", "mkdir", "static", "step", "translate"]

PathLike = str | os.PathLike


@attrs.frozen
class StepInfo:
    """What :func:`step` defined: its key and its paths, as given (relative to the workdir)."""

    key: str | None
    inp: list[str] = attrs.Factory(list)
    env: list[str] = attrs.Factory(list)
    out: list[str] = attrs.Factory(list)
    vol: list[str] = attrs.Factory(list)


def _creator() -> str:
    key = os.environ.get("STEPUP_STEP_KEY")
    if key is None:
        if "STEPUP_DIRECTOR_SOCKET" in os.environ:
            raise StepUpError(
                "The STEPUP_STEP_KEY environment variable is not defined: "
                "plan scripts must be run by stepup, not directly."
            )
        return "dummy:"
    return key


def _as_list(paths: PathLike | Iterable[PathLike] | None) -> list[str]:
    """Accept one path or any nesting of iterables of paths, as StepUp does."""
    if paths is None:
        return []
    if isinstance(paths, str | os.PathLike):
        return [os.fspath(paths)]
    result = []
    for item in paths:
        result.extend(_as_list(item))
    return result


def _here() -> str:
    here = os.environ.get("HERE")
    if here is not None:
        return here
    root = os.environ.get("STEPUP_ROOT", os.getcwd())
    return os.path.relpath(os.getcwd(), root)


def translate(path: PathLike, workdir: PathLike = ".") -> str:
    """Turn a path relative to the caller (and ``workdir``) into one relative to the root.

    Absolute paths stay absolute. A trailing slash, marking a directory, is kept.
    """
    path = os.fspath(path)
    if os.path.isabs(path):
        return normalize(path)
    return normalize(os.path.join(_here(), os.fspath(workdir), path))


def _check_exists(path: str) -> None:
    if path.endswith("/"):
        if not os.path.isdir(path):
            raise StepUpError(f"Path does not exist: {path}")
    elif os.path.isdir(path):
        raise StepUpError(f"Directory without trailing separator: {path}")
    elif not os.path.exists(path):
        raise StepUpError(f"Path does not exist: {path}")


def static(*paths: PathLike | Iterable[PathLike]) -> None:
    """Declare files and directories (with a trailing slash) that exist and that steps use."""
    local = [normalize(path) for path in _as_list(paths)]
    if not local:
        return
    for path in local:
        _check_exists(path)
    paths = sorted(translate(path) for path in local)
    get_client().call(wire.Perform(_creator(), DeclareStatic(paths)))


def step(
    command: str,
    *,
    inp: PathLike | Iterable[PathLike] = (),
    out: PathLike | Iterable[PathLike] = (),
    workdir: PathLike = "./",
    env: str | Iterable[str] = (),
    optional: bool = False,
    pool: str | None = None,
    block: bool = False,
) -> StepInfo:
    """Define a step: a shell command that reads ``inp`` and writes ``out``.

    ``${inp}`` and ``${out}`` in the command become the space-separated paths as given.
    The step starts as soon as all its inputs are available, even while the plan still runs.
    """
    inp_paths = [normalize(path) for path in _as_list(inp)]
    out_paths = [normalize(path) for path in _as_list(out)]
    env_vars = [env] if isinstance(env, str) else list(env)
    workdir = normalize(os.fspath(workdir).rstrip("/") + "/")
    command = string.Template(command).safe_substitute(
        inp=" ".join(inp_paths), out=" ".join(out_paths)
    )
    root_workdir = translate(workdir)
    key = get_client().call(
        wire.Perform(
            _creator(),
            DefineStep(
                command=command,
                workdir=root_workdir,
                inp=[translate(path, workdir) for path in inp_paths],
                out=[translate(path, workdir) for path in out_paths],
                env=env_vars,
                optional=optional,
                pool=pool,
                block=block,
            ),
        )
    )
    return StepInfo(key, inp_paths, env_vars, out_paths, [])


def copy(src: PathLike, dst: PathLike, *, optional: bool = False, block: bool = False) -> StepInfo:
    """Copy a file; a destination ending with a slash is a directory to copy into."""
    src, dst = normalize(os.fspath(src)), os.fspath(dst)
    if dst.endswith("/"):
        dst = os.path.join(dst, os.path.basename(src))
    dst = normalize(dst)
    if src == dst:
        raise StepUpError("The output path cannot equal the input path")
    return step("cp -aT ${inp} ${out}", inp=src, out=dst, optional=optional, block=block)


def mkdir(dirname: PathLike, *, optional: bool = False, block: bool = False) -> StepInfo:
    """Create a directory (and its parents) in a step."""
    dirname = normalize(os.fspath(dirname).rstrip("/") + "/")
    return step(f"mkdir -p {dirname}", out=dirname, optional=optional, block=block)


def _user_frames_excepthook(exc_type, exc, tb):
    """Show errors from stepup as the user's own lines plus one message, not our internals."""
    if not (isinstance(exc, StepUpError) and tb is not None):
        _previous_excepthook(exc_type, exc, tb)
        return
    import traceback

    package = str(Path(__file__).parent)
    frames = [frame for frame in traceback.extract_tb(tb) if not frame.filename.startswith(package)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines.append(f"{exc_type.__name__}: {exc}\n")
    sys.stderr.write("".join(lines))


_previous_excepthook = sys.excepthook
sys.excepthook = _user_frames_excepthook
