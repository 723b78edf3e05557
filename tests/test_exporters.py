"""graph.txt and the dot files, compared with what StepUp 1.3.1 wrote for the seed tutorial."""

import re
from pathlib import Path

import pytest

from stepup_trio.core.workflow import Workflow
from stepup_trio.exporters.dot import DotExporter
from stepup_trio.exporters.text import TextExporter, format_graph
from stepup_trio.hashing import FileHash

SEED = Path(__file__).parent / "data" / "seed"
ECHO = "echo First line. > story.txt; echo Second line. >> story.txt"
GREP = "grep First story.txt"


def build_seed(kinds) -> Workflow:
    """The seed workflow at the moment its plan.py calls graph("graph")."""
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.define_step(plan, ECHO, out=["story.txt"])
    workflow.define_step(plan, GREP, inp=["story.txt"])
    echo = workflow.pop_queued()
    assert echo.command == ECHO
    workflow.start(echo)
    return workflow


@pytest.fixture
def seed(kinds):
    return build_seed(kinds)


def expected(name: str) -> str:
    return (SEED / name).read_text()


NODE_LINE = re.compile(r"^  (\d+) \[label=(\"(?:[^\"\\]|\\.)*\")(.*)\]$")
EDGE_LINE = re.compile(r"^  (\d+) -> (\d+)$")


def parse_dot(text: str):
    """Node lines (label with attributes) in order and edges, both with ids replaced by labels.

    An edge may point to an id without a node line: it is then named by its id.
    """
    labels = {}
    nodes = []
    raw_edges = []
    header = []
    for line in text.splitlines():
        if match := NODE_LINE.match(line):
            ident, label, attributes = match.groups()
            labels[ident] = label
            nodes.append(label + attributes)
        elif match := EDGE_LINE.match(line):
            raw_edges.append(match.groups())
        else:
            header.append(line)
    edges = {(labels.get(a, f"#{a}"), labels.get(b, f"#{b}")) for a, b in raw_edges}
    assert len(edges) == len(raw_edges)
    return header, nodes, edges


def test_seed_text(seed):
    assert format_graph(seed.graph) == expected("graph.txt")


def test_seed_text_exporter(seed):
    assert TextExporter().export(seed.graph, "graph") == {"graph.txt": expected("graph.txt")}


def test_seed_supplier_dot(seed):
    files = DotExporter().export(seed.graph, "graph")
    assert sorted(files) == ["graph_creator.dot", "graph_supplier.dot"]
    assert files["graph_supplier.dot"] == expected("graph_supplier.dot")


def test_seed_creator_dot(seed):
    """StepUp 1.3.1 numbers the nodes in a random order: compare the graph it describes."""
    ours = DotExporter().export(seed.graph, "graph")["graph_creator.dot"]
    theirs = expected("graph_creator.dot")
    header, nodes, edges = parse_dot(ours)
    expected_header, expected_nodes, expected_edges = parse_dot(theirs)
    assert header == expected_header
    assert nodes == expected_nodes
    assert edges == expected_edges
    # Sanity check of the parser on the expected file itself.
    assert ('"root"', '"vacuum"') in expected_edges
    assert len(expected_nodes) == 8


def test_dot_ids_in_order_of_first_mention(seed):
    """Ids are handed out on first mention (node line or edge target), from 0 up."""
    for text in DotExporter().export(seed.graph, "graph").values():
        mentioned = []
        for line in text.splitlines():
            if match := NODE_LINE.match(line):
                mentioned.append(int(match.group(1)))
            elif match := EDGE_LINE.match(line):
                mentioned.extend(int(ident) for ident in match.groups())
        first = list(dict.fromkeys(mentioned))
        assert first == list(range(len(first)))


def test_dot_is_stable(kinds):
    first = DotExporter().export(build_seed(kinds).graph, "graph")
    second = DotExporter().export(build_seed(kinds).graph, "graph")
    assert first == second


def test_dot_is_stable_with_many_edges(kinds):
    def build():
        workflow = Workflow.boot(kinds)
        plan = workflow.pop_queued()
        workflow.start(plan)
        names = [f"f{i:02d}" for i in range(30)]
        workflow.define_step(plan, "make all", out=names[::-1])
        for name in names:
            workflow.define_step(plan, f"use {name}", inp=[name, "shared"])
        workflow.declare_static(plan, ["shared"])
        return workflow

    first = DotExporter().export(build().graph, "g")
    second = DotExporter().export(build().graph, "g")
    assert first == second
    # Edges of one node are sorted by key.
    lines = first["g_creator.dot"].splitlines()
    plan_id = next(
        re.match(r"  (\d+)", line).group(1) for line in lines if 'label="./plan.py"' in line
    )
    targets = [line for line in lines if line.startswith(f"  {plan_id} -> ")]
    assert len(targets) == 32  # make all, 30 x use, shared


def test_text_after_finish(seed):
    echo = seed.step(ECHO)
    digest = bytes(range(64))
    seed.finish(echo, True, {"story.txt": FileHash(digest, 0o100644, 1.0, 24, 7)})
    text = format_graph(seed.graph)
    block = text.split("\n\n")[5]
    assert block.splitlines() == [
        "file:story.txt",
        "                path = story.txt",
        "               state = BUILT",
        "              digest = 00010203 04050607 08090a0b 0c0d0e0f"
        " 10111213 14151617 18191a1b 1c1d1e1f",
        "                     = 20212223 24252627 28292a2b 2c2d2e2f"
        " 30313233 34353637 38393a3b 3c3d3e3f",
        f"          created by   step:{ECHO}",
        "            consumes   file:./",
        f"            consumes   step:{ECHO}",
        f"            supplies   step:{GREP}",
    ]


def test_text_step_properties(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.define_pool(plan, "p", 2)
    workflow.define_step(plan, "run", env=["B", "A"], pool="p", optional=True, block=True)
    text = format_graph(workflow.graph)
    assert text.endswith(
        "step:run\n"
        "             workdir = ./\n"
        "             command = run\n"
        "               state = PENDING\n"
        "           mandatory = NO\n"
        "                pool = p\n"
        "               block = True\n"
        "             env_var = A\n"
        "                     = B\n"
        "          created by   step:./plan.py\n"
        "            consumes   file:./\n"
        "\n"
    )


def test_orphans_in_parentheses(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.define_step(plan, "cat data.txt", inp=["data.txt"])
    text = format_graph(workflow.graph)
    assert "\n(file:data.txt)\n                path = data.txt\n" in text
    assert "            consumes   (file:data.txt)\n" in text
    assert "            supplies   (file:data.txt)\n" in text
    assert "file:data.txt\n" not in text.replace("(file:data.txt)\n", "")
    # An orphan has no "created by" line, and the vacuum never shows up.
    block = text.split("(file:data.txt)\n", 1)[1].split("\n\n")[0]
    assert "created by" not in block
    assert "vacuum" not in text

    # Orphaning a step shows it and its products in parentheses too.
    step = workflow.step("cat data.txt")
    workflow.graph.orphan(plan)
    text = format_graph(workflow.graph)
    assert "\n(step:./plan.py)\n" in text
    assert "\n(step:cat data.txt)\n" in text
    assert "            supplies   (step:./plan.py)\n" in text
    assert "creates   step:./plan.py" not in text
    assert step.orphan


def test_text_ends_with_empty_line(seed):
    text = format_graph(seed.graph)
    assert text.startswith("root:\n")
    assert text.endswith("\n\n")
    assert not text.endswith("\n\n\n")
