"""The script driver: parsing case strings back, the protocol checks, and scripts in real runs.

The expected terminal lines of the single-protocol and cases examples were printed by
StepUp 1.3.1 for the same projects (``stepup -n -w2``).
"""

import re
import shlex
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from helpers import FOOTER, clean_env, header, lines, run_stepup, write_plan

from stepup_trio import script as script_module
from stepup_trio.script import (
    _format_error,
    _normalize_case,
    _Script,
    local_imports,
    parse_argstr,
    quote_argstr,
)

# Parsing ARGSTR back


@pytest.mark.parametrize(
    ("case_fmt", "args", "kwargs"),
    [
        ("{}", ("plain",), {}),
        ("{}", ("",), {}),
        ("{}", ("with spaces and 'quotes'",), {}),
        ("{}", ("two\nlines",), {}),
        ("{:s}", ("text",), {}),
        ("case-{}-{}", ("a", "b"), {}),
        ("{0}_{1}", ("x", "y"), {}),
        ("{1}_{0}", ("x", "y"), {}),
        ("{name}", (), {"name": "value"}),
        ("{a}/{b}", (), {"a": "", "b": "x"}),
        ("{a}/{a}", (), {"a": "same"}),
        ("{{literal}} {}", ("x",), {}),
        ("{:d}", (42,), {}),
        ("{:d}", (-42,), {}),
        ("{:+d}", (7,), {}),
        ("{:03d}", (5,), {}),
        ("{:03d}", (-5,), {}),
        ("{:>6d}", (12,), {}),
        ("{:*<6d}", (12,), {}),
        ("{:,d}", (1234567,), {}),
        ("{:_d}", (1234567,), {}),
        ("{:f}", (0.5,), {}),
        ("{:.1f}", (-2.5,), {}),
        ("{:8.3f}", (3.25,), {}),
        ("{:e}", (12345.0,), {}),
        ("{:g}", (1e-20,), {}),
        ("{:g}", (float("inf"),), {}),
        ("{:>6}", ("ab",), {}),
        ("{:^7s}", ("ab",), {}),
        ("{:03d}-{name}-{:f}", (1, 0.5), {"name": "b b"}),
        ("{x:d}+{y:d}={:d}", (3,), {"x": 1, "y": 2}),
        ("{!s}", ("converted",), {}),
    ],
)
def test_parse_argstr_inverts_format(case_fmt, args, kwargs):
    argstr = case_fmt.format(*args, **kwargs)
    parsed_args, parsed_kwargs = parse_argstr(case_fmt, argstr)
    assert parsed_args == args
    assert parsed_kwargs == kwargs
    for value, parsed in zip(args, parsed_args, strict=True):
        assert type(parsed) is type(value)


def test_parse_argstr_types():
    assert parse_argstr("{}-{:d}-{:f}", "1-2-3.0") == (("1", 2, 3.0), {})
    assert parse_argstr("n{}", "n7") == (("7",), {})


def test_parse_argstr_first_field_is_lazy():
    # The same split as the parse library: the first field takes as little as it can.
    assert parse_argstr("{}-{}", "a-b-c") == (("a", "b-c"), {})
    assert parse_argstr("{}{}", "ab") == (("a", "b"), {})
    assert parse_argstr("{:d}{}", "12ab") == ((12, "ab"), {})


def test_parse_argstr_is_case_sensitive():
    with pytest.raises(ValueError, match="Could not parse string 'CASE-1'"):
        parse_argstr("case-{}", "CASE-1")


@pytest.mark.parametrize(
    ("case_fmt", "argstr"),
    [
        ("{}_{}", "xy"),
        ("n{:d}", "nabc"),
        ("n{:d}", "n1.5"),
        ("{:f}", "x"),
        ("{a}-{a}", "1-2"),
        ("prefix{}", "other"),
        ("{:d}", ""),
    ],
)
def test_parse_argstr_mismatch(case_fmt, argstr):
    with pytest.raises(ValueError) as excinfo:
        parse_argstr(case_fmt, argstr)
    assert str(excinfo.value) == f"Could not parse string {argstr!r} with CASE_FMT {case_fmt!r}."


