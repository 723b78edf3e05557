"""The script driver: an executable Python file that plans and runs its own steps.

A script ends with ``if __name__ == "__main__": driver()`` and is added to the workflow with
``script("x.py")`` in a plan, which defines the step ``./x.py plan``. The driver gives the
script three subcommands:

- ``./x.py plan [--optional]`` defines the run steps,
- ``./x.py cases`` prints the command of every run step,
- ``./x.py run [ARGSTR]`` does the work of one run step.

A script follows one of two protocols, or both, and always has a ``run`` function:

- the *single* protocol: ``info()`` returns a dict that describes the only run step,
  ``./x.py run``;
- the *cases* protocol: ``CASE_FMT`` (a str), ``cases()`` (an iterable of cases) and
  ``case_info(*args, **kwargs)`` (a dict for one case). Every case becomes the step
  ``./x.py run -- 'ARGSTR'``, where ``ARGSTR = CASE_FMT.format(*args, **kwargs)``. The run
  step parses ARGSTR back into arguments with :func:`parse_argstr`.

The keys ``static``, ``inp`` and ``out`` (a path or a list of paths) and ``stdout`` and
``stderr`` (a path or None) of the info dict describe the step. Every key of the dict,
these included, is passed to ``run()`` if ``run`` has a parameter with that name.

Local modules that the script imports (files under the root of the workflow) are inputs of
the plan step and of the run steps, so these rerun when such a module changes. Modules that
``cases()`` imports only make the plan step rerun.
"""

import argparse
import functools
import inspect
import os
import re
import shlex
import string
import sys
import traceback
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from stepup_trio.api import amend, static, step
from stepup_trio.errors import StepUpError

__all__ = ["driver"]


# ARGSTR back into the arguments of case_info: a small inverse of str.format

_SPEC = re.compile(
    r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?z?#?(?P<zero>0)?"
    r"(?P<width>[0-9]+)?(?P<grouping>[,_])?(?:\.[0-9]+)?(?P<type>[a-zA-Z%])?",
    re.DOTALL,
)
_FLOAT_TYPES = "eEfFgG"


@attrs.frozen
class _Field:
    """One replacement field of CASE_FMT: where its value goes and how to read it back."""

    key: int | str
    kind: str
    fill: str | None
    align: str
    grouping: str | None

    def convert(self, text: str) -> Any:
        """The value that was formatted as ``text``; ValueError when it is not one."""
        if self.kind == "str":
            if self.fill is None:
                return text
            if self.align == ">":
                return text.lstrip(self.fill)
            if self.align == "^":
                return text.strip(self.fill)
            return text.rstrip(self.fill)
        if self.fill is not None and self.fill not in "0123456789+-.eE":
            text = text.replace(self.fill, "")
        if self.grouping is not None:
            text = text.replace(self.grouping, "")
        text = text.replace(" ", "")
        return int(text) if self.kind == "int" else float(text)


def _field_regex(case_fmt: str, key: int | str, spec: str) -> tuple[str, _Field]:
    match = _SPEC.fullmatch(spec)
    kind = None
    if match is not None and "{" not in spec:
        kind = {None: "str", "s": "str", "d": "int"}.get(match["type"])
        if match["type"] is not None and match["type"] in _FLOAT_TYPES:
            kind = "float"
    if kind is None:
        raise ValueError(
            f"Unsupported format spec {spec!r} in CASE_FMT {case_fmt!r}: "
            "use no spec or a simple one of type s, d, e, f or g."
        )
    fill = None
    align = match["align"] or ("<" if kind == "str" else ">")
    if match["width"] is not None:
        fill = match["fill"] or ("0" if match["zero"] and match["align"] is None else " ")
    grouping = match["grouping"]
    field = _Field(key, kind, fill, align, grouping)
    if kind == "str":
        return "(.+?|)", field
    pad = "" if fill is None else f"(?:{re.escape(fill)})*"
    digits = "[0-9]+" if grouping is None else f"[0-9](?:[0-9{re.escape(grouping)}]*[0-9])?"
    if kind == "int":
        body = digits
    else:
        body = rf"(?:(?:{digits})(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|inf|nan|INF|NAN"
    return f"({pad}(?:[-+ ]{pad})?(?:{body}){pad})", field


