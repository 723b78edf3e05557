"""The mermaid exporter on small workflows built with stepup-trio, hostile file names included.

The flowcharts are read back with a strict parser of the subset of Mermaid the exporter
writes, and compared with what the built-in dot exporter draws for the same workflow.
"""

import importlib.metadata
import json
import re
import textwrap

import attrs
import pytest
from stepup_trio.core.workflow import Workflow
from stepup_trio.plugin_api import EXPORTERS_GROUP, Node
from stepup_trio.plugins import load_plugins

from stepup_trio_mermaid import MermaidExporter, format_flowchart, format_label, node_ids, visible

ECHO = "echo First line. > story.txt; echo Second line. >> story.txt"
GREP = "grep First story.txt"
HOSTILE = [
    'quote".txt',
    "brackets[x](y){z}|w|.txt",
    "new\nline.txt",
    "bad\udcffbyte.txt",
    "tab\tand\x07bell.txt",
    "back\\slash.txt",
    "hash#35;amp&lt;<br>.txt",
    "```fence```.txt",
    "%%comment",
    "end",
    "x --> y ; z:::k_root",
    "right\u202eleft.txt",
    "日本語 é.txt",
    "a" * 50,
]


@pytest.fixture
def kinds():
    return load_plugins().kinds


def seed(kinds) -> Workflow:
    """The seed tutorial at the moment its plan calls graph(): the plan and echo run."""
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.define_step(plan, ECHO, out=["story.txt"])
    workflow.define_step(plan, GREP, inp=["story.txt"])
    workflow.start(workflow.pop_queued())
    return workflow


def hostile(kinds) -> Workflow:
    """Every hostile name as a static input of one step, and as the output of another."""
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    names = [f"in/{name}" for name in HOSTILE]
    workflow.declare_static(plan, ["in/", *names])
    workflow.define_step(plan, "mkdir out", out=["out/"])
    workflow.define_step(plan, "cat in/*", inp=names, out=[f"out/{name}" for name in HOSTILE])
    return workflow


# A strict reader of what the exporter writes.

ID = r"n[0-9a-f]{10}"
NODE_LINE = re.compile(
    rf'^    ({ID})(\{{\{{|\[\[|\(\[|\[)"([^"]*)"(\}}\}}|\]\]|\]\)|\]):::(k_[a-z]+(?:_orphan)?)$'
)
EDGE_LINE = re.compile(rf"^    ({ID}) (-->|-\.->) ({ID})$")
CLASS_LINE = re.compile(r"^    classDef (k_[a-z]+(?:_orphan)?) ([a-z-]+:[^,\s]+(?: \d+)*,?)+$")
SAFE_LABEL = re.compile(r"^(?:[A-Za-z0-9 ._/:+=,-]|[^\x00-\x7f]|#\d+;|<br>)*$")
SHAPES = {"{{": "}}", "[[": "]]", "([": "])", "[": "]"}


def decode(label: str) -> str:
    """The text a Mermaid renderer shows: entities decoded, the wrapped lines joined."""
    return " ".join(
        re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), line) for line in label.split("<br>")
    )


@attrs.frozen
class Chart:
    nodes: dict[str, tuple[str, str, str]]  # id -> (shape, label shown, class)
    edges: list[tuple[str, str, str]]  # (from id, arrow, to id), in file order
    classes: dict[str, str]

    def labelled_edges(self) -> set[tuple[str, str]]:
        return {(self.nodes[a][1], self.nodes[b][1]) for a, _arrow, b in self.edges}


def parse(text: str) -> Chart:
    """Read a flowchart; fail on any line or label outside the expected subset."""
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0] == "flowchart BT"
    nodes, edges, classes = {}, [], {}
    for line in lines[1:]:
        if match := NODE_LINE.match(line):
            ident, opening, label, closing, cls = match.groups()
            assert SHAPES[opening] == closing, line
            assert SAFE_LABEL.match(label), line
            assert ident not in nodes, line
            nodes[ident] = (opening + closing, decode(label), cls)
        elif match := EDGE_LINE.match(line):
            edges.append(match.groups())
        elif match := CLASS_LINE.match(line):
            classes[match.group(1)] = line
        else:
            assert line == "    linkStyle default stroke:#696969", line
    for a, _arrow, b in edges:
        assert a in nodes and b in nodes, (a, b)
    assert {cls for _shape, _label, cls in nodes.values()} == set(classes)
    return Chart(nodes, edges, classes)