@pytest.mark.parametrize(
    ("case_fmt", "message"),
    [
        ("{!r}", "Unsupported conversion !r"),
        ("{0.real}", "Unsupported field {0.real}"),
        ("{a[0]}", "Unsupported field {a[0]}"),
        ("{:x}", "Unsupported format spec 'x'"),
        ("{:%}", "Unsupported format spec '%'"),
        ("{:{w}d}", "Unsupported format spec '{w}d'"),
        ("{}{0}", "mixes automatic"),
        ("{0}-{2}", "numbered 0, 1, ... without gaps"),
        ("{", "Invalid CASE_FMT"),
    ],
)
def test_parse_argstr_unsupported_case_fmt(case_fmt, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_argstr(case_fmt, "anything")


@pytest.mark.parametrize(
    ("argstr", "quoted"),
    [
        ("001-a-0.5", "'001-a-0.5'"),
        ("b b", "'b b'"),
        ("", "''"),
        ("$HOME; rm -rf /", "'$HOME; rm -rf /'"),
        ("it's", "'it'\"'\"'s'"),
    ],
)
def test_quote_argstr(argstr, quoted):
    assert quote_argstr(argstr) == quoted
    assert shlex.split(f"run -- {quoted}") == ["run", "--", argstr]


@pytest.mark.parametrize(
    ("case", "args", "kwargs"),
    [
        (1, (1,), {}),
        ("ab", ("ab",), {}),
        (None, (None,), {}),
        ({"a": 1}, (), {"a": 1}),
        ((1, 2), (1, 2), {}),
        ([1, 2], (1, 2), {}),
        (((1, 2), {"z": 3}), (1, 2), {"z": 3}),
        (([1, 2], {"z": 3}), (1, 2), {"z": 3}),
        ([[1, 2], {"z": 3}], ([1, 2], {"z": 3}), {}),
        (({"z": 1}, 5), ({"z": 1}, 5), {}),
        (((1,), {}, 4), ((1,), {}, 4), {}),
    ],
)
def test_normalize_case(case, args, kwargs):
    assert _normalize_case(case) == (args, kwargs)


# Protocol checks


def _run(**kwargs):
    return None


def make_script(**attributes) -> _Script:
    return _Script(types.SimpleNamespace(**attributes), "x.py")


CASES = {
    "CASE_FMT": "{}",
    "cases": lambda: [1],
    "case_info": lambda n: {},
}


@pytest.mark.parametrize(
    ("attributes", "error", "message"),
    [
        ({"info": dict}, TypeError, "Script x.py has no run function."),
        ({"info": dict, "run": 5}, TypeError, "Script x.py has no run function."),
        ({"run": _run}, TypeError, "The script x.py has neither info nor case_info."),
        (
            {"run": _run, "CASE_FMT": "{}", "cases": list},
            TypeError,
            "The script x.py must define all or none of CASE_FMT, cases and case_info, "
            "but it lacks case_info.",
        ),
        (
            {"run": _run, "info": dict, "case_info": dict},
            TypeError,
            "The script x.py must define all or none of CASE_FMT, cases and case_info, "
            "but it lacks CASE_FMT and cases.",
        ),
        ({"run": _run, "info": 5}, TypeError, "info in x.py is not callable."),
        ({"run": _run, **CASES, "cases": [1]}, TypeError, "cases in x.py is not callable."),
        ({"run": _run, **CASES, "CASE_FMT": 5}, TypeError, "The CASE_FMT in x.py is not a string."),
        (
            {"run": _run, **CASES, "CASE_FMT": "{!r}"},
            ValueError,
            "Unsupported conversion !r in CASE_FMT '{!r}': its result cannot be parsed back. "
            "(in x.py)",
        ),
    ],
)
def test_protocol_errors(attributes, error, message):
    with pytest.raises(error) as excinfo:
        make_script(**attributes)
    assert str(excinfo.value) == message


def test_protocols():
    single = make_script(run=_run, info=dict)
    assert (single.has_info, single.has_cases) == (True, False)
    cases = make_script(run=_run, **CASES)
    assert (cases.has_info, cases.has_cases) == (False, True)
    both = make_script(run=_run, info=dict, **CASES)
    assert (both.has_info, both.has_cases) == (True, True)
    assert both.command == "./x.py"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "info in x.py must return a dict, not list."),
        ({1: 2}, "All keys of the dict returned by info in x.py must be strings, got 1."),
        ({"static": 5}, "static is not a string or a list of strings in function info in x.py."),
        ({"inp": ("a",)}, "inp is not a string or a list of strings in function info in x.py."),
        ({"inp": None}, "inp is not a string or a list of strings in function info in x.py."),
        ({"out": [1]}, "out is not a string or a list of strings in function info in x.py."),
        (
            {"out": [Path("a")]},
            "out is not a string or a list of strings in function info in x.py.",
        ),
        ({"stdout": 5}, "stdout is not a string (or None) in function info in x.py."),
        ({"stderr": ["e"]}, "stderr is not a string (or None) in function info in x.py."),
    ],
)
def test_info_type_errors(data, message):
    script = make_script(run=_run, info=lambda: data)
    with pytest.raises(TypeError) as excinfo:
        script.info()
    assert str(excinfo.value) == message