@functools.lru_cache(maxsize=32)
def _compile(case_fmt: str) -> tuple[re.Pattern, tuple[_Field, ...], int]:
    """A regex with one group per field of CASE_FMT, the fields, and the number of positionals."""
    try:
        parts = list(string.Formatter().parse(case_fmt))
    except ValueError as exc:
        raise ValueError(f"Invalid CASE_FMT {case_fmt!r}: {exc}") from None
    regex = []
    fields = []
    numbering = None
    auto_index = 0
    for literal, name, spec, conversion in parts:
        regex.append(re.escape(literal))
        if name is None:
            continue
        if name == "" or re.fullmatch("[0-9]+", name):
            style = "automatic" if name == "" else "manual"
            if numbering not in (None, style):
                raise ValueError(
                    f"CASE_FMT {case_fmt!r} mixes automatic ({{}}) and manual ({{0}}) "
                    "field numbering."
                )
            numbering = style
            if name == "":
                key = auto_index
                auto_index += 1
            else:
                key = int(name)
        elif name.isidentifier():
            key = name
        else:
            raise ValueError(
                f"Unsupported field {{{name}}} in CASE_FMT {case_fmt!r}: "
                "use {}, {0} or {name}, without attributes or indexes."
            )
        if conversion not in (None, "s"):
            raise ValueError(
                f"Unsupported conversion !{conversion} in CASE_FMT {case_fmt!r}: "
                "its result cannot be parsed back."
            )
        field_regex, field = _field_regex(case_fmt, key, spec or "")
        regex.append(field_regex)
        fields.append(field)
    indexes = {field.key for field in fields if isinstance(field.key, int)}
    if indexes != set(range(len(indexes))):
        raise ValueError(
            f"The positional fields of CASE_FMT {case_fmt!r} must be numbered 0, 1, ... "
            "without gaps."
        )
    return re.compile("".join(regex), re.DOTALL), tuple(fields), len(indexes)


def parse_argstr(case_fmt: str, argstr: str) -> tuple[tuple, dict[str, Any]]:
    """Recover ``(args, kwargs)`` from ``argstr = case_fmt.format(*args, **kwargs)``.

    Fields are ``{}``, ``{0}`` or ``{name}``, with an optional simple format spec (fill,
    alignment, sign, zero padding, width, grouping, precision). Fields without a type or with
    type ``s`` give strings, ``d`` gives ints and ``e``, ``f`` and ``g`` give floats. Where
    the text could be split in several ways, a string field takes as little as it can and a
    number as much as it can (as the parse library does). A string that does not match
    raises ``ValueError: Could not parse string ...``; a field or format spec that cannot be
    parsed back (``{0.attr}``, ``{!r}``, ``{:x}``, ...) raises a ValueError that says so.
    """
    pattern, fields, num_args = _compile(case_fmt)
    match = pattern.fullmatch(argstr)
    failure = ValueError(f"Could not parse string {argstr!r} with CASE_FMT {case_fmt!r}.")
    if match is None:
        raise failure
    args: list[Any] = [None] * num_args
    kwargs: dict[str, Any] = {}
    seen: set[int | str] = set()
    for field, text in zip(fields, match.groups(), strict=True):
        try:
            value = field.convert(text)
        except ValueError:
            raise failure from None
        if field.key in seen:
            previous = args[field.key] if isinstance(field.key, int) else kwargs[field.key]
            if previous != value:
                raise failure
            continue
        seen.add(field.key)
        if isinstance(field.key, int):
            args[field.key] = value
        else:
            kwargs[field.key] = value
    return tuple(args), kwargs


