"""The plan-script API: what ``plan.py`` calls to tell the director about steps and files.

Every call is made on behalf of the step that runs the calling process
(``STEPUP_STEP_KEY``). Paths are relative to the caller's working directory and, for the
paths of a step, to the step's ``workdir``; ``${VAR}`` in a path is replaced by the value of the
environment variable (the caller then depends on it), the path is normalized, and it is
translated to a path relative to the root (``STEPUP_ROOT``) before it is sent.
"""

import contextlib
import os
import re
import string
import sys
from collections.abc import Callable, Iterable, Iterator

import attrs

from stepup_trio import wire
from stepup_trio.client import DummyClient, get_client
from stepup_trio.core.actions import (
    Amend,
    DeclareStatic,
    DeferGlob,
    DefinePool,
    DefineStep,
    RegisterGlob,
    step_key,
)
from stepup_trio.core.paths import normalize
from stepup_trio.errors import MissingPathError, StepUpError
from stepup_trio.nglob import NGlobMulti, wildcard_names
from stepup_trio.pathstr import Path

__all__ = [
    "RPC_CLIENT",
    "StepInfo",
    "amend",
    "check_inp_paths",
    "copy",
    "getenv",
    "glob",
    "mkdir",
    "plan",
    "pool",
    "script",
    "static",
    "step",
    "subs_env_vars",
    "translate",
    "translate_back",
]

PathLike = str | os.PathLike


class _ClientProxy:
    """``RPC_CLIENT`` of StepUp: the connection to the director, made when first used."""

    def __getattr__(self, name: str):
        return getattr(get_client(), name)


RPC_CLIENT = _ClientProxy()


@attrs.frozen
class StepInfo:
    """What :func:`step` defined: its key and its paths, as given (relative to the workdir).

    Amended information is never included.
    """

    key: str | None
    inp: list[str] = attrs.Factory(list)
    env: list[str] = attrs.Factory(list)
    out: list[str] = attrs.Factory(list)
    vol: list[str] = attrs.Factory(list)

    def filter_inp(self, *patterns: str, **subs: str) -> NGlobMulti:
        return _filter(self.inp, patterns, subs)

    def filter_out(self, *patterns: str, **subs: str) -> NGlobMulti:
        return _filter(self.out, patterns, subs)

    def filter_vol(self, *patterns: str, **subs: str) -> NGlobMulti:
        return _filter(self.vol, patterns, subs)


def _filter(paths: list[str], patterns: tuple[str, ...], subs: dict[str, str]) -> NGlobMulti:
    ngm = NGlobMulti.from_patterns(patterns, subs)
    ngm.extend(paths)
    return ngm


# The caller and its paths


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


def _call(action) -> object:
    return get_client().call(wire.Perform(_creator(), action))


_PACKAGE = os.path.dirname(__file__)


def _origin() -> list[tuple[str, int, str]]:
    """The caller's frames outside stepup_trio, outermost first: where the plan made a posted
    request, to report a refusal there (see stepup_trio.client)."""
    frames = []
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith(_PACKAGE):
            frames.append((code.co_filename, frame.f_lineno, code.co_name))
        frame = frame.f_back
    frames.reverse()
    return frames


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
    result = normalize(os.path.join(_here(), os.fspath(workdir), path))
    if result.startswith("../"):
        # A path that leaves the root may come back through one of its parents
        # (``../../ext/../top/pub/b.txt`` is ``../pub/b.txt`` for the root ``top/proj``):
        # resolve it against the root, so that one file has one key.
        root = os.path.abspath(os.environ.get("STEPUP_ROOT", "."))
        absolute = os.path.normpath(os.path.join(root, result))
        result = normalize(os.path.relpath(absolute, root) + ("/" if result.endswith("/") else ""))
    return result


def translate_back(path: PathLike, workdir: PathLike = ".") -> str:
    """The inverse of :func:`translate`: a root-relative path, relative to the caller again."""
    path = os.fspath(path)
    workdir = os.fspath(workdir)
    if os.path.isabs(path):
        if os.path.isabs(workdir) and path.startswith(workdir.rstrip("/") + "/"):
            return normalize(os.path.relpath(path, workdir) + ("/" if path.endswith("/") else ""))
        return normalize(path)
    base = os.path.join(_here(), workdir)
    relative = os.path.relpath(path, base)
    return normalize(relative + ("/" if path.endswith("/") else ""))


# ${VAR} in paths

_NAME = r"[_a-zA-Z][_a-zA-Z0-9]*"
_TEMPLATE_PART = re.compile(rf"\$(?:\$|\{{(\*?{_NAME})\}}|({_NAME})|)")


class _Substitution:
    """Fills in ``${VAR}`` in paths from the environment and remembers which were used.

    ``${*name}`` (a named glob wildcard) is kept, ``$$`` becomes ``$``.
    """

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __call__(self, path: PathLike) -> str:
        text = os.fspath(path)

        def replace(match: re.Match) -> str:
            whole = match.group(0)
            if whole == "$$":
                return "$"
            name = match.group(1) or match.group(2)
            if name is None:
                raise StepUpError(f"The path contains invalid shell variable identifiers: {text}")
            if name.startswith("*"):
                return whole
            value = os.getenv(name)
            if value is None:
                raise StepUpError(f"Undefined shell variable: {name}")
            self.names.add(name)
            return value

        return normalize(_TEMPLATE_PART.sub(replace, text))


