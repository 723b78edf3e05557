"""Watch mode end to end: a real interactive ``stepup -w1``, driven like a user would drive it.

Each test starts ``stepup`` without ``-n`` in a temporary folder, changes files, and talks to it
through small driver scripts that use ``stepup_trio.interact`` (they find the director's socket
in ``.stepup/director.log``), or through the ``stepup run|wait|...`` subcommands. The expected
lines were checked against what StepUp 1.3.1 prints for the same scenarios; where stepup-trio
differs, a comment says so.
"""

from pathlib import Path

from helpers import pid_alive, wait_for, worker_pids, write_plan
from watching import (
    DUMPED,
    END,
    PLAN_SUCCESS,
    START,
    control,
    drive,
    inotify_watches,
    ok,
    stepup,
    without,
)

__all__ = ["stepup"]  # The fixture, used by every test here.

COPY_PLAN = """
from stepup.core.api import static, step
static("inp.txt")
step("cp inp.txt out.txt", inp="inp.txt", out="out.txt")
"""
# What StepUp 1.3.1 prints for COPY_PLAN, up to its first watch phase.
COPY_FIRST_RUN = [
    *START,
    "     START │ ./plan.py",
    PLAN_SUCCESS,
    "     START │ cp inp.txt out.txt",
    "   SUCCESS │ cp inp.txt out.txt",
    DUMPED,
    "     PHASE │ watch",
]


# The scenarios of the issue