def quote_argstr(argstr: str) -> str:
    """Quote ARGSTR for the shell; a plain one is put in single quotes, as StepUp does."""
    quoted = shlex.quote(argstr)
    return quoted if quoted.startswith("'") else f"'{argstr}'"


# The script and its protocols


@attrs.frozen
class _Info:
    """The dict that ``info()`` or ``case_info()`` returned, with its special keys checked."""

    data: dict[str, Any]
    static: list[str]
    inp: list[str]
    out: list[str]
    stdout: str | None
    stderr: str | None

    def redirects(self) -> tuple[str, list[str]]:
        """The shell redirections for the command, and the files they write (outputs)."""
        both = self.stdout is not None and self.stderr is not None
        if both and os.path.normpath(self.stdout) == os.path.normpath(self.stderr):
            # Not `&> path`: that is a bashism, and /bin/sh (dash) reads it as `& > path`.
            return f" > {shlex.quote(self.stdout)} 2>&1", _files(self.stdout)
        text = ""
        if self.stdout is not None:
            text += f" > {shlex.quote(self.stdout)}"
        if self.stderr is not None:
            text += f" 2> {shlex.quote(self.stderr)}"
        return text, _files(self.stdout, self.stderr)


def _files(*paths: str | None) -> list[str]:
    return [path for path in paths if path is not None and path != "/dev/null"]


class _Script:
    """A script module (or object), its path relative to the cwd, and its protocols.

    Creating one checks the protocols: ``run`` is required, and ``info`` or all of
    ``CASE_FMT``, ``cases`` and ``case_info``.
    """

    def __init__(self, obj: Any, path: str) -> None:
        self.obj = obj
        self.path = path
        self.command = os.path.join(".", path)
        if not callable(getattr(obj, "run", None)):
            raise TypeError(f"Script {path} has no run function.")
        present = [name for name in ("CASE_FMT", "cases", "case_info") if hasattr(obj, name)]
        if 0 < len(present) < 3:
            missing = [name for name in ("CASE_FMT", "cases", "case_info") if name not in present]
            raise TypeError(
                f"The script {path} must define all or none of CASE_FMT, cases and case_info, "
                f"but it lacks {' and '.join(missing)}."
            )
        self.has_info = hasattr(obj, "info")
        self.has_cases = len(present) == 3
        if not (self.has_info or self.has_cases):
            raise TypeError(f"The script {path} has neither info nor case_info.")
        for name in ("info", "cases", "case_info"):
            if hasattr(obj, name) and not callable(getattr(obj, name)):
                raise TypeError(f"{name} in {path} is not callable.")
        if self.has_cases:
            if not isinstance(obj.CASE_FMT, str):
                raise TypeError(f"The CASE_FMT in {path} is not a string.")
            try:
                _compile(obj.CASE_FMT)
            except ValueError as exc:
                raise ValueError(f"{exc} (in {path})") from None

    def info(self) -> _Info:
        return self._check_info("info", self.obj.info())

    def case_info(self, args: tuple, kwargs: dict[str, Any]) -> _Info:
        return self._check_info("case_info", self.obj.case_info(*args, **kwargs))

    def cases(self) -> list[tuple[str, tuple, dict[str, Any]]]:
        """Every case as ``(argstr, args, kwargs)``; each argstr must parse back."""
        result = []
        cases = self.obj.cases()
        if not isinstance(cases, Iterable):
            raise TypeError(f"cases in {self.path} must return an iterable (or be a generator).")
        for case in cases:
            args, kwargs = _normalize_case(case)
            try:
                argstr = self.obj.CASE_FMT.format(*args, **kwargs)
            except (IndexError, KeyError, ValueError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"The CASE_FMT {self.obj.CASE_FMT!r} in {self.path} cannot format the case "
                    f"{case!r}: {type(exc).__name__}: {exc}"
                ) from None
            parse_argstr(self.obj.CASE_FMT, argstr)
            result.append((argstr, args, kwargs))
        return result

    def run(self, info: _Info) -> None:
        """Call ``run`` with the info keys that are names of its parameters."""
        run = self.obj.run
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = {
            name for name, param in inspect.signature(run).parameters.items() if param.kind in kinds
        }
        run(**{key: value for key, value in info.data.items() if key in names})

    def _check_info(self, func: str, data: Any) -> _Info:
        if not isinstance(data, dict):
            raise TypeError(f"{func} in {self.path} must return a dict, not {type(data).__name__}.")
        for key in data:
            if not isinstance(key, str):
                raise TypeError(
                    f"All keys of the dict returned by {func} in {self.path} must be strings, "
                    f"got {key!r}."
                )

        def path_list(key: str) -> list[str]:
            value = data.get(key, [])
            if isinstance(value, str):
                return [value]
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return list(value)
            raise TypeError(
                f"{key} is not a string or a list of strings in function {func} in {self.path}."
            )

        def optional_path(key: str) -> str | None:
            value = data.get(key)
            if value is None or isinstance(value, str):
                return value
            raise TypeError(f"{key} is not a string (or None) in function {func} in {self.path}.")

        return _Info(
            data,
            path_list("static"),
            path_list("inp"),
            path_list("out"),
            optional_path("stdout"),
            optional_path("stderr"),
        )