@contextlib.contextmanager
def subs_env_vars() -> Iterator[Callable[[PathLike], str]]:
    """Yield ``subs(path)``, which fills in ``${VAR}`` from the environment and normalizes.

    Every variable used is amended to the calling step when the block ends, so the step
    reruns when one of them changes.
    """
    subs = _Substitution()
    yield subs
    if subs.names:
        amend(env=sorted(subs.names))


def _check_exists(path: str) -> None:
    if path.endswith("/"):
        if not os.path.isdir(path):
            raise MissingPathError(f"Path does not exist: {path}")
    elif os.path.isdir(path):
        raise StepUpError(f"Directory without trailing separator: {path}")
    elif not os.path.exists(path):
        raise MissingPathError(f"Path does not exist: {path}")


def check_inp_paths(paths: Iterable[PathLike]) -> None:
    """Every path must exist, with a trailing slash exactly for directories."""
    for path in paths:
        _check_exists(os.fspath(path))


# Declarations


def static(*paths: PathLike | Iterable[PathLike]) -> None:
    """Declare files and directories (with a trailing slash) that exist and that steps use."""
    with subs_env_vars() as subs:
        local = [subs(path) for path in _as_list(paths)]
    if not local:
        return
    check_inp_paths(local)
    _call(DeclareStatic(sorted(translate(path) for path in local)))


def glob(
    *patterns: str, _required: bool = False, _defer: bool = False, **subs: str
) -> NGlobMulti | None:
    """Find files matching the patterns, declare them static, and return the matches.

    The step that calls glob reruns (in watch mode) when the matches change.
    """
    if not patterns:
        raise StepUpError("At least one path is required for glob.")
    for name in subs:
        if name.startswith("_"):
            raise StepUpError(f"Substitution names cannot start with an underscore: {name}")
    with subs_env_vars() as subs_path:
        local_patterns = [subs_path(pattern) for pattern in patterns]
    if _defer:
        _defer_glob(local_patterns, _required, subs)
        return None
    ngm = NGlobMulti.from_patterns(local_patterns, subs)
    ngm.glob()
    if _required and not ngm:
        raise MissingPathError("Could not find any matching paths on the filesystem.")
    matched = sorted({path for paths in ngm.per_pattern_paths() for path in paths})
    if matched:
        _call(DeclareStatic(sorted(translate(path) for path in matched)))
    _call(RegisterGlob([translate(p) for p in local_patterns], dict(subs)))
    return ngm


def _defer_glob(patterns: list[str], required: bool, subs: dict[str, str]) -> None:
    if required:
        raise StepUpError("Combination of options not supported: _defer=True, _required=True")
    if subs or any(wildcard_names(pattern) for pattern in patterns):
        raise StepUpError("Deferred globs cannot have named wildcards.")
    for pattern in patterns:
        if os.path.isabs(pattern):
            raise StepUpError(f"Deferred glob patterns cannot be absolute paths: {pattern}")
    _call(DeferGlob([translate(pattern) for pattern in patterns]))


def step(
    command: str,
    *,
    inp: PathLike | Iterable[PathLike] = (),
    env: str | Iterable[str] = (),
    out: PathLike | Iterable[PathLike] = (),
    vol: PathLike | Iterable[PathLike] = (),
    workdir: PathLike = "./",
    optional: bool = False,
    pool: str | None = None,
    block: bool = False,
    needs: str | Iterable[str] = (),
) -> StepInfo:
    """Define a step: a shell command that reads ``inp`` and writes ``out``.

    ``${inp}``, ``${out}`` and ``${vol}`` in the command become the space-separated paths as
    given. The step starts as soon as all its inputs are available, even while the plan runs.

    ``needs`` (not in StepUp) names source nodes, things outside the workflow whose state the
    step depends on, as ``"kind:key"``, for example ``"url:https://example.org/data.csv"``
    with the plugin stepup-trio-http. The step runs again when their state changes.
    """
    with subs_env_vars() as subs:
        workdir = subs(os.fspath(workdir).rstrip("/") + "/")
        inp_paths = [subs(path) for path in _as_list(inp)]
        out_paths = [subs(path) for path in _as_list(out)]
        vol_paths = [subs(path) for path in _as_list(vol)]
    env_vars = [env] if isinstance(env, str) else list(env)
    command = string.Template(command).safe_substitute(
        inp=" ".join(inp_paths), out=" ".join(out_paths), vol=" ".join(vol_paths)
    )
    action = DefineStep(
        command=command,
        workdir=translate(workdir),
        inp=[translate(path, workdir) for path in inp_paths],
        out=[translate(path, workdir) for path in out_paths],
        vol=[translate(path, workdir) for path in vol_paths],
        env=env_vars,
        optional=optional,
        pool=pool,
        block=block,
        needs=[needs] if isinstance(needs, str) else list(needs),
    )
    # Posted, not called: the plan goes on while the director takes the definition in.
    client = get_client()
    client.post(wire.Perform(_creator(), action), _origin())
    key = None if isinstance(client, DummyClient) else f"step:{step_key(command, action.workdir)}"
    return StepInfo(
        key,
        [Path(path) for path in inp_paths],
        env_vars,
        [Path(path) for path in out_paths],
        [Path(path) for path in vol_paths],
    )