def dot_edges(text: str) -> set[tuple[str, str]]:
    """The edges of a dot file as label pairs, wrapped labels joined with spaces."""
    labels = {}
    edges = []
    for line in text.splitlines():
        if match := re.match(r'^  (\d+) \[label=("(?:[^"\\]|\\.)*")', line):
            labels[match.group(1)] = json.loads(match.group(2)).replace("\n", " ")
        elif match := re.match(r"^  (\d+) -> (\d+)$", line):
            edges.append(match.groups())
    return {(labels[a], labels[b]) for a, b in edges}


def export(workflow: Workflow) -> dict[str, str]:
    return dict(MermaidExporter().export(workflow.graph, "graph"))


# The tests


# --8<-- [start:entry-point-test]
def test_registered_as_entry_point():
    assert load_plugins().exporters["mermaid"] is MermaidExporter
    (entry_point,) = importlib.metadata.entry_points(group=EXPORTERS_GROUP, name="mermaid")
    assert entry_point.dist.metadata["Name"] == "stepup-trio-mermaid"


# --8<-- [end:entry-point-test]


def test_files(kinds):
    files = export(seed(kinds))
    assert sorted(files) == ["graph.md", "graph_creator.mmd", "graph_supplier.mmd"]
    files = MermaidExporter().export(seed(kinds).graph, "sub/g")
    assert sorted(files) == ["sub/g.md", "sub/g_creator.mmd", "sub/g_supplier.mmd"]


def test_seed_supplier(kinds):
    chart = parse(export(seed(kinds))["graph_supplier.mmd"])
    assert chart.labelled_edges() == {
        ("plan.py", "./plan.py"),
        (ECHO, "story.txt"),
        ("story.txt", GREP),
    }
    assert {arrow for _a, arrow, _b in chart.edges} == {"-->"}
    shapes = {label: (shape, cls) for shape, label, cls in chart.nodes.values()}
    assert shapes["plan.py"] == ("[]", "k_file")
    assert shapes[GREP] == ("([])", "k_step")
    assert "fill:#d9d9d9" in chart.classes["k_file"]
    assert "fill:#80b1d3" in chart.classes["k_step"]


def test_seed_creator(kinds):
    chart = parse(export(seed(kinds))["graph_creator.mmd"])
    edges = chart.labelled_edges()
    assert ("root", "vacuum") in edges
    assert ("./plan.py", GREP) in edges
    assert (ECHO, "story.txt") in edges
    assert {arrow for _a, arrow, _b in chart.edges} == {"-.->"}
    shapes = {label: (shape, cls) for shape, label, cls in chart.nodes.values()}
    assert shapes["root"] == ("{{}}", "k_root")
    assert shapes["./"] == ("[]", "k_file")


@pytest.mark.parametrize("build", [seed, hostile])
def test_same_edges_as_dot(kinds, build):
    """The built-in dot format and this one draw the same edges."""
    workflow = build(kinds)
    dot = load_plugins().exporters["dot"]().export(workflow.graph, "graph")
    ours = export(workflow)
    for name in "supplier", "creator":
        chart = parse(ours[f"graph_{name}.mmd"])
        if build is seed:
            assert chart.labelled_edges() == dot_edges(dot[f"graph_{name}.dot"])
        else:
            # dot shows non-UTF-8 bytes and control characters differently: compare counts.
            assert len(chart.edges) == len(dot[f"graph_{name}.dot"].split(" -> ")) - 1


def test_directories_only_in_creator_graph(kinds):
    files = export(hostile(kinds))
    supplier = parse(files["graph_supplier.mmd"])
    creator = parse(files["graph_creator.mmd"])
    supplier_labels = {label for _shape, label, _cls in supplier.nodes.values()}
    creator_labels = {label for _shape, label, _cls in creator.nodes.values()}
    # in/ supplies every input but is left out; out/ is drawn as the target of its step.
    assert "in/" not in supplier_labels
    assert "in/" in creator_labels
    assert ("mkdir out", "out/") in supplier.labelled_edges()


