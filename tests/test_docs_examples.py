"""The example projects of the how-to pages give exactly the output that the pages show.

Every folder under ``docs/examples/`` with an ``expected_stdout.txt`` is copied to a temporary
folder and run as a reader would run it: its ``scenario.sh`` if it has one (several runs with
edits in between), else ``stepup -n -w1``. With one worker the order of the output lines is
fixed. The pages include ``expected_stdout.txt`` as it is, so what they show is what is checked.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import clean_env, mask_socket, run_stepup

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
HOWTO = Path(__file__).parent.parent / "docs" / "howto"

# The exit code that each example's page promises; 0 unless listed. For a scenario, this is
# the exit code of the script, which is that of its last run.
EXIT_CODES = {
    "optional_blocked": 3,  # a blocked step leaves two steps pending
}


def checked_examples() -> list[str]:
    return sorted(path.parent.name for path in EXAMPLES.glob("*/expected_stdout.txt"))


def run_example(folder: Path) -> subprocess.CompletedProcess:
    if (folder / "scenario.sh").exists():
        return subprocess.run(
            ["./scenario.sh"],
            cwd=folder,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    return run_stepup(folder, "-n", "-w1")


@pytest.mark.parametrize("name", checked_examples())
def test_example_output(name: str, tmp_path: Path):
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder, symlinks=True)
    (folder / "expected_stdout.txt").unlink()
    result = run_example(folder)
    expected = (EXAMPLES / name / "expected_stdout.txt").read_text()
    assert mask_socket(result.stdout) == expected, result.stderr
    assert result.returncode == EXIT_CODES.get(name, 0), result.stdout + result.stderr


# Pages about interactive use are checked by the watch-mode tests, which drive a live stepup.
TESTED_ELSEWHERE = {
    "interactive": "tests/test_e2e_watch.py and tests/test_e2e_keyboard.py",
    "control": "tests/test_e2e_watch.py",
}


def test_every_howto_page_has_a_checked_example():
    pages = sorted(path.stem for path in HOWTO.glob("*.md"))
    assert pages, HOWTO
    assert sorted(set(pages) - set(TESTED_ELSEWHERE)) == checked_examples()


def test_pool_limits_concurrency(tmp_path: Path):
    """The pools example with three workers: simulate.sh fails if two of its steps overlap."""
    folder = tmp_path / "pools"
    shutil.copytree(EXAMPLES / "pools", folder, symlinks=True)
    result = run_stepup(folder, "-n", "-w3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for name in "alpha", "beta", "gamma":
        assert (folder / f"{name}.txt").read_text() == f"Result for {name}.txt\n"


def test_examples_are_executable():
    """A reader copies the folder and runs it: plans and scripts keep their x bit and shebang."""
    for name in checked_examples():
        folder = EXAMPLES / name
        for path in [folder / "plan.py", *folder.glob("scenario.sh")]:
            assert path.stat().st_mode & 0o111, path
        assert (folder / "plan.py").read_text().startswith("#!/usr/bin/env python\n"), folder