def test_case_info_type_error_names_case_info():
    script = make_script(run=_run, **{**CASES, "case_info": lambda n: {"inp": n}})
    with pytest.raises(TypeError) as excinfo:
        script.case_info((3,), {})
    assert str(excinfo.value) == (
        "inp is not a string or a list of strings in function case_info in x.py."
    )


def test_info_special_keys():
    data = {"static": "s", "inp": ["a", "b"], "out": "o", "stdout": None, "other": 1}
    info = make_script(run=_run, info=lambda: data).info()
    assert (info.static, info.inp, info.out, info.stdout, info.stderr) == (
        ["s"],
        ["a", "b"],
        ["o"],
        None,
        None,
    )
    assert info.data is data


@pytest.mark.parametrize(
    ("stdout", "stderr", "redirects", "files"),
    [
        (None, None, "", []),
        ("out.log", None, " > out.log", ["out.log"]),
        (None, "err.log", " 2> err.log", ["err.log"]),
        ("out.log", "err.log", " > out.log 2> err.log", ["out.log", "err.log"]),
        ("both.log", "both.log", " > both.log 2>&1", ["both.log"]),
        ("both.log", "./both.log", " > both.log 2>&1", ["both.log"]),
        ("out.log", "/dev/null", " > out.log 2> /dev/null", ["out.log"]),
        ("/dev/null", "/dev/null", " > /dev/null 2>&1", []),
        ("my log.txt", None, " > 'my log.txt'", ["my log.txt"]),
    ],
)
def test_redirects(stdout, stderr, redirects, files):
    info = make_script(run=_run, info=lambda: {"stdout": stdout, "stderr": stderr}).info()
    assert info.redirects() == (redirects, files)


def test_run_gets_only_its_parameters():
    calls = []

    def run(inp, factor, *args, option="default", **kwargs):
        calls.append((inp, factor, args, option, kwargs))

    data = {"inp": "a", "factor": 3, "kwargs": "not passed", "args": "not passed", "other": 1}
    script = make_script(run=run, info=lambda: data)
    script.run(script.info())
    assert calls == [("a", 3, (), "default", {})]


def test_cases_check_format_and_parse():
    script = make_script(run=_run, **{**CASES, "CASE_FMT": "{}_{}"})
    with pytest.raises(ValueError, match=re.escape("cannot format the case 1: IndexError")):
        script.cases()
    script = make_script(run=_run, **{**CASES, "CASE_FMT": "{:d}", "cases": lambda: ["x"]})
    with pytest.raises(ValueError, match="cannot format the case 'x': ValueError"):
        script.cases()
    script = make_script(run=_run, **{**CASES, "cases": lambda: 5})
    with pytest.raises(TypeError, match=r"cases in x\.py must return an iterable"):
        script.cases()
    script = make_script(run=_run, **{**CASES, "CASE_FMT": "{:d}", "cases": lambda: iter([1, 2])})
    assert script.cases() == [("1", (1,), {}), ("2", (2,), {})]


# Local imports


