"""Every error a plan can make with the plan API (SPEC sections 3 and 10, decision 8).

Each case is a sub plan in its own folder. A first run builds ``built.out`` in each folder;
in the second run each sub plan defines that same step and then makes the faulty call. Each
sub plan must FAIL with one clear message at the end of its ``Standard error`` box (only the
plan's own lines in the traceback, nothing from stepup_trio), stepup must exit with 2, and what
was built must stay on disk. All cases share these two runs.

Amend errors (raised in a running step, not a plan) are in test_api_amend.py.
"""

import re

import attrs
import pytest
from helpers import lines, run_stepup, write_plan
from test_api_support import assert_clean_error, box, make_files, rule, write_script


@attrs.frozen
class Case:
    body: str
    tail: list[str]
    files: dict[str, str] = attrs.Factory(dict)
    xfail: str | None = None


CASES = {
    # static()
    "s_missing": Case(
        'static("missing.txt")',
        ["MissingPathError: Path does not exist: missing.txt"],
    ),
    "s_dir_without_slash": Case(
        'static("subdir")',
        ["StepUpError: Directory without trailing separator: subdir"],
        {"subdir/x": ""},
    ),
    "s_file_with_slash": Case(
        'static("f.txt/")',
        ["MissingPathError: Path does not exist: f.txt/"],
        {"f.txt": ""},
    ),
    "s_no_parent": Case(
        'static("sub/foo.txt")',
        ["GraphError: Static path has no parent path node: s_no_parent/sub/foo.txt"],
        {"sub/foo.txt": ""},
    ),
    "s_no_static_parent": Case(
        'mkdir("d/")\nstatic("d/x.txt")',
        ["GraphError: Static path has no static parent path node: s_no_static_parent/d/x.txt"],
        {"d/x.txt": ""},
    ),
    "s_twice": Case(
        'static("a.txt")\nstatic("a.txt")',
        ["GraphError: Static path already exists: s_twice/a.txt"],
        {"a.txt": ""},
    ),
    "s_step_output": Case(
        'step("touch o.txt", out="o.txt")\nstatic("o.txt")',
        ["GraphError: Static path already exists: s_step_output/o.txt"],
        {"o.txt": ""},
    ),
    "s_invalid_var": Case(
        'static("${1abc}")',
        ["StepUpError: The path contains invalid shell variable identifiers: ${1abc}"],
    ),
    # glob()
    "g_required": Case(
        'glob("*.nothing", _required=True)',
        ["MissingPathError: Could not find any matching paths on the filesystem."],
    ),
    "g_twice": Case(
        'glob("*.dat")\nglob("a.*")',
        ["GraphError: Static path already exists: g_twice/a.dat"],
        {"a.dat": ""},
    ),
    "g_no_pattern": Case(
        "glob()",
        ["StepUpError: At least one path is required for glob."],
    ),
    "g_underscore": Case(
        'glob("*.dat", _foo="x")',
        ["StepUpError: Substitution names cannot start with an underscore: _foo"],
    ),
    "g_single": Case(
        'glob("*.dat").single()',
        ["GlobError: There are 2 matching files, not just one."],
        {"a.dat": "", "b.dat": ""},
    ),
    # glob(_defer=True)
    "dg_required": Case(
        'glob("*.md", _defer=True, _required=True)',
        ["StepUpError: Combination of options not supported: _defer=True, _required=True"],
    ),
    "dg_named": Case(
        'glob("${*x}.md", _defer=True)',
        ["StepUpError: Deferred globs cannot have named wildcards."],
    ),
    "dg_absolute": Case(
        'glob("/tmp/*.md", _defer=True)',
        ["StepUpError: Deferred glob patterns cannot be absolute paths: /tmp/*.md"],
    ),
    "dg_twice": Case(
        'glob("*.md", _defer=True)\nglob("*.md", _defer=True)',
        ["GraphError: Cannot define a deferred nglob twice: dg:'dg_twice/*.md'"],
    ),
    "dg_missing_input": Case(
        'glob("static/**", _defer=True)\nstep("cat static/x.txt", inp="static/x.txt")',
        ["StepUpError: Path does not exist: dg_missing_input/static/x.txt"],
        {"static/y.txt": ""},
    ),
    "dg_missing_dir": Case(
        'glob("static/**", _defer=True)\nstep("cat static/x.txt", inp="static/x.txt")',
        ["StepUpError: Path does not exist: dg_missing_dir/static/"],
    ),
    "dg_multiple": Case(
        'glob("*.md", _defer=True)\nglob("README.*", _defer=True)\n'
        'step("cat README.md", inp="README.md")',
        ["GraphError: Multiple deferred globs match: dg_multiple/README.md"],
        {"README.md": ""},
    ),
    "dg_output": Case(
        'glob("*.md", _defer=True)\nstep("echo > x.md", out="x.md")',
        ["GraphError: Cannot manually add a file that matches a deferred glob: dg_output/x.md"],
    ),
    "dg_static": Case(
        'glob("*.md", _defer=True)\nstatic("x.md")',
        ["GraphError: Cannot manually add a file that matches a deferred glob: dg_static/x.md"],
        {"x.md": ""},
    ),
    # step()
    "st_input_volatile": Case(
        'step("echo > v.log", vol="v.log")\nstep("cat v.log", inp="v.log")',
        ["GraphError: Input is volatile: st_input_volatile/v.log"],
    ),
    "st_volatile_input": Case(
        'step("cat v.log", inp="v.log")\nstep("echo > v.log", vol="v.log")',
        ["GraphError: An input to an existing step cannot be volatile: st_volatile_input/v.log"],
    ),
    "st_volatile_dir": Case(
        'step("mkdir -p d", vol="d/")',
        ["GraphError: A volatile output cannot be a directory: st_volatile_dir/d/"],
    ),
    "st_volatile_twice": Case(
        'step("echo 1 > v.log", vol="v.log")\nstep("echo 2 > v.log", vol="v.log")',
        ["GraphError: Volatile output is already created: st_volatile_twice/v.log"],
    ),
    "st_output_twice": Case(
        'step("echo 1 > o.txt", out="o.txt")\nstep("echo 2 > o.txt", out="o.txt")',
        ["GraphError: Output is already created: st_output_twice/o.txt"],
    ),
    "st_step_twice": Case(
        'step("touch o.txt", out="o.txt")\nstep("touch o.txt", out="o.txt")',
        ["GraphError: Cannot define a step twice: step:touch o.txt  # wd=st_step_twice/"],
    ),
    "st_cycle": Case(
        'step("cp a b", inp="a", out="b")\nstep("cp b a", inp="b", out="a")',
        [
            "CyclicError: New relation introduces cyclic dependency:",
            "  file:st_cycle/a",
            "  step:cp a b  # wd=st_cycle/",
            "  file:st_cycle/b",
            "  step:cp b a  # wd=st_cycle/",
            "  file:st_cycle/a",
        ],
    ),
    "st_undefined_var": Case(
        'step("cat ${inp}", inp="${NOPE_VAR_XYZ}/x")',
        ["StepUpError: Undefined shell variable: NOPE_VAR_XYZ"],
    ),
    "p_size_zero": Case(
        'pool("zero", 0)',
        ["GraphError: The size of pool 'zero' must be positive, got 0."],
    ),
    # copy()
    "c_copy_same": Case(
        'copy("a.txt", "a.txt")',
        ["StepUpError: The output path cannot equal the input path: a.txt"],
        {"a.txt": ""},
    ),
}

