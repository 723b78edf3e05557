"""The seed tutorial, run with the real ``stepup -n -w2``, against StepUp 1.3.1's output."""

import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import DATA, PLAN_SUCCESS, lines, mask_socket, run_stepup

from stepup_trio.core.states import StepState
from stepup_trio.plugins import load_plugins
from stepup_trio.store import load_workflow

SEED = DATA / "seed"


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("seed")
    shutil.copy(SEED / "plan.py", folder / "plan.py")
    (folder / "plan.py").chmod(0o755)
    return folder, run_stepup(folder, "-n", "-w2")


def parse_dot(text: str) -> tuple[list[str], set[tuple[str, str]], list[str]]:
    """Node labels in order, labelled edges, and the header lines of a dot file."""
    labels: dict[str, str] = {}
    order: list[str] = []
    edges: list[tuple[str, str]] = []
    header = []
    for line in text.splitlines():
        if match := re.fullmatch(r"  (\d+) \[label=(\".*\")(.*)\]", line):
            labels[match[1]] = match[2] + match[3]
            order.append(match[2] + match[3])
        elif match := re.fullmatch(r"  (\d+) -> (\d+)", line):
            edges.append((match[1], match[2]))
        else:
            header.append(line)
    return order, {(labels.get(a, a), labels.get(b, b)) for a, b in edges}, header


def test_exit_code_and_stderr(seed_run):
    _, result = seed_run
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_status_lines_match_stepup(seed_run):
    """Same lines as StepUp 1.3.1. Only the end of ./plan.py races with grep (both orders
    happen with StepUp too): it is checked apart."""
    _, result = seed_run
    expected = lines((SEED / "stdout_run1.txt").read_text())
    actual = lines(result.stdout)
    assert actual.count(PLAN_SUCCESS) == 1
    assert actual.index("     START │ ./plan.py") < actual.index(PLAN_SUCCESS)
    assert actual.index(PLAN_SUCCESS) < actual.index(
        "  WORKFLOW │ Dumped to .stepup/workflow.mpk.xz"
    )
    expected.remove(PLAN_SUCCESS)
    actual.remove(PLAN_SUCCESS)
    assert actual == expected


def test_output_ends_with_an_empty_line(seed_run):
    _, result = seed_run
    assert result.stdout.endswith("  DIRECTOR │ See you!\n\n")


def test_story_written(seed_run):
    folder, _ = seed_run
    assert (folder / "story.txt").read_text() == "First line.\nSecond line.\n"


def mask_states(text: str) -> str:
    """Mask what depends on timing: states of nodes other than the plan, and digests."""
    text = re.sub(r"state = \w+", "state = *", text)
    return re.sub(r"^ +(digest|inp_digest|) = [0-9a-f ]+\n", "", text, flags=re.MULTILINE)


def test_graph_txt(seed_run):
    folder, _ = seed_run
    actual = (folder / "graph.txt").read_text()
    expected = (SEED / "graph.txt").read_text()
    assert mask_states(actual) == mask_states(expected)
    plan_block = actual.split("\n\n")[3]
    assert plan_block.startswith("step:./plan.py\n")
    assert "state = RUNNING" in plan_block


def test_supplier_dot(seed_run):
    folder, _ = seed_run
    assert (folder / "graph_supplier.dot").read_text() == (SEED / "graph_supplier.dot").read_text()


def test_creator_dot(seed_run):
    """Same nodes in the same order and the same edges; only the numbering is ours (stable)."""
    folder, _ = seed_run
    actual = parse_dot((folder / "graph_creator.dot").read_text())
    expected = parse_dot((SEED / "graph_creator.dot").read_text())
    assert actual == expected
    text = (folder / "graph_creator.dot").read_text()
    # Ids are handed out in order of first mention and each node's edges are sorted.
    assert '  0 -> 1\n  0 -> 2\n  0 -> 3\n  0 -> 4\n  4 [label="vacuum"' in text


def test_dump(seed_run):
    folder, _ = seed_run
    workflow = load_workflow(str(folder / ".stepup/workflow.mpk.xz"), load_plugins().kinds)
    states = {step.key: step.state for step in workflow.steps()}
    assert states == {
        "step:./plan.py": StepState.SUCCEEDED,
        "step:echo First line. > story.txt; echo Second line. >> story.txt": StepState.SUCCEEDED,
        "step:grep First story.txt": StepState.SUCCEEDED,
    }
    story = workflow.file("story.txt")
    assert story.state.name == "BUILT"
    assert story.hash.size == len("First line.\nSecond line.\n")


def test_logs(seed_run):
    folder, result = seed_run
    log = (folder / ".stepup/director.log").read_text().splitlines()
    socket_path = re.search(r"Listening on (\S+)", result.stdout)[1]
    assert log[0] == f"SOCKET {socket_path}"
    assert log[1].startswith("PID ")
    for index in range(2):
        assert (folder / f".stepup/worker{index}.log").read_text().startswith("PID ")
    # The private socket directory is gone after the run.
    assert not os.path.exists(os.path.dirname(socket_path))


def test_no_stray_files(seed_run):
    folder, _ = seed_run
    names = sorted(path.name for path in folder.iterdir())
    assert names == [
        ".stepup",
        "graph.txt",
        "graph_creator.dot",
        "graph_supplier.dot",
        "plan.py",
        "story.txt",
    ]
    assert not [p for p in (folder / ".stepup").iterdir() if p.name.startswith(".tmp")]
    # Files written by stepup get the usual permissions, not those of a temporary file.
    assert (folder / "graph.txt").stat().st_mode & 0o644 == 0o644


def test_mask_socket_helper():
    assert mask_socket("Listening on /tmp/stepup-ab_12cd/director") == (
        "Listening on /tmp/stepup-XXXXXXXX/director"
    )
