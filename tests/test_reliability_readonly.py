"""Read-only ``.stepup/``, dump, journal and project folder: a clear message, never a traceback,
and never a deleted output.

The tests run stepup as a user for whom ``chmod`` matters. Root ignores file permissions
through the capabilities CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER: as root, stepup
runs without them (dropped from the bounding set before exec, which keeps the venv in /root
readable, as it belongs to root). Without root, stepup runs as the user itself.
"""

import ctypes
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import STEPUP, clean_env, run_stepup, start_stepup, wait_for, write_plan

PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
DAC_CAPABILITIES = (1, 2, 3)


def drop_dac_capabilities() -> None:
    """In the child before exec: root keeps uid 0 but obeys file permissions from then on."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in DAC_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def restricted(args: list[str], folder: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=drop_dac_capabilities if os.geteuid() == 0 else None,
    )


def run_restricted(folder: Path) -> subprocess.CompletedProcess:
    """``stepup -n -w2`` as a user that cannot write to read-only files and folders."""
    return restricted([STEPUP, "-n", "-w2"], folder)


@pytest.fixture(scope="module", autouse=True)
def permissions_matter(tmp_path_factory):
    """Skip (with the reason) when this user can write to a read-only folder anyway."""
    folder = tmp_path_factory.mktemp("permissions")
    readonly = folder / "readonly"
    readonly.mkdir(mode=0o555)
    try:
        result = restricted(["sh", "-c", "touch readonly/probe"], folder, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"Cannot run stepup without the permission to override file modes: {exc}")
    finally:
        readonly.chmod(0o755)
    if result.returncode == 0:
        pytest.skip("This user can write in read-only folders: file modes cannot be tested here.")


@pytest.fixture
def project(tmp_path):
    """A project built once; its permissions are restored at the end, for the cleanup."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("src.txt")
        step("cp src.txt copy.txt", inp="src.txt", out="copy.txt")
        step("cat copy.txt copy.txt > double.txt", inp="copy.txt", out="double.txt")
        """,
    )
    (tmp_path / "src.txt").write_text("source\n")
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    yield tmp_path
    make_writable(tmp_path, *tmp_path.rglob("*"))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of the project, ``.stepup`` included, except the logs."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix != ".log"
    }


def make_readonly(*paths: Path) -> None:
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)


def make_writable(*paths: Path) -> None:
    for path in paths:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR * path.is_dir())


def assert_clear_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.stderr.startswith("stepup: error: "), result.stderr
    assert fragment in result.stderr, result.stderr


def test_readonly_stepup_dir(project):
    # As after `chmod -R a-w .stepup`: the folder and its files (the logs of the last run too).
    before = snapshot(project)
    stepup_dir = project / ".stepup"
    make_readonly(stepup_dir, *stepup_dir.iterdir())
    (project / "src.txt").write_text("changed\n")
    result = run_restricted(project)
    assert_clear_error(result, "Cannot prepare .stepup/: Permission denied")
    # Nothing was built, removed or written.
    assert snapshot(project) == {**before, "src.txt": b"changed\n"}

    # Once .stepup is writable again (chmod -R u+w .stepup), the build goes on from the dump.
    make_writable(stepup_dir, *stepup_dir.iterdir())
    result = run_restricted(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  WORKFLOW │ Loaded from .stepup/workflow.mpk.xz" in result.stdout
    assert (project / "double.txt").read_text() == "changed\nchanged\n"


def test_readonly_stepup_dir_without_logs(project):
    # A read-only .stepup that holds the dump and the lock, but no logs (say, unpacked from an
    # archive without them).
    stepup_dir = project / ".stepup"
    for log in stepup_dir.glob("*.log"):
        log.unlink()
    before = snapshot(project)
    make_readonly(stepup_dir)
    result = run_restricted(project)
    assert_clear_error(result, ".stepup")
    assert snapshot(project) == before


@pytest.mark.parametrize("mode", [0o444, 0o000], ids=["readonly", "unreadable"])
def test_readonly_dump_file(project, mode):
    dump = project / ".stepup/workflow.mpk.xz"
    dump.chmod(mode)
    (project / "src.txt").write_text("changed\n")
    result = run_restricted(project)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in out + result.stderr
    if mode == 0o444:
        # Read as usual, and replaced (not written in place) at the end of the run.
        assert "  WORKFLOW │ Loaded from .stepup/workflow.mpk.xz" in out
        assert "      SKIP │ ./plan.py" in out
    else:
        # Kept aside, with a clear message; a fresh start that deletes nothing.
        assert "  WORKFLOW │ Exception while loading workflow .stepup/workflow.mpk.xz." in out
        assert "Permission denied" in out
        assert "nothing already built is deleted" in out
        assert (project / ".stepup/workflow-bug.mpk.xz").exists()
    assert "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz" in out
    assert (project / "double.txt").read_text() == "changed\nchanged\n"
    # The new dump is used by the next run, which has nothing left to do.
    again = run_restricted(project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "  WORKFLOW │ Loaded from .stepup/workflow.mpk.xz" in again.stdout
    assert "START" not in again.stdout


def test_readonly_project_folder(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("echo hi > hi.txt", out="hi.txt")
        """,
    )
    plan = (tmp_path / "plan.py").read_bytes()
    tmp_path.chmod(0o555)
    try:
        result = run_restricted(tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert_clear_error(result, "Cannot prepare .stepup/: Permission denied")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plan.py"]
    assert (tmp_path / "plan.py").read_bytes() == plan


@pytest.mark.parametrize("where", ["stepup_dir", "project"])
def test_readonly_message_says_what_to_do(project, where):
    target = project / ".stepup" if where == "stepup_dir" else project
    if where == "project":
        (project / ".stepup/lock").unlink()
        for path in (project / ".stepup").iterdir():
            path.unlink()
        (project / ".stepup").rmdir()
    make_readonly(target)
    result = run_restricted(project)
    assert_clear_error(result, "Permission denied")
    assert "chmod" in result.stderr or "writable" in result.stderr, result.stderr


def test_readonly_journal_file(project):
    # A journal left by a killed run, then made read-only (say, by `chmod -R a-w .stepup`
    # followed by `chmod u+w .stepup`).
    write_plan(
        project,
        """
        from stepup.core.api import static, step
        static("src.txt")
        step("cp src.txt copy.txt", inp="src.txt", out="copy.txt")
        step("until [ -f go ]; do sleep 0.1; done", inp="copy.txt")
        """,
    )
    (project / "src.txt").write_text("changed\n")
    process = start_stepup(project, "-n", "-w2")
    try:
        assert wait_for(lambda: (project / "copy.txt").read_text() == "changed\n", timeout=60)
        journal = project / ".stepup/journal.mpk"
        assert wait_for(lambda: journal.exists() and journal.stat().st_size > 100, timeout=30)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    before = snapshot(project)
    journal.chmod(0o444)
    (project / "go").write_text("")
    result = run_restricted(project)
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    # Either a clear error that names the journal, or a build that goes on.
    if result.returncode == 1:
        assert "journal.mpk" in result.stderr, result.stderr
    else:
        assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "copy.txt").read_bytes() == before["copy.txt"]