# Cases outside the table: they need a check of their own.
EXTRA = {
    "dg_after_output": 'step("echo > x.md", out="x.md")\nglob("*.md", _defer=True)',
    "mkdir_no_parent": 'mkdir("x/y/")',
}

BUILD = 'step("echo ok > built.out", out="built.out")\n'


def fail_line(name: str) -> str:
    return f"      FAIL │ ./plan.py  # wd={name}/"


@pytest.fixture(scope="module")
def error_runs(tmp_path_factory):
    """The first run defines the build steps in the top plan, the second in the sub plans.

    The steps are the same, so the second run skips them; only the sub plans run (once each).
    """
    folder = tmp_path_factory.mktemp("errors")
    bodies = {name: case.body for name, case in CASES.items()} | EXTRA
    first_plan = ["from stepup.core.api import static, step"]
    second_plan = ["from stepup.core.api import plan, static"]
    for name, body in bodies.items():
        make_files(folder / name, CASES[name].files if name in CASES else {})
        write_script(folder / name / "plan.py", "from stepup.core.api import *\n" + BUILD + body)
        first_plan.append(f'static("{name}/", "{name}/plan.py")')
        first_plan.append(f'step("echo ok > built.out", out="built.out", workdir="{name}")')
        second_plan.append(f'static("{name}/", "{name}/plan.py")\nplan("{name}")')
    write_plan(folder, "\n".join(first_plan) + "\n")
    first = run_stepup(folder)
    write_plan(folder, "\n".join(second_plan) + "\n")
    second = run_stepup(folder)
    return folder, first, second