def test_hostile_names(kinds):
    files = export(hostile(kinds))
    for name in "graph_supplier.mmd", "graph_creator.mmd", "graph.md":
        files[name].encode("utf-8")  # the director writes UTF-8: no lone surrogates left
    chart = parse(files["graph_supplier.mmd"])
    shown = {label for _shape, label, _cls in chart.nodes.values()}
    for name in HOSTILE:
        wrapped = " ".join(textwrap.wrap(visible(f"in/{name}"), 20))
        assert wrapped in shown, name
    unwrapped = {label.replace(" ", "") for label in shown}
    assert "in/new\\nline.txt" in unwrapped
    assert "in/bad\\xffbyte.txt" in unwrapped
    assert "in/back\\\\slash.txt" in unwrapped
    assert "in/right\\u202eleft.txt" in unwrapped
    assert 'in/quote".txt' in unwrapped
    # Two nodes per name (input and output), each with its own id.
    assert len(chart.nodes) == len({*chart.nodes}) >= 2 * len(HOSTILE)


def test_markdown_page(kinds):
    files = export(hostile(kinds))
    page = files["graph.md"]
    assert page.startswith("# Workflow graph\n")
    blocks = re.findall(r"^```mermaid\n(.*?)^```$", page, flags=re.DOTALL | re.MULTILINE)
    assert blocks == [files["graph_supplier.mmd"], files["graph_creator.mmd"]]
    assert page.count("```") == 4


def test_stable_ids(kinds):
    first, second = export(seed(kinds)), export(seed(kinds))
    assert first == second
    supplier = parse(first["graph_supplier.mmd"])
    creator = parse(first["graph_creator.mmd"])
    # A node has the same id in both diagrams.
    for ident, (_shape, label, _cls) in supplier.nodes.items():
        assert creator.nodes[ident][1] == label
    # Adding a step keeps the ids of the others.
    workflow = seed(kinds)
    workflow.define_step(workflow.step("./plan.py"), "echo more > more.txt", out=["more.txt"])
    grown = parse(export(workflow)["graph_creator.mmd"])
    assert set(creator.nodes) < set(grown.nodes)
    # Edges of one node are sorted by the key of the target.
    plan = next(i for i, node in creator.nodes.items() if node[1] == "./plan.py")
    targets = [creator.nodes[b][1] for a, _arrow, b in creator.edges if a == plan]
    assert targets == [ECHO, GREP]


def test_orphans_dashed(kinds):
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.define_step(plan, "cat data.txt", inp=["data.txt"])
    chart = parse(export(workflow)["graph_creator.mmd"])
    shapes = {label: cls for _shape, label, cls in chart.nodes.values()}
    assert shapes["data.txt"] == "k_file_orphan"
    assert "stroke-dasharray" in chart.classes["k_file_orphan"]
    assert ("vacuum", "data.txt") in chart.labelled_edges()


def test_deferred_glob_shape(kinds):
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.declare_static(plan, ["data/"])
    workflow.defer_glob(plan, ["data/*.txt"])
    workflow.define_step(plan, "cat data/a.txt", inp=["data/a.txt"])
    chart = parse(export(workflow)["graph_creator.mmd"])
    shapes = {label: (shape, cls) for shape, label, cls in chart.nodes.values()}
    assert shapes["'data/*.txt'"] == ("[[]]", "k_dg")
    assert "fill:#b3de69" in chart.classes["k_dg"]
    assert ("'data/*.txt'", "data/a.txt") in chart.labelled_edges()


@attrs.define(eq=False, repr=False)
class ThingNode(Node):
    """A kind from some other plugin: it gets the default shape and colour, as in dot."""

    kind = "thing"
    name: str

    @property
    def local_key(self) -> str:
        return self.name


def test_other_kinds_and_empty_graph():
    a, b = ThingNode('a"'), ThingNode("b")
    a.consumers[b] = None
    text = format_flowchart([a, b], node_ids([a, b]), lambda node: node.consumers)
    chart = parse(text)
    assert {(shape, label, cls) for shape, label, cls in chart.nodes.values()} == {
        ("([])", 'a"', "k_other"),
        ("([])", "b", "k_other"),
    }
    assert "fill:#80b1d3" in chart.classes["k_other"]
    assert format_flowchart([], {}, lambda node: ()) == "flowchart BT\n"


def test_visible_and_label():
    assert visible("a\nb\udcfe\\\x00\u2028ok") == "a\\nb\\xfe\\\\\\x00\\u2028ok"
    assert format_label("") == '""'
    assert format_label('say "hi"') == '"say #34;hi#34;"'
    assert format_label("x" * 25) == '"' + "x" * 20 + "<br>" + "x" * 5 + '"'
    assert format_label("é") == '"é"'


def test_ids_never_collide():
    nodes = [ThingNode(str(i)) for i in range(2000)]
    ids = node_ids(nodes)
    assert len(set(ids.values())) == len(nodes)
    assert all(re.fullmatch(ID, ident) for ident in ids.values())