def test_local_imports(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    monkeypatch.chdir(root / "sub")
    monkeypatch.setenv("STEPUP_ROOT", str(root))
    modules = {
        "_t_here": root / "sub/here.py",
        "_t_top": root / "top.py",
        "_t_pkg": root / "pkg/__init__.py",
        "_t_dotted": root / "sub/../other.py",
        "_t_outside": tmp_path / "outside.py",
        "_t_prefix": Path(str(root) + "2") / "similar.py",
        "_t_script": root / "sub/x.py",
    }
    for name, filename in modules.items():
        module = types.ModuleType(name)
        module.__file__ = str(filename)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setitem(sys.modules, "_t_namespace", types.ModuleType("_t_namespace"))
    assert local_imports(str(root / "sub/x.py")) == [
        "../other.py",
        "../pkg/__init__.py",
        "../top.py",
        "here.py",
    ]
    monkeypatch.delenv("STEPUP_ROOT")
    assert local_imports("x.py") == ["here.py"]


def test_local_imports_leave_out_the_environment(tmp_path, monkeypatch):
    # A virtual environment inside the root is not part of the project.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEPUP_ROOT", str(tmp_path))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    module = types.ModuleType("_t_venv")
    module.__file__ = str(tmp_path / ".venv/lib/site-packages/lib.py")
    monkeypatch.setitem(sys.modules, "_t_venv", module)
    assert local_imports("x.py") == []


# Errors are shown without stepup_trio's frames


def test_format_error_hides_own_frames():
    def user_function():
        raise ZeroDivisionError("user error")

    try:
        make_script(run=_run, info=user_function).info()
    except ZeroDivisionError as exc:
        text = "".join(_format_error(exc))
    assert "user_function" in text
    assert "ZeroDivisionError: user error" in text
    assert script_module.__file__ not in text


# Scripts run directly


def write_exe(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env python\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def run_script(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=folder, env=clean_env(), capture_output=True, text=True, timeout=60
    )


BOTH_SCRIPT = """
from stepup.core.script import driver

CASE_FMT = "{name}-{:d}"


def info():
    return {"out": "single.txt", "which": "single"}


def cases():
    yield (1,), {"name": "one"}
    yield [2], {"name": "it's"}


def case_info(number, name):
    return {"which": f"case {name} {number}"}


def run(which):
    print("RUN", which)


if __name__ == "__main__":
    driver()
"""


def test_cases_and_run_directly(tmp_path):
    write_exe(tmp_path, "both.py", BOTH_SCRIPT)
    result = run_script(tmp_path, "./both.py", "cases")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "./both.py run",
        "./both.py run -- 'one-1'",
        "./both.py run -- 'it'\"'\"'s-2'",
    ]
    assert run_script(tmp_path, "./both.py", "run").stdout == "RUN single\n"
    assert run_script(tmp_path, "./both.py", "run", "--", "one-1").stdout == "RUN case one 1\n"
    assert run_script(tmp_path, "sh", "-c", result.stdout.splitlines()[2]).stdout == (
        "RUN case it's 2\n"
    )
    failed = run_script(tmp_path, "./both.py", "run", "--", "one")
    assert failed.returncode == 1
    assert (
        failed.stderr == "ValueError: Could not parse string 'one' with CASE_FMT '{name}-{:d}'.\n"
    )


def test_run_without_the_needed_protocol(tmp_path):
    write_exe(
        tmp_path,
        "x.py",
        """
        from stepup.core.script import driver
        def info():
            return {}
        def run():
            pass
        driver()
        """,
    )
    result = run_script(tmp_path, "./x.py", "run", "--", "abc")
    assert result.returncode == 1
    assert result.stderr.startswith("TypeError: The script x.py has no cases")


def test_driver_with_object(tmp_path):
    write_exe(
        tmp_path,
        "obj.py",
        """
        from stepup.core.script import driver

        class Script:
            CASE_FMT = "{}"
            def cases(self):
                yield "a"
            def case_info(self, letter):
                return {"letter": letter}
            def run(self, letter):
                print("letter", letter)

        driver(Script())
        """,
    )
    assert run_script(tmp_path, "./obj.py", "cases").stdout == "./obj.py run -- 'a'\n"
    assert run_script(tmp_path, "./obj.py", "run", "--", "b").stdout == "letter b\n"
    assert "usage: obj.py" in run_script(tmp_path, "./obj.py").stderr


# Scripts in real runs

HEADER = [*header(), "     START │ ./plan.py"]
HEADER_LOADED = header(loaded=True)

RULE = "─" * 80
STDERR_RULE = "──────────────────────────────── Standard error ────────────────────────────────"
PLAN = 'from stepup.core.api import script, static\nstatic("x.py")\nscript("x.py")\n'


def assert_run_lines(output: list[str], expected: list[str]) -> None:
    """The lines of a first run: steps run in parallel, so their lines may come in any order.

    The header and footer are fixed; in between the same lines must appear, each step's
    START before its SUCCESS, and a script's plan START before its run steps START.
    """
    assert output[: len(HEADER)] == HEADER
    assert output[-len(FOOTER) :] == FOOTER
    middle = output[len(HEADER) : -len(FOOTER)]
    assert sorted(middle) == sorted(expected[len(HEADER) : -len(FOOTER)])
    for index, line in enumerate(output):
        if line.startswith("   SUCCESS │ "):
            assert "     START │ " + line[13:] in output[:index]
        if line.startswith("     START │ ") and " run" in line:
            assert any(" plan" in before for before in output[:index] if "START" in before)


SINGLE_PLAN = """
from stepup.core.api import script, static
static("generate.py", "data.txt")
script("generate.py")
"""

SINGLE_SCRIPT = """
from stepup.core.script import driver


def info():
    return {
        "static": "config.txt",
        "inp": ["data.txt", "config.txt"],
        "out": "result.txt",
        "stdout": "generate.log",
        "factor": 3,
    }


def run(inp, out, factor):
    with open(inp[0]) as fh:
        text = fh.read().strip()
    with open(inp[1]) as fh:
        suffix = fh.read().strip()
    with open(out, "w") as fh:
        fh.write(text * factor + suffix + "\\n")
    print("wrote", out)


if __name__ == "__main__":
    driver()
"""


def test_single_protocol(tmp_path):
    write_plan(tmp_path, SINGLE_PLAN)
    write_exe(tmp_path, "generate.py", SINGLE_SCRIPT)
    (tmp_path / "data.txt").write_text("ab\n")
    (tmp_path / "config.txt").write_text("!\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # What StepUp 1.3.1 printed for this project (in one of the possible orders).
    assert_run_lines(
        lines(result.stdout),
        [
            *HEADER,
            "     START │ ./generate.py plan",
            "   SUCCESS │ ./plan.py",
            "     START │ ./generate.py run > generate.log",
            "   SUCCESS │ ./generate.py plan",
            "   SUCCESS │ ./generate.py run > generate.log",
            *FOOTER,
        ],
    )
    assert (tmp_path / "result.txt").read_text() == "ababab!\n"
    assert (tmp_path / "generate.log").read_text() == "wrote result.txt\n"

    again = run_stepup(tmp_path)
    assert again.returncode == 0
    assert lines(again.stdout) == [
        *HEADER_LOADED,
        "      SKIP │ ./plan.py",
        "      SKIP │ ./generate.py plan",
        "      SKIP │ ./generate.py run > generate.log",
        *FOOTER,
    ]

    # config.txt was declared static by the plan step: a change reruns the run step.
    (tmp_path / "config.txt").write_text("?\n")
    changed = run_stepup(tmp_path)
    assert changed.returncode == 0
    assert "   SUCCESS │ ./generate.py run > generate.log" in lines(changed.stdout)
    assert "      SKIP │ ./generate.py plan" in lines(changed.stdout)
    assert (tmp_path / "result.txt").read_text() == "ababab?\n"


CASES_PLAN = """
from stepup.core.api import script, static
static("work.py")
script("work.py")
"""

CASES_SCRIPT = """
from stepup.core.script import driver

CASE_FMT = "{:03d}-{name}-{:.1f}"


def cases():
    yield (1, 0.5), {"name": "a"}
    yield (2, 1.5), {"name": "b b"}
    yield (3, 2.0), {"name": "c"}


def case_info(num, x, name):
    return {"out": f"out{num}.txt", "stdout": f"log{num}.txt", "num": num, "x": x, "name": name}


def run(out, num, x, name):
    print(repr(num), repr(x), repr(name))
    with open(out, "w") as fh:
        fh.write(f"{num} {x} {name}\\n")


if __name__ == "__main__":
    driver()
"""


def test_cases_protocol(tmp_path):
    write_plan(tmp_path, CASES_PLAN)
    write_exe(tmp_path, "work.py", CASES_SCRIPT)
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # What StepUp 1.3.1 printed for this project (in one of the possible orders).
    assert_run_lines(
        lines(result.stdout),
        [
            *HEADER,
            "     START │ ./work.py plan",
            "   SUCCESS │ ./plan.py",
            "     START │ ./work.py run -- '001-a-0.5' > log1.txt",
            "   SUCCESS │ ./work.py plan",
            "     START │ ./work.py run -- '002-b b-1.5' > log2.txt",
            "   SUCCESS │ ./work.py run -- '002-b b-1.5' > log2.txt",
            "     START │ ./work.py run -- '003-c-2.0' > log3.txt",
            "   SUCCESS │ ./work.py run -- '001-a-0.5' > log1.txt",
            "   SUCCESS │ ./work.py run -- '003-c-2.0' > log3.txt",
            *FOOTER,
        ],
    )
    # The run steps got the parsed arguments: an int, a float and a str.
    assert (tmp_path / "log2.txt").read_text() == "2 1.5 'b b'\n"
    assert (tmp_path / "out2.txt").read_text() == "2 1.5 b b\n"
    assert (tmp_path / "out3.txt").read_text() == "3 2.0 c\n"

    again = run_stepup(tmp_path)
    assert lines(again.stdout) == [
        *HEADER_LOADED,
        "      SKIP │ ./plan.py",
        "      SKIP │ ./work.py plan",
        "      SKIP │ ./work.py run -- '001-a-0.5' > log1.txt",
        "      SKIP │ ./work.py run -- '002-b b-1.5' > log2.txt",
        "      SKIP │ ./work.py run -- '003-c-2.0' > log3.txt",
        *FOOTER,
    ]


def test_redirects_in_real_run(tmp_path):
    write_plan(
        tmp_path, 'from stepup.core.api import script, static\nstatic("r.py")\nscript("r.py")\n'
    )
    write_exe(
        tmp_path,
        "r.py",
        """
        import sys
        from stepup.core.script import driver

        CASE_FMT = "{}"

        def cases():
            yield "shared"
            yield "split"
            yield "quiet"

        def case_info(kind):
            if kind == "shared":
                return {"stdout": "shared.log", "stderr": "shared.log"}
            if kind == "split":
                return {"stdout": "split.out", "stderr": "split.err"}
            return {"stdout": "/dev/null", "stderr": "/dev/null"}

        def run():
            print("to stdout", flush=True)
            print("to stderr", file=sys.stderr, flush=True)

        driver()
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result.stdout)
    assert "   SUCCESS │ ./r.py run -- 'shared' > shared.log 2>&1" in out
    assert "   SUCCESS │ ./r.py run -- 'split' > split.out 2> split.err" in out
    assert "   SUCCESS │ ./r.py run -- 'quiet' > /dev/null 2>&1" in out
    assert "&>" not in result.stdout
    # Nothing leaks to the terminal: no output boxes.
    assert "Standard output" not in result.stdout
    assert "Standard error" not in result.stdout
    assert (tmp_path / "shared.log").read_text() == "to stdout\nto stderr\n"
    assert (tmp_path / "split.out").read_text() == "to stdout\n"
    assert (tmp_path / "split.err").read_text() == "to stderr\n"


def test_quote_in_argstr_and_script_in_subdir(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import script, static
        static("sub/", "sub/q.py")
        script("q.py", "sub/")
        """,
    )
    write_exe(
        tmp_path / "sub",
        "q.py",
        """
        from stepup.core.script import driver

        CASE_FMT = "{}"

        def cases():
            yield "it's $HOME"

        def case_info(text):
            return {"out": "q.txt", "text": text}

        def run(out, text):
            with open(out, "w") as fh:
                fh.write(text + "\\n")

        driver()
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # StepUp 1.3.1 would give the broken command ./q.py run -- 'it's $HOME'
    assert "   SUCCESS │ ./q.py run -- 'it'\"'\"'s $HOME'  # wd=sub/" in lines(result.stdout)
    assert (tmp_path / "sub/q.txt").read_text() == "it's $HOME\n"


def test_static_shared_by_cases(tmp_path):
    # StepUp 1.3.1 declares the static paths for every case: the second one fails with
    # "Static path already exists: config.txt". Here a path is declared once per plan.
    write_plan(tmp_path, PLAN)
    write_exe(
        tmp_path,
        "x.py",
        """
        from stepup.core.script import driver

        CASE_FMT = "{}"

        def cases():
            yield from "ab"

        def case_info(letter):
            return {"static": ["config.txt", f"{letter}.txt"], "inp": "config.txt"}

        def run():
            pass

        driver()
        """,
    )
    for name in ("config.txt", "a.txt", "b.txt"):
        (tmp_path / name).write_text("x\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "   SUCCESS │ ./x.py run -- 'b'" in lines(result.stdout)


def test_optional_run_steps(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import script, static
        static("opt.py")
        script("opt.py", optional=True)
        """,
    )
    write_exe(
        tmp_path,
        "opt.py",
        """
        from stepup.core.script import driver

        CASE_FMT = "n{}"

        def cases():
            return [1, 2, 3]

        def case_info(n):
            return {"out": f"out{n}.txt"}

        def run(out):
            with open(out, "w") as fh:
                fh.write("x\\n")

        if __name__ == "__main__":
            driver()
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # As StepUp 1.3.1: no step needs the optional run steps, so none runs.
    assert_run_lines(
        lines(result.stdout),
        [
            *HEADER,
            "     START │ ./opt.py plan --optional",
            "   SUCCESS │ ./plan.py",
            "   SUCCESS │ ./opt.py plan --optional",
            *FOOTER,
        ],
    )
    assert not list(tmp_path.glob("out*.txt"))


IMPORTS_PLAN = """
from stepup.core.api import script, static, step
static("work.py", "helper.py", "settings.py")
script("work.py")
step("python -c \\"from stepup.core.interact import graph; graph('graph')\\"", inp="out3.txt")
"""

IMPORTS_SCRIPT = """
from stepup.core.script import driver
from helper import double

CASE_FMT = "n{:d}"


def cases():
    from settings import NUMBERS
    yield from NUMBERS


def case_info(n):
    return {"out": f"out{n}.txt", "n": n}


def run(out, n):
    with open(out, "w") as fh:
        fh.write(f"{double(n)}\\n")


if __name__ == "__main__":
    driver()
"""


def step_block(graph: str, key: str) -> list[str]:
    block = graph.split(f"\n{key}\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in block.splitlines()]


def amended_inputs(block: list[str]) -> list[str]:
    """The paths of ``consumes (amended) = a`` and its continuation lines ``= b``."""
    result = []
    for line in block:
        if line.startswith("consumes (amended) = "):
            result.append(line.split(" = ", 1)[1])
        elif result and line.startswith("= "):
            result.append(line[2:])
        elif result:
            break
    # StepUp 1.3.1 writes the node key (file:helper.py) here.
    return [item.removeprefix("file:") for item in result]


def test_local_imports_are_inputs(tmp_path):
    write_plan(tmp_path, IMPORTS_PLAN)
    write_exe(tmp_path, "work.py", IMPORTS_SCRIPT)
    (tmp_path / "helper.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "settings.py").write_text("NUMBERS = [1, 2, 3]\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out3.txt").read_text() == "6\n"
    graph = (tmp_path / "graph.txt").read_text()
    plan_block = step_block(graph, "step:./work.py plan")
    assert amended_inputs(plan_block) == ["helper.py", "settings.py"]
    assert "consumes   file:helper.py" in plan_block
    assert "consumes   file:settings.py" in plan_block
    run_block = step_block(graph, "step:./work.py run -- 'n3'")
    assert "consumes   file:helper.py" in run_block
    assert "consumes   file:work.py" in run_block
    assert "consumes   file:settings.py" not in run_block

    # settings.py was imported inside cases(): only the plan step reruns.
    (tmp_path / "settings.py").write_text("NUMBERS = [1, 2, 3]  # the same cases\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result.stdout)
    assert "   SUCCESS │ ./work.py plan" in out
    for n in (1, 2, 3):
        assert f"      SKIP │ ./work.py run -- 'n{n}'" in out
    assert not [line for line in out if line.startswith("     START │ ./work.py run")]

    # helper.py was imported at the top: the plan step and every run step rerun.
    (tmp_path / "helper.py").write_text("def double(x):\n    return 20 * x\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = lines(result.stdout)
    assert "   SUCCESS │ ./work.py plan" in out
    for n in (1, 2, 3):
        assert f"   SUCCESS │ ./work.py run -- 'n{n}'" in out
    assert (tmp_path / "out3.txt").read_text() == "60\n"


# Errors in real runs

ERROR_SCRIPTS = {
    "no run": (
        "def info():\n    return {}\n",
        "TypeError: Script x.py has no run function.",
    ),
    "neither": (
        "def run():\n    pass\n",
        "TypeError: The script x.py has neither info nor case_info.",
    ),
    "partial": (
        "CASE_FMT = '{}'\ndef cases():\n    yield 1\ndef run():\n    pass\n",
        "TypeError: The script x.py must define all or none of CASE_FMT, cases and case_info, "
        "but it lacks case_info.",
    ),
    "static": (
        "def info():\n    return {'static': 5}\ndef run():\n    pass\n",
        "TypeError: static is not a string or a list of strings in function info in x.py.",
    ),
    "inp": (
        "def info():\n    return {'inp': ('a', 'b')}\ndef run():\n    pass\n",
        "TypeError: inp is not a string or a list of strings in function info in x.py.",
    ),
    "out": (
        "CASE_FMT = '{}'\ndef cases():\n    yield 1\ndef case_info(n):\n    return {'out': [n]}\n"
        "def run():\n    pass\n",
        "TypeError: out is not a string or a list of strings in function case_info in x.py.",
    ),
    "stdout": (
        "def info():\n    return {'stdout': 1}\ndef run():\n    pass\n",
        "TypeError: stdout is not a string (or None) in function info in x.py.",
    ),
    "stderr": (
        "def info():\n    return {'stderr': ['e.log']}\ndef run():\n    pass\n",
        "TypeError: stderr is not a string (or None) in function info in x.py.",
    ),
    "not a dict": (
        "def info():\n    return ['a']\ndef run():\n    pass\n",
        "TypeError: info in x.py must return a dict, not list.",
    ),
    "CASE_FMT": (
        "CASE_FMT = 1\ndef cases():\n    yield 1\ndef case_info(n):\n    return {}\n"
        "def run():\n    pass\n",
        "TypeError: The CASE_FMT in x.py is not a string.",
    ),
}


@pytest.mark.parametrize("which", ERROR_SCRIPTS)
def test_script_errors(tmp_path, which):
    body, message = ERROR_SCRIPTS[which]
    write_plan(
        tmp_path, 'from stepup.core.api import script, static\nstatic("x.py")\nscript("x.py")\n'
    )
    write_exe(tmp_path, "x.py", "from stepup.core.script import driver\n" + body + "driver()\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    start = out.index("      FAIL │ ./x.py plan")
    assert out[start + 1 : start + 7] == [
        "────────────────────────────────── Step info ───────────────────────────────────",
        "Command               ./x.py plan",
        "Return code           1",
        STDERR_RULE,
        message,
        RULE,
    ]
    assert "   WARNING │ 1 step(s) failed, see error messages above" in out
    assert "stepup_trio/" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout


def test_error_in_user_code_shows_user_frames(tmp_path):
    write_plan(
        tmp_path, 'from stepup.core.api import script, static\nstatic("x.py")\nscript("x.py")\n'
    )
    write_exe(
        tmp_path,
        "x.py",
        """
        from stepup.core.script import driver

        def info():
            return {"ratio": 1 / 0}

        def run():
            pass

        driver()
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    start = out.index(
        "──────────────────────────────── Standard error ────────────────────────────────"
    )
    assert out[start + 1] == "Traceback (most recent call last):"
    assert out[start + 2].endswith('x.py", line 5, in info')
    assert out[start + 3] == '    return {"ratio": 1 / 0}'
    assert "ZeroDivisionError: division by zero" in out[start + 4 :]
    assert "stepup_trio/" not in result.stdout


def test_run_step_error(tmp_path):
    write_plan(
        tmp_path, 'from stepup.core.api import script, static\nstatic("x.py")\nscript("x.py")\n'
    )
    write_exe(
        tmp_path,
        "x.py",
        """
        from stepup.core.script import driver

        def info():
            return {"out": "x.txt"}

        def run(out):
            raise RuntimeError("cannot write " + out)

        driver()
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    assert "   SUCCESS │ ./x.py plan" in out
    assert "      FAIL │ ./x.py run" in out
    assert "RuntimeError: cannot write x.txt" in out
    assert "stepup_trio/" not in result.stdout