def _normalize_case(case: Any) -> tuple[tuple, dict[str, Any]]:
    """A case from ``cases()`` as ``(args, kwargs)``.

    A dict gives kwargs, a 2-tuple ``(list or tuple, dict)`` gives both, a list or tuple gives
    args, and anything else is the only arg.
    """
    if isinstance(case, dict):
        return (), dict(case)
    if (
        isinstance(case, tuple)
        and len(case) == 2
        and isinstance(case[0], list | tuple)
        and isinstance(case[1], dict)
    ):
        return tuple(case[0]), dict(case[1])
    if isinstance(case, list | tuple):
        return tuple(case), {}
    return (case,), {}


# Local imports


_PACKAGE_DIRS = (Path(__file__).parent, Path(__file__).parent.parent / "stepup")


def _under(path: str, directory: str) -> bool:
    return path.startswith(os.path.join(directory, ""))


def local_imports(script_file: str) -> list[str]:
    """The files of imported modules under the root, relative to the cwd, sorted.

    The root is ``$STEPUP_ROOT`` (the cwd when it is not set). The script itself is left
    out, and so are the Python installation (a virtual environment inside the root, for
    example) and stepup_trio, unless they contain the root.
    """
    root = os.path.abspath(os.environ.get("STEPUP_ROOT") or os.getcwd())
    environment = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    environment.update(str(directory) for directory in _PACKAGE_DIRS)
    excluded = [
        os.path.abspath(directory)
        for directory in environment
        if not (root == os.path.abspath(directory) or _under(root, os.path.abspath(directory)))
    ]
    script_file = os.path.abspath(script_file)
    result = set()
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str):
            continue
        filename = os.path.abspath(filename)
        if filename == script_file or not _under(filename, root):
            continue
        if any(_under(filename, directory) for directory in excluded):
            continue
        result.add(os.path.relpath(filename))
    return sorted(result)


# The subcommands


def _plan(script: _Script, optional: bool) -> None:
    """Define the run steps. Local imports found later only go to the plan step."""
    imports = local_imports(script.path)
    if not amend(inp=imports):
        return
    planned: list[tuple[str, _Info]] = []
    if script.has_info:
        planned.append((f"{script.command} run", script.info()))
    if script.has_cases:
        for argstr, args, kwargs in script.cases():
            info = script.case_info(args, kwargs)
            planned.append((f"{script.command} run -- {quote_argstr(argstr)}", info))
    # Modules imported by info(), cases() or case_info() only make the plan step rerun.
    later = [path for path in local_imports(script.path) if path not in imports]
    if not amend(inp=later):
        return
    declared: set[str] = set()
    for command, info in planned:
        # A path shared by several cases is declared once.
        static([path for path in dict.fromkeys(info.static) if path not in declared])
        declared.update(info.static)
        redirects, redirect_files = info.redirects()
        step(
            command + redirects,
            inp=[*info.inp, *imports, script.path],
            out=[*info.out, *redirect_files],
            optional=optional,
        )