def amend(
    *,
    inp: PathLike | Iterable[PathLike] = (),
    env: str | Iterable[str] = (),
    out: PathLike | Iterable[PathLike] = (),
    vol: PathLike | Iterable[PathLike] = (),
) -> bool:
    """Tell the director about dependencies found while the step runs.

    Returns False when an amended input is not built yet: the step should then stop; it runs
    again once the input is available. Use it as ``if amend(inp=...): do the work``.
    """
    env_vars = [env] if isinstance(env, str) else list(env)
    inp_list, out_list, vol_list = _as_list(inp), _as_list(out), _as_list(vol)
    if not (inp_list or env_vars or out_list or vol_list):
        return True
    subs = _Substitution()
    inp_paths = [subs(path) for path in inp_list]
    out_paths = [subs(path) for path in out_list]
    vol_paths = [subs(path) for path in vol_list]
    result = _call(
        Amend(
            inp=[translate(path) for path in inp_paths],
            env=sorted(set(env_vars) | subs.names),
            out=[translate(path) for path in out_paths],
            vol=[translate(path) for path in vol_paths],
        )
    )
    available = result is not False
    if available:
        check_inp_paths(inp_paths)
    return available


def pool(name: str, size: int) -> None:
    """Define (or resize) a pool: at most ``size`` of its steps run at the same time."""
    _call(DefinePool(name, size))


def getenv(name: str, default: str | None = None, is_path: bool = False) -> str | Path | None:
    """Read an environment variable; the calling step reruns when it changes.

    With ``is_path=True``, a relative value is taken relative to the root and returned
    relative to the caller, and ``${VAR}`` in it is filled in (those variables count too).
    """
    amend(env=[name])
    value = os.getenv(name, default)
    if not is_path or value is None:
        return value
    if not os.path.isabs(value):
        amend(env=["ROOT"])
        value = os.path.join(os.getenv("ROOT", "."), value)
    with subs_env_vars() as subs:
        value = subs(value)
    return Path(value)


# Composite helpers


def plan(subdir: PathLike, block: bool = False) -> StepInfo:
    """Run ``plan.py`` in ``subdir``: a plan of its own, for a part of the project."""
    with subs_env_vars() as subs:
        subdir = subs(os.fspath(subdir).rstrip("/") + "/")
    return step("./plan.py", inp="plan.py", workdir=subdir, block=block)


def copy(src: PathLike, dst: PathLike, *, optional: bool = False, block: bool = False) -> StepInfo:
    """Copy a file; a destination ending with a slash is a directory to copy into."""
    with subs_env_vars() as subs:
        src = subs(src)
        dst = os.fspath(dst)
        dst = subs(os.path.join(dst, os.path.basename(src)) if dst.endswith("/") else dst)
    if src == dst:
        raise StepUpError(f"The output path cannot equal the input path: {src}")
    return step("cp -aT ${inp} ${out}", inp=src, out=dst, optional=optional, block=block)


def mkdir(dirname: PathLike, *, optional: bool = False, block: bool = False) -> StepInfo:
    """Create a directory (and its parents) in a step."""
    with subs_env_vars() as subs:
        dirname = subs(os.fspath(dirname).rstrip("/") + "/")
    return step(f"mkdir -p {dirname}", out=dirname, optional=optional, block=block)


def script(
    executable: PathLike, workdir: PathLike = "./", *, optional: bool = False, block: bool = False
) -> StepInfo:
    """Let a script plan its own run steps: ``./executable plan`` (see stepup_trio.script)."""
    with subs_env_vars() as subs:
        executable = subs(executable)
        workdir = subs(os.fspath(workdir).rstrip("/") + "/")
    command = f"./{executable} plan" + (" --optional" if optional else "")
    return step(command, inp=[executable], workdir=workdir, block=block)


def _user_frames_excepthook(exc_type, exc, tb):
    """Show errors from stepup as the user's own lines plus one message, not our internals.

    A refused step definition is shown where the plan made it (its ``origin``), not where
    the refusal was noticed (see stepup_trio.client).
    """
    origin = getattr(exc, "origin", None)
    if not (isinstance(exc, StepUpError) and (tb is not None or origin is not None)):
        _previous_excepthook(exc_type, exc, tb)
        return
    import traceback

    if origin is not None:
        frames = [traceback.FrameSummary(*frame) for frame in origin]
    else:
        frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_PACKAGE)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines.append(f"{exc_type.__name__}: {exc}\n")
    sys.stderr.write("".join(lines))


_previous_excepthook = sys.excepthook
sys.excepthook = _user_frames_excepthook
