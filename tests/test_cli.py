"""The command line: options, worker counts, and what steps see of stepup."""

import re
import subprocess
import sys

import pytest
from helpers import clean_env, lines, run_stepup, write_plan

from stepup_trio import __version__
from stepup_trio.cli import num_workers


@pytest.mark.parametrize(
    ("value", "cores", "expected"),
    [("3", 2, 3), ("1", 8, 1), ("0.5", 2, 1), ("2.0", 2, 4), ("1.2", 2, 2), ("1.5", 3, 4)],
)
def test_num_workers(value, cores, expected):
    assert num_workers(value, cores) == expected


def test_version():
    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"stepup-trio {__version__}"


def test_help_mentions_options():
    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio", "--help"], capture_output=True, text=True
    )
    for option in ("--root", "-w", "-j", "--show-perf", "--explain-rerun", "--non-interactive"):
        assert option in result.stdout


def test_bad_option(tmp_path):
    result = run_stepup(tmp_path, "--no-such-option")
    assert result.returncode == 1
    assert "unrecognized arguments: --no-such-option" in result.stderr


def test_module_entry_point_runs_a_build(tmp_path):
    write_plan(
        tmp_path, 'from stepup.core.api import step\nstep("echo hi > hi.txt", out="hi.txt")\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio", "-n", "-j1"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  DIRECTOR │ Launched worker 0" in result.stdout
    assert "  DIRECTOR │ Launched worker 1" not in result.stdout
    assert (tmp_path / "hi.txt").read_text() == "hi\n"


def test_root_option(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    write_plan(
        project, 'from stepup.core.api import step\nstep("pwd > where.txt", out="where.txt")\n'
    )
    result = run_stepup(tmp_path, "-n", "-w1", "--root", "project")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"Changing to {project}\n")
    assert (project / "where.txt").read_text().strip() == str(project)
    assert (project / ".stepup/workflow.mpk.xz").is_file()
    assert not (tmp_path / ".stepup").exists()


def test_stepup_root_variable(tmp_path):
    write_plan(tmp_path, "")
    result = run_stepup(tmp_path / "..", "-n", "-w1", STEPUP_ROOT=str(tmp_path))
    assert result.returncode == 0
    assert (tmp_path / ".stepup").is_dir()


def test_show_perf_prefix(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("true")\n')
    result = run_stepup(tmp_path, "-n", "-w2", "-s")
    assert result.returncode == 0
    for line in lines(result.stdout)[:-1]:
        assert re.fullmatch(r" {0,3}\d+\.\d\d +\d+ +[A-Z]+ │ .*", line), line
    assert "Performance details" not in result.stdout


def test_show_perf_details(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import step\nstep("true")\n')
    result = run_stepup(tmp_path, "-n", "-w2", "-ss")
    assert result.returncode == 0
    out = lines(result.stdout)
    start = out.index(
        "───────────────────────────── Performance details ──────────────────────────────"
    )
    assert re.fullmatch(r"User CPU time \[s\]:   +\d+\.\d{4}", out[start + 1])
    assert re.fullmatch(r"System CPU time \[s\]: +\d+\.\d{4}", out[start + 2])
    assert re.fullmatch(r"Total CPU time \[s\]:  +\d+\.\d{4}", out[start + 3])
    assert re.fullmatch(r"Wall time \[s\]:       +\d+\.\d{4}", out[start + 4])


COMMAND = "env | grep -E '^(STEPUP_|HERE=|ROOT=)' | sort > env.txt"


def test_step_environment(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("sub/")
        step("COMMAND", out="env.txt", workdir="sub/")
        """.replace("COMMAND", COMMAND),
    )
    (tmp_path / "sub").mkdir()
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout
    assert f"   SUCCESS │ {COMMAND}  # wd=sub/" in result.stdout
    env = dict(line.split("=", 1) for line in (tmp_path / "sub/env.txt").read_text().splitlines())
    socket_path = re.search(r"Listening on (\S+)", result.stdout)[1]
    assert env == {
        "HERE": "sub",
        "ROOT": "..",
        "STEPUP_DIRECTOR_SOCKET": socket_path,
        "STEPUP_ROOT": str(tmp_path),
        "STEPUP_STEP_KEY": f"step:{COMMAND}  # wd=sub/",
    }


def test_workdir_and_static_inputs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/inp.txt").write_text("input line\n")
    write_plan(
        tmp_path,
        """
        from stepup.core.api import copy, mkdir, static, step
        static("sub/", "sub/inp.txt")
        step("cp ${inp} ${out}", inp="inp.txt", out="out.txt", workdir="sub/")
        mkdir("made/")
        step("echo x > ${out}", out="made/deep.txt")
        step("cat ${inp}", inp=["made/deep.txt", "sub/out.txt"])
        copy("sub/out.txt", "made/")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout
    out = lines(result.stdout)
    assert "   SUCCESS │ cp inp.txt out.txt  # wd=sub/" in out
    start = out.index("   SUCCESS │ cat made/deep.txt sub/out.txt")
    assert out[start + 2 : start + 4] == ["x", "input line"]
    assert (tmp_path / "made/out.txt").read_text() == "input line\n"
    # The mkdir step runs before the steps that write into made/.
    assert out.index("   SUCCESS │ mkdir -p made/") < out.index(
        "     START │ echo x > made/deep.txt"
    )


def test_static_errors(tmp_path):
    write_plan(tmp_path, 'from stepup.core.api import static\nstatic("missing.txt")\n')
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert "MissingPathError: Path does not exist: missing.txt" in result.stdout
    write_plan(tmp_path, 'from stepup.core.api import static\nstatic("sub/foo.txt")\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/foo.txt").write_text("")
    result = run_stepup(tmp_path)
    assert result.returncode == 2
    assert "GraphError: Static path has no parent path node: sub/foo.txt" in result.stdout
