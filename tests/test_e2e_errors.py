"""Bad input and failing steps, with the real ``stepup``: clear messages and exit codes."""

from helpers import FOOTER, RULE, header, lines, run_stepup, without_plan_success, write_plan
from test_api_support import box

PLAN_FAIL = "      FAIL │ ./plan.py"

HEADER = [*header(), "     START │ ./plan.py"]


def assert_no_internal_traceback(text: str) -> None:
    assert "stepup_trio/" not in text
    assert "site-packages" not in text


def test_no_plan(tmp_path):
    result = run_stepup(tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "File plan.py does not exist." in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".stepup").exists()


def test_plan_not_executable(tmp_path):
    write_plan(tmp_path, "").chmod(0o644)
    result = run_stepup(tmp_path)
    assert result.returncode == 1
    assert "File is not executable: plan.py" in result.stderr
    assert "chmod +x plan.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_without_shebang(tmp_path):
    write_plan(tmp_path, "print('hi')\n", shebang="import os")
    result = run_stepup(tmp_path)
    assert result.returncode == 1
    assert "First line of plan differs from '#!/usr/bin/env python': plan.py" in result.stderr


def test_plan_with_python3_shebang(tmp_path):
    write_plan(tmp_path, "", shebang="#!/usr/bin/env python3")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plan_outside_root(tmp_path):
    (tmp_path / "sub").mkdir()
    write_plan(tmp_path / "sub", "")
    result = run_stepup(tmp_path, "-n", "sub/plan.py")
    assert result.returncode == 1
    assert "must be in the root" in result.stderr


def test_bad_worker_count(tmp_path):
    write_plan(tmp_path, "")
    result = run_stepup(tmp_path, "-n", "-w0")
    assert result.returncode == 1
    assert "Number of workers must be strictly positive, got 0" in result.stderr
    result = run_stepup(tmp_path, "-n", "-wmany")
    assert result.returncode == 1
    assert "invalid number of workers" in result.stderr


def test_stepup_dir_is_a_file(tmp_path):
    write_plan(tmp_path, "")
    (tmp_path / ".stepup").write_text("not a directory")
    result = run_stepup(tmp_path)
    assert result.returncode == 1
    assert ".stepup exists but is not a directory" in result.stderr
    assert (tmp_path / ".stepup").read_text() == "not a directory"