def test_first_run_builds(error_runs):
    folder, first, _ = error_runs
    assert first.returncode == 0, first.stdout
    for name in list(CASES) + list(EXTRA):
        assert (folder / name / "built.out").read_text() == "ok\n"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=case.xfail))
        if case.xfail
        else name
        for name, case in CASES.items()
    ],
)
def test_error_message(error_runs, name):
    _, _, second = error_runs
    stderr = box(second.stdout, fail_line(name), "Standard error")
    assert stderr[0] == "Traceback (most recent call last):"
    assert stderr[1].startswith(f'  File "{error_runs[0]}/{name}/./plan.py", line ')
    tail = CASES[name].tail
    assert stderr[-len(tail) :] == tail
    assert_clean_error("\n".join(stderr))
    step_info = box(second.stdout, fail_line(name), "Step info")
    assert step_info == [
        "Command               ./plan.py",
        f"Working directory     {name}/",
        "Return code           1",
    ]


def test_exit_code_and_outputs_kept(error_runs):
    folder, _, second = error_runs
    assert second.returncode == 2
    out = lines(second.stdout)
    assert "   WARNING │ Skipping cleanup due to incomplete build." in out
    assert not any(" CLEAN │" in line for line in out)
    for name in list(CASES) + list(EXTRA):
        # The step defined before the faulty call did not change: it is skipped, its output kept.
        assert f"      SKIP │ echo ok > built.out  # wd={name}/" in out
        assert (folder / name / "built.out").read_text() == "ok\n"
    failed = [line for line in out if re.match(r" +FAIL │", line)]
    assert len(failed) == len(set(failed))
    assert f"   WARNING │ {len(failed)} step(s) failed, see error messages above" in out


def test_mkdir_without_known_parent_stays_pending(error_runs):
    """mkdir() needs its parent directory to be known: the step waits (SPEC 3.7)."""
    _, _, second = error_runs
    out = lines(second.stdout)
    start = out.index("Command               mkdir -p x/y/")
    assert out[start - 1] == rule("PENDING Step")
    assert out[start : start + 5] == [
        "Command               mkdir -p x/y/",
        "Working directory     mkdir_no_parent/",
        "Inputs        STATIC  mkdir_no_parent/",
        "             PENDING  (mkdir_no_parent/x/)",
        "Outputs      PENDING  mkdir_no_parent/x/y/",
    ]
    assert "   SUCCESS │ ./plan.py  # wd=mkdir_no_parent/" in out


def test_output_defined_before_deferred_glob(error_runs):
    _, _, second = error_runs
    assert fail_line("dg_after_output") in lines(second.stdout)
    stderr = box(second.stdout, fail_line("dg_after_output"), "Standard error")
    assert stderr[-1].startswith("GraphError: ")
    assert stderr[-1].endswith(": dg_after_output/x.md")