def test_edit_input_and_delete_output_as_stepup_131(tmp_path, stepup):
    """(a) An edited static input reruns its step; (d) so does a deleted output."""
    write_plan(tmp_path, COPY_PLAN)
    (tmp_path / "inp.txt").write_text("hello\n")
    session = stepup()
    drive(
        tmp_path,
        """
        import os
        wait()
        with open("inp.txt", "w") as fh:
            fh.write("changed\\n")
        watch_update("inp.txt")
        run()
        wait()
        os.remove("out.txt")
        watch_delete("out.txt")
        run()
        wait()
        """,
    )
    # The director watches the root (the only directory of this workflow) with inotify.
    assert inotify_watches(session.pid) == 1
    drive(tmp_path, "join()")
    assert session.finish() == 0
    assert session.lines == [
        *COPY_FIRST_RUN,
        "   UPDATED │ inp.txt",
        "     PHASE │ run",
        "     START │ cp inp.txt out.txt",
        "   SUCCESS │ cp inp.txt out.txt",
        DUMPED,
        "     PHASE │ watch",
        "   DELETED │ out.txt",
        "     PHASE │ run",
        "     START │ cp inp.txt out.txt",
        "   SUCCESS │ cp inp.txt out.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]
    assert (tmp_path / "out.txt").read_text() == "changed\n"
    assert worker_pids(tmp_path)
    assert not any(pid_alive(pid) for pid in worker_pids(tmp_path))


def test_delete_and_restore_static_input(tmp_path, stepup):
    """(b) A deleted input leaves its step pending; restored unchanged, the step is skipped."""
    write_plan(tmp_path, COPY_PLAN)
    (tmp_path / "inp.txt").write_text("hello\n")
    session = stepup()
    drive(
        tmp_path,
        """
        import os
        wait()
        os.remove("inp.txt")
        watch_delete("inp.txt")
        run()
        wait()
        print(os.path.exists("out.txt"), flush=True)
        with open("inp.txt", "w") as fh:
            fh.write("hello\\n")
        watch_update("inp.txt")
        run()
        join()
        """,
    )
    assert session.finish() == 0
    assert session.lines == [
        *COPY_FIRST_RUN,
        "   DELETED │ inp.txt",
        "     PHASE │ run",
        "   WARNING │ 1 step remains pending due to incomplete requirements",
        "───────────────────────────────── PENDING Step ─────────────────────────────────",
        "Command               cp inp.txt out.txt",
        "Working directory     ./",
        "Inputs        STATIC  ./",
        "             MISSING  inp.txt",
        "Outputs      PENDING  out.txt",
        "────────────────────────────────────────────────────────────────────────────────",
        "   WARNING │ Skipping cleanup due to incomplete build.",
        DUMPED,
        "     PHASE │ watch",
        "   UPDATED │ inp.txt",
        "     PHASE │ run",
        "      SKIP │ cp inp.txt out.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]


def test_step_removed_from_plan_is_cleaned(tmp_path, stepup):
    """(c) Editing plan.py so that a step disappears removes that step's output."""
    plan = write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("inp.txt")
        step("cp inp.txt out.txt", inp="inp.txt", out="out.txt")
        step("cp inp.txt out2.txt", inp="inp.txt", out="out2.txt")
        """,
    )
    (tmp_path / "inp.txt").write_text("hello\n")
    session = stepup()
    drive(tmp_path, "wait()")
    assert (tmp_path / "out2.txt").is_file()
    plan.write_text(plan.read_text().replace('step("cp inp.txt out2.txt"', "# "))
    drive(tmp_path, 'watch_update("plan.py"); run(); join()')
    assert session.finish() == 0
    # StepUp 1.3.1 prints the same lines; only the place of the plan's SUCCESS races.
    assert without(session.lines, PLAN_SUCCESS, 2) == [
        *START,
        "     START │ ./plan.py",
        "     START │ cp inp.txt out.txt",
        "   SUCCESS │ cp inp.txt out.txt",
        "     START │ cp inp.txt out2.txt",
        "   SUCCESS │ cp inp.txt out2.txt",
        DUMPED,
        "     PHASE │ watch",
        "   UPDATED │ plan.py",
        "     PHASE │ run",
        "     START │ ./plan.py",
        "      SKIP │ cp inp.txt out.txt",
        "     CLEAN │ out2.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]
    assert not (tmp_path / "out2.txt").exists()
    assert (tmp_path / "out.txt").is_file()


def test_touch_without_change_skips(tmp_path, stepup):
    """(e) A new mtime alone is seen, but the step's hash says nothing changed."""
    write_plan(tmp_path, COPY_PLAN)
    (tmp_path / "inp.txt").write_text("hello\n")
    session = stepup()
    drive(
        tmp_path,
        """
        import os
        wait()
        os.utime("inp.txt")
        watch_update("inp.txt")
        run()
        join()
        """,
    )
    assert session.finish() == 0
    assert session.lines == [
        *COPY_FIRST_RUN,
        "   UPDATED │ inp.txt",
        "     PHASE │ run",
        "      SKIP │ cp inp.txt out.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]


def test_new_file_matching_glob_reruns_plan(tmp_path, stepup):
    """(f) A new file that a glob of plan.py matches reruns plan.py, which plans a step for it."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import glob, step
        for path in glob("data_*.txt"):
            step(f"cp {path} {path[:-4]}.out", inp=path, out=path[:-4] + ".out")
        """,
    )
    (tmp_path / "data_a.txt").write_text("a\n")
    (tmp_path / "ignored.txt").write_text("not matched\n")
    session = stepup()
    drive(
        tmp_path,
        """
        wait()
        with open("ignored.txt", "w") as fh:
            fh.write("no glob matches this file\\n")
        with open("data_b.txt", "w") as fh:
            fh.write("b\\n")
        watch_update("data_b.txt")
        run()
        join()
        """,
    )
    assert session.finish() == 0
    assert without(session.lines, PLAN_SUCCESS, 2) == [
        *START,
        "     START │ ./plan.py",
        "     START │ cp data_a.txt data_a.out",
        "   SUCCESS │ cp data_a.txt data_a.out",
        DUMPED,
        "     PHASE │ watch",
        "   UPDATED │ data_b.txt",
        "     PHASE │ run",
        "     START │ ./plan.py",
        "      SKIP │ cp data_a.txt data_a.out",
        "     START │ cp data_b.txt data_b.out",
        "   SUCCESS │ cp data_b.txt data_b.out",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]
    assert (tmp_path / "data_b.out").read_text() == "b\n"


def test_new_directory_is_watched_and_dropped(tmp_path, stepup):
    """A new directory that a glob matches gets a watch; when it is removed, so is the watch."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import glob, step
        glob("data*/")
        for path in glob("data*/*.txt"):
            step(f"cp {path} {path[:-4]}.out", inp=path, out=path[:-4] + ".out")
        """,
    )
    session = stepup()
    drive(tmp_path, "wait()")
    assert inotify_watches(session.pid) == 1
    drive(
        tmp_path,
        """
        import os
        os.mkdir("data1")
        with open("data1/x.txt", "w") as fh:
            fh.write("x\\n")
        watch_update("data1/x.txt")
        run()
        wait()
        """,
    )
    assert (tmp_path / "data1/x.out").read_text() == "x\n"
    assert inotify_watches(session.pid) == 2
    drive(
        tmp_path,
        """
        import os
        os.remove("data1/x.out")
        os.remove("data1/x.txt")
        os.rmdir("data1")
        watch_delete("data1/")
        run()
        wait()
        """,
    )
    assert inotify_watches(session.pid) == 1
    drive(tmp_path, "join()")
    assert session.finish() == 0
    assert without(session.lines, PLAN_SUCCESS, 3) == [
        *START,
        "     START │ ./plan.py",
        DUMPED,
        "     PHASE │ watch",
        "   UPDATED │ data1/",
        "   UPDATED │ data1/x.txt",
        "     PHASE │ run",
        "     START │ ./plan.py",
        "     START │ cp data1/x.txt data1/x.out",
        "   SUCCESS │ cp data1/x.txt data1/x.out",
        DUMPED,
        "     PHASE │ watch",
        "   DELETED │ data1/x.out",
        "   DELETED │ data1/x.txt",
        "   DELETED │ data1/",
        "     PHASE │ run",
        "     START │ ./plan.py",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]


def test_moved_directory_makes_its_consumers_pending(tmp_path, stepup):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("sub/", "sub/inp.txt")
        step("cp sub/inp.txt out.txt", inp="sub/inp.txt", out="out.txt")
        """,
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/inp.txt").write_text("hello\n")
    session = stepup()
    drive(
        tmp_path,
        """
        import os
        wait()
        os.rename("sub", "moved")
        watch_delete("sub/")
        run()
        join()
        """,
    )
    # The input is gone: the step must be pending, and the last run phase ends with 3.
    assert session.finish() == 3
    assert "   WARNING │ 1 step remains pending due to incomplete requirements" in session.lines


# A step that waits until the test creates the file "go": no timing assumptions.
GATE = "until [ -e go ]; do sleep 0.02; done"
SLOW_COPY = f"echo $$ > step.pid; {GATE}; cp inp.txt out.txt"
SLOW_COPY_PLAN = f"""
from stepup.core.api import static, step
static("inp.txt")
step("{SLOW_COPY.replace("$$", "$$$$")}", inp="inp.txt", out="out.txt")
"""


def wait_for_step(folder: Path) -> int:
    """Wait until the gated step has started; return the pid of its shell."""
    path = folder / "step.pid"
    assert wait_for(lambda: path.is_file() and path.read_text().strip(), timeout=20)
    return int(path.read_text())


def test_edit_during_later_run_phase_is_seen(tmp_path, stepup):
    """An input edited while a step runs counts in the next watch phase; outputs do not."""
    write_plan(tmp_path, SLOW_COPY_PLAN)
    (tmp_path / "inp.txt").write_text("one\n")
    (tmp_path / "go").write_text("")
    session = stepup()
    drive(tmp_path, "wait()")
    (tmp_path / "go").unlink()
    (tmp_path / "step.pid").unlink()
    (tmp_path / "inp.txt").write_text("two\n")
    drive(tmp_path, 'watch_update("inp.txt"); run()')
    step_pid = wait_for_step(tmp_path)
    (tmp_path / "inp.txt").write_text("three\n")
    (tmp_path / "go").write_text("")
    drive(tmp_path, 'wait(); watch_update("inp.txt"); run(); join()')
    assert session.finish() == 0
    assert not pid_alive(step_pid)
    # As in StepUp 1.3.1, an edit seen during the run is reported just before "PHASE │ watch".
    assert session.lines == [
        *START,
        "     START │ ./plan.py",
        PLAN_SUCCESS,
        f"     START │ {SLOW_COPY}",
        f"   SUCCESS │ {SLOW_COPY}",
        DUMPED,
        "     PHASE │ watch",
        "   UPDATED │ inp.txt",
        "     PHASE │ run",
        f"     START │ {SLOW_COPY}",
        f"   SUCCESS │ {SLOW_COPY}",
        DUMPED,
        "   UPDATED │ inp.txt",
        "     PHASE │ watch",
        "     PHASE │ run",
        f"      SKIP │ {SLOW_COPY}",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]
    assert (tmp_path / "out.txt").read_text() == "three\n"


def test_edit_during_first_run_phase_is_seen(tmp_path, stepup):
    write_plan(tmp_path, SLOW_COPY_PLAN)
    (tmp_path / "inp.txt").write_text("one\n")
    session = stepup()
    try:
        wait_for_step(tmp_path)
        (tmp_path / "inp.txt").write_text("two\n")
    finally:
        (tmp_path / "go").write_text("")
    drive(tmp_path, "join()")
    assert session.finish() == 0
    assert "   UPDATED │ inp.txt" in session.lines


# The subcommands, the lock, drain and shutdown


def test_subcommands_graph_and_cleanup(tmp_path, stepup):
    """(i) ``stepup graph g`` writes g.txt; (g) ``stepup cleanup out.txt`` removes out.txt."""
    write_plan(tmp_path, COPY_PLAN)
    (tmp_path / "inp.txt").write_text("hello\n")
    session = stepup()
    assert ok(tmp_path, "wait") == ""
    assert ok(tmp_path, "graph", "g") == ""
    for name in "g.txt", "g_creator.dot", "g_supplier.dot":
        assert (tmp_path / name).is_file(), name
    assert "cp inp.txt out.txt" in (tmp_path / "g.txt").read_text()
    assert ok(tmp_path, "cleanup", "out.txt") == "Removed 1 files and 0 directories.\n"
    assert not (tmp_path / "out.txt").exists()
    ok(tmp_path, "watch-delete", "out.txt")
    ok(tmp_path, "run")
    ok(tmp_path, "wait")
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    ok(tmp_path, "join")
    assert session.finish() == 0
    assert session.lines == [
        *COPY_FIRST_RUN,
        "   DELETED │ out.txt",
        "     PHASE │ run",
        "     START │ cp inp.txt out.txt",
        "   SUCCESS │ cp inp.txt out.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]


def test_second_stepup_on_the_same_root_is_refused(tmp_path, stepup):
    """(h) Only one stepup per root; stepup exits with the code of its last run phase."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        step("cp missing.txt out.txt", inp="missing.txt", out="out.txt")
        """,
    )
    session = stepup()
    ok(tmp_path, "wait")
    second = control(tmp_path, "-n", "-w1")
    assert second.returncode == 1
    assert second.stdout == ""
    assert f"Another stepup (pid {session.pid}) is running in {tmp_path}" in second.stderr
    # The second one did not touch the logs of the first.
    log = (tmp_path / ".stepup/director.log").read_text()
    assert log.startswith("SOCKET /tmp/stepup-")
    assert f"\nPID {session.pid}\n" in log
    ok(tmp_path, "shutdown")
    # The step is pending, so the last (and only) run phase ends with exit code 3.
    assert session.finish() == 3
    assert session.lines[-4:] == ["     PHASE │ watch", *END]
    assert "   WARNING │ 1 step remains pending due to incomplete requirements" in session.lines


SLOW_STEP = f"echo $$ > step.pid; {GATE}; echo a > a.txt"
DRAIN_PLAN = f"""
from stepup.core.api import step
step("{SLOW_STEP.replace("$$", "$$$$")}", out="a.txt")
step("cp a.txt b.txt", inp="a.txt", out="b.txt")
"""


def test_drain_puts_the_scheduler_on_hold(tmp_path, stepup):
    """(j) ``stepup drain`` during a slow step: it finishes, nothing new starts, then watch."""
    write_plan(tmp_path, DRAIN_PLAN)
    session = stepup()
    step_pid = wait_for_step(tmp_path)
    ok(tmp_path, "drain")
    (tmp_path / "go").write_text("")
    ok(tmp_path, "wait")
    assert (tmp_path / "a.txt").is_file()
    assert not (tmp_path / "b.txt").exists()
    ok(tmp_path, "run")
    ok(tmp_path, "join")
    assert session.finish() == 0
    assert (tmp_path / "b.txt").read_text() == "a\n"
    assert not pid_alive(step_pid)
    assert without(session.lines, PLAN_SUCCESS, 1) == [
        *START,
        "     START │ ./plan.py",
        f"     START │ {SLOW_STEP}",
        f"   SUCCESS │ {SLOW_STEP}",
        "   WARNING │ Scheduler is put on hold. Not reporting pending steps.",
        "   WARNING │ Skipping cleanup due to incomplete build.",
        DUMPED,
        "     PHASE │ watch",
        "     PHASE │ run",
        "     START │ cp a.txt b.txt",
        "   SUCCESS │ cp a.txt b.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]


def test_drain_starts_no_queued_step(tmp_path, stepup):
    write_plan(tmp_path, DRAIN_PLAN + 'step("echo c > c.txt", out="c.txt")\n')
    session = stepup()
    try:
        wait_for_step(tmp_path)
        ok(tmp_path, "drain")
        (tmp_path / "go").write_text("")
        ok(tmp_path, "wait")
        started_during_drain = (tmp_path / "c.txt").exists()
        ok(tmp_path, "run")
    finally:
        ok(tmp_path, "join")
    assert session.finish() == 0
    assert not started_during_drain
    # What StepUp 1.3.1 prints.
    assert without(session.lines, PLAN_SUCCESS, 1) == [
        *START,
        "     START │ ./plan.py",
        f"     START │ {SLOW_STEP}",
        f"   SUCCESS │ {SLOW_STEP}",
        "   WARNING │ Scheduler is put on hold. Not reporting pending steps.",
        "   WARNING │ Skipping cleanup due to incomplete build.",
        DUMPED,
        "     PHASE │ watch",
        "     PHASE │ run",
        "     START │ echo c > c.txt",
        "   SUCCESS │ echo c > c.txt",
        "     START │ cp a.txt b.txt",
        "   SUCCESS │ cp a.txt b.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]


def test_shutdown_during_the_run_phase(tmp_path, stepup):
    """A shutdown while plan.py runs lets the phase complete, then stepup exits: no watch."""
    write_plan(
        tmp_path,
        """
        import os
        import time
        from stepup.core.api import step
        with open("plan.pid", "w") as fh:
            fh.write(str(os.getpid()))
        while not os.path.exists("go"):
            time.sleep(0.02)
        step("echo $$$$ > step.pid; echo a > a.txt", out="a.txt")
        """,
    )
    session = stepup()
    assert wait_for(lambda: (tmp_path / "plan.pid").is_file(), timeout=20)
    ok(tmp_path, "shutdown")
    (tmp_path / "go").write_text("")
    assert session.finish() == 0
    assert (tmp_path / "a.txt").is_file()
    pids = [int((tmp_path / name).read_text()) for name in ("plan.pid", "step.pid")]
    assert not any(pid_alive(pid) for pid in pids + worker_pids(tmp_path))
    # As StepUp 1.3.1, it still prints "PHASE │ watch" after the dump before it stops.
    assert session.lines == [
        *START,
        "     START │ ./plan.py",
        PLAN_SUCCESS,
        "     START │ echo $$ > step.pid; echo a > a.txt",
        "   SUCCESS │ echo $$ > step.pid; echo a > a.txt",
        DUMPED,
        "     PHASE │ watch",
        *END,
    ]