def test_command_not_found_and_independent_step(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("nonexistingcommand_xyz arg")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert without_plan_success(lines(result.stdout)) == [
        *HEADER,
        "     START │ nonexistingcommand_xyz arg",
        "      FAIL │ nonexistingcommand_xyz arg",
        "────────────────────────────────── Step info ───────────────────────────────────",
        "Command               nonexistingcommand_xyz arg",
        "Return code           127",
        "──────────────────────────────── Standard error ────────────────────────────────",
        "/bin/sh: 1: nonexistingcommand_xyz: not found",
        RULE,
        "   WARNING │ 1 step(s) failed, see error messages above",
        "   WARNING │ Skipping cleanup due to incomplete build.",
        *FOOTER,
    ]
    assert (
        "ERROR:stepup_trio.director:Step FAILED: step:nonexistingcommand_xyz arg"
        in (tmp_path / ".stepup/director.log").read_text()
    )


def test_failing_step_does_not_stop_others(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("echo hello; echo oops >&2; exit 3")
        step("sleep 0.3; echo ok > ok.txt", out="ok.txt")
        step("cat ok.txt", inp="ok.txt")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    start = out.index("      FAIL │ echo hello; echo oops >&2; exit 3")
    assert out[start + 1 : start + 8] == [
        "────────────────────────────────── Step info ───────────────────────────────────",
        "Command               echo hello; echo oops >&2; exit 3",
        "Return code           3",
        "─────────────────────────────── Standard output ────────────────────────────────",
        "hello",
        "──────────────────────────────── Standard error ────────────────────────────────",
        "oops",
    ]
    assert "   SUCCESS │ cat ok.txt" in out
    assert (tmp_path / "ok.txt").read_text() == "ok\n"


def test_expected_output_not_created(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("true", out="missing.txt")\n')
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    start = out.index("      FAIL │ true")
    assert out[start + 1 : start + 7] == [
        "────────────────────────────────── Step info ───────────────────────────────────",
        "Command               true",
        "Return code           0",
        "───────────────────────── Expected outputs not created ─────────────────────────",
        "missing.txt",
        RULE,
    ]


def test_plan_raises(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("echo ok")
        raise ValueError("boom")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    assert "   SUCCESS │ echo ok" in out
    start = out.index("      FAIL │ ./plan.py")
    assert out[start + 1 : start + 5] == [
        "────────────────────────────────── Step info ───────────────────────────────────",
        "Command               ./plan.py",
        "Return code           1",
        "──────────────────────────────── Standard error ────────────────────────────────",
    ]
    assert 'raise ValueError("boom")' in result.stdout
    assert "ValueError: boom" in out


def test_input_nobody_provides(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("cat ${inp}", inp="nobody.txt")
        step("cat ${inp} > ${out}", inp="other.txt", out="x/y.txt")
        """,
    )
    (tmp_path / "nobody.txt").write_text("exists, but is not declared static\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 3
    assert lines(result.stdout) == [
        *HEADER,
        "   SUCCESS │ ./plan.py",
        "   WARNING │ 2 steps remain pending due to incomplete requirements",
        "───────────────────────────────── PENDING Step ─────────────────────────────────",
        "Command               cat nobody.txt",
        "Working directory     ./",
        "Inputs        STATIC  ./",
        "             PENDING  (nobody.txt)",
        "───────────────────────────────── PENDING Step ─────────────────────────────────",
        "Command               cat other.txt > x/y.txt",
        "Working directory     ./",
        "Inputs        STATIC  ./",
        "             PENDING  (other.txt)",
        "             PENDING  (x/)",
        "Outputs      PENDING  x/y.txt",
        RULE,
        "   WARNING │ Skipping cleanup due to incomplete build.",
        *FOOTER,
    ]


def test_one_pending_step_singular(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("cat a", inp="a")\n')
    result = run_stepup(tmp_path)
    assert result.returncode == 3
    assert "   WARNING │ 1 step remains pending due to incomplete requirements" in result.stdout


def test_cycle(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("cp a b", inp="a", out="b")
        step("cp b a", inp="b", out="a")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    out = lines(result.stdout)
    assert "      FAIL │ ./plan.py" in out
    start = out.index("CyclicError: New relation introduces cyclic dependency:")
    assert out[start + 1 : start + 6] == [
        "  file:a",
        "  step:cp a b",
        "  file:b",
        "  step:cp b a",
        "  file:a",
    ]
    assert 'step("cp b a", inp="b", out="a")' in result.stdout
    assert_no_internal_traceback(result.stdout)
    assert "step:cp b a" not in (tmp_path / ".stepup/director.log").read_text()


def test_same_output_twice(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("echo first > a", out="a")
        step("echo second > a", out="a")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert "GraphError: Output is already created: a" in lines(result.stdout)
    assert_no_internal_traceback(result.stdout)
    # What was built stays built.
    assert "   SUCCESS │ echo first > a" in result.stdout
    assert (tmp_path / "a").read_text() == "first\n"


def test_same_step_twice(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("touch a", out="a")
        step("touch a", out="a")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert "GraphError: Cannot define a step twice: step:touch a" in lines(result.stdout)


def test_script_without_shebang(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("./script.sh")\n')
    (tmp_path / "script.sh").write_text("echo hi\n")
    (tmp_path / "script.sh").chmod(0o755)
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert "Script does not start with a shebang." in result.stdout


def test_input_gone_before_start(tmp_path):
    """A step whose input vanished fails without a START line, as in StepUp 1.3.1."""
    (tmp_path / "a.txt").write_text("hi\n")
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("a.txt")
        step("rm a.txt")
        step("cat a.txt", inp="a.txt")
        """,
    )
    result = run_stepup(tmp_path, "-n", "-w1")
    assert result.returncode == 2
    assert lines(result.stdout) == [
        *header(workers=1),
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     START │ rm a.txt",
        "   SUCCESS │ rm a.txt",
        "      FAIL │ cat a.txt",
        "────────────────────────────────── Step info ───────────────────────────────────",
        "Command               cat a.txt",
        "──────────────────────────────── Invalid inputs ────────────────────────────────",
        "STATIC Path does not exist: a.txt",
        RULE,
        "   WARNING │ 1 step(s) failed, see error messages above",
        "   WARNING │ Skipping cleanup due to incomplete build.",
        *FOOTER,
    ]


def test_refused_definition_stops_the_plan_there(tmp_path):
    """Step definitions are posted (not waited for): a refused one is still reported at the
    line that made it, and what the plan defined after it is not performed."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        step("echo a > ${out}", out="a.txt")
        step("echo b > ${out}", out="a.txt")
        for i in range(100):
            step(f"echo {i} > ${{out}}", out=f"after{i}.txt")
        """,
    )
    result = run_stepup(tmp_path, "-n", "-w1")
    assert result.returncode == 2
    out = lines(result.stdout)
    assert box(result.stdout, PLAN_FAIL, "Standard error") == [
        "Traceback (most recent call last):",
        f'  File "{tmp_path}/./plan.py", line 4, in <module>',
        '    step("echo b > ${out}", out="a.txt")',
        "GraphError: Output is already created: a.txt",
    ]
    assert "   SUCCESS │ echo a > a.txt" in out
    assert not any("after" in line for line in out)
    assert not list(tmp_path.glob("after*"))


def test_refused_definition_at_exit(tmp_path):
    """The last definition of a plan is refused: the plan still fails, with the same report."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        def define():
            step("echo a > ${out}", out="a.txt")
            step("echo b > ${out}", out="a.txt")
        define()
        print("the plan ran to its end")
        """,
    )
    result = run_stepup(tmp_path, "-n", "-w1")
    assert result.returncode == 2
    out = lines(result.stdout)
    assert PLAN_FAIL in out
    assert box(result.stdout, PLAN_FAIL, "Standard error") == [
        "Traceback (most recent call last):",
        f'  File "{tmp_path}/./plan.py", line 6, in <module>',
        "    define()",
        f'  File "{tmp_path}/./plan.py", line 5, in define',
        '    step("echo b > ${out}", out="a.txt")',
        "GraphError: Output is already created: a.txt",
    ]
    assert_no_internal_traceback(result.stdout)