def _print_cases(script: _Script) -> None:
    if script.has_info:
        print(f"{script.command} run")
    if script.has_cases:
        for argstr, _args, _kwargs in script.cases():
            print(f"{script.command} run -- {quote_argstr(argstr)}")


def _run(script: _Script, argstr: str | None) -> None:
    if argstr is None or (argstr == "" and not script.has_cases):
        if not script.has_info:
            raise TypeError(
                f"The script {script.path} has no info function: "
                "give run the argument string of a case (see the cases subcommand)."
            )
        info = script.info()
    else:
        if not script.has_cases:
            raise TypeError(
                f"The script {script.path} has no cases (CASE_FMT, cases and case_info): "
                "run takes no argument string."
            )
        args, kwargs = parse_argstr(script.obj.CASE_FMT, argstr)
        info = script.case_info(args, kwargs)
    script.run(info)


def _parser(path: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=path, description=f"Plan, list or run the steps of the script {path}."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="Define the run steps (for stepup).")
    plan.add_argument("-o", "--optional", action="store_true", help="Make the run steps optional.")
    commands.add_parser("cases", help="Print the command of every run step.")
    run = commands.add_parser("run", help="Do the work of one run step.")
    run.add_argument(
        "argstr",
        nargs="?",
        default=None,
        metavar="string",
        help="The arguments of a case, as CASE_FMT formats them. Without it, info() is used.",
    )
    return parser


def driver(obj: Any = None) -> None:
    """Plan, list or run the steps of a script; call it at the end of the script.

    ``obj`` holds ``run`` and the protocol (``info`` and/or ``CASE_FMT``, ``cases`` and
    ``case_info``); by default it is the module that calls ``driver()``. The subcommand comes
    from the command line. An error is printed without stepup's own lines and the script
    exits with code 1.
    """
    if obj is None:
        caller = sys._getframe(1).f_globals
        obj = sys.modules.get(caller.get("__name__")) or types.SimpleNamespace(**caller)
    script_file = _script_file(obj)
    path = os.path.relpath(script_file)
    args = _parser(path).parse_args()
    try:
        script = _Script(obj, path)
        if args.command == "plan":
            _plan(script, args.optional)
        elif args.command == "cases":
            _print_cases(script)
        else:
            _run(script, args.argstr)
    except Exception as exc:
        sys.stdout.flush()
        sys.stderr.write("".join(_format_error(exc)))
        sys.stderr.flush()
        sys.exit(1)


def _script_file(obj: Any) -> str:
    filename = getattr(obj, "__file__", None) if isinstance(obj, types.ModuleType) else None
    if filename is None:
        filename = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.abspath(filename or sys.argv[0])


def _internal(filename: str) -> bool:
    filename = os.path.abspath(filename)
    return any(_under(filename, str(directory)) for directory in _PACKAGE_DIRS)


def _format_error(exc: BaseException) -> list[str]:
    """The traceback of ``exc`` (and of its causes) without the frames of stepup_trio."""
    top = traceback.TracebackException.from_exception(exc)
    renames = {}
    todo = [top]
    while todo:
        node = todo.pop()
        node.stack = traceback.StackSummary.from_list(
            [frame for frame in node.stack if not _internal(frame.filename)]
        )
        if isinstance(node.exc_type, type) and issubclass(node.exc_type, StepUpError):
            qualified = f"{node.exc_type.__module__}.{node.exc_type.__qualname__}"
            renames[qualified] = node.exc_type.__qualname__
        todo.extend(other for other in (node.__cause__, node.__context__) if other is not None)
    lines = []
    for line in top.format():
        for qualified, short in renames.items():
            if line.startswith(qualified + ":") or line == qualified + "\n":
                line = short + line[len(qualified) :]
        lines.append(line)
    return lines
