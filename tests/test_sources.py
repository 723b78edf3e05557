"""Source nodes (plugin_api.SourceNode): what a step ``needs`` besides files, in the core.

A small source kind defined here stands in for a plugin; the director's probing is tested end
to end with the real plugin in plugins/stepup-trio-http.
"""

import hashlib

import attrs
import pytest

from stepup_trio.core.actions import DeclareStatic, DefineStep
from stepup_trio.core.events import Finished, Skipped, apply_event
from stepup_trio.core.explain import explain
from stepup_trio.core.restart import skip_order
from stepup_trio.core.stephash import compute_step_hash
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import GraphError
from stepup_trio.exporters.dot import DotExporter
from stepup_trio.exporters.text import format_graph
from stepup_trio.journal import Journal, read_journal
from stepup_trio.plugin_api import SourceNode
from stepup_trio.store import deserialize, serialize


@attrs.define(eq=False, repr=False)
class TapeNode(SourceNode):
    """A source named by a label; its state is whatever the test says."""

    kind = "tape"

    label: str

    @property
    def local_key(self) -> str:
        return self.label

    @classmethod
    def from_local_key(cls, local_key: str) -> "TapeNode":
        if not local_key.isalnum():
            raise ValueError("a tape label has letters and digits only, e.g. tape:A1")
        return cls(local_key)

    def probe(self) -> bytes:
        return b"unused in these tests"


@pytest.fixture
def kinds(kinds):
    return {**kinds, "tape": TapeNode}


@pytest.fixture
def workflow(kinds):
    return Workflow.boot(kinds)


def run_plan(workflow, actions):
    plan = workflow.pop_queued()
    workflow.start(plan)
    results = [workflow.perform(plan, action) for action in actions]
    workflow.finish(plan, True, {}, compute_step_hash(plan.key, [], {}, []))
    return plan, results


def finish_all(workflow, stamps=None):
    while (step := workflow.pop_queued()) is not None:
        workflow.start(step)
        workflow.finish(step, True, {}, compute_step_hash(step.key, [], {}, []), stamps)


USE_A = DefineStep("use a", needs=["tape:A", "tape:A"])
USE_AB = DefineStep("use a and b", needs=["tape:B", "tape:A"])


def test_needs_link_a_source_node_owned_by_the_root(workflow):
    _, (first, second) = run_plan(workflow, [USE_A, USE_AB])
    source = workflow.graph.get("tape:A")
    assert isinstance(source, TapeNode)
    assert source.creator is workflow.graph.root
    assert first.needs == ("tape:A",)
    assert second.needs == ("tape:A", "tape:B")
    assert source in first.suppliers and source in second.suppliers
    assert set(source.consumers) == {first, second}
    # A source never makes a step wait.
    assert workflow.pop_queued() is first
    assert workflow.pop_queued() is second


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("nokind", "Unknown source 'nokind'"),
        ("disk:A", "Unknown source 'disk:A'"),
        ("file:data.txt", "Unknown source 'file:data.txt'"),
        ("tape:not ok", "Invalid source 'tape:not ok' in needs: a tape label has letters"),
    ],
)
def test_bad_needs_are_refused_before_anything_changes(workflow, key, message):
    plan = workflow.pop_queued()
    workflow.start(plan)
    size = len(workflow.graph)
    with pytest.raises(GraphError, match=message) as info:
        workflow.perform(plan, DefineStep("use it", needs=[key]))
    assert len(workflow.graph) == size
    if "Unknown" in message:
        assert "installed source kind (tape)" in str(info.value)
        assert "stepup --list-plugins" in str(info.value)


def test_clean_removes_sources_that_no_step_needs(workflow, kinds):
    run_plan(workflow, [USE_A, USE_AB])
    finish_all(workflow)
    workflow.clean()
    assert workflow.graph.get("tape:B") is not None
    # The plan changes: only "use a" remains.
    workflow.restart()
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, USE_A)
    workflow.finish(plan, True, {}, compute_step_hash(plan.key, [], {}, []))
    finish_all(workflow)
    workflow.clean()
    assert workflow.graph.get("tape:B") is None
    assert workflow.graph.get("tape:A").creator is workflow.graph.root


def test_stamps_are_kept_shown_and_dumped(workflow, kinds):
    run_plan(workflow, [USE_A])
    finish_all(workflow, {"tape:A": b"\x01\x02"})
    source = workflow.graph.get("tape:A")
    assert source.stamp == b"\x01\x02"
    text = format_graph(workflow.graph)
    assert "tape:A\n               stamp = 0102\n" in text
    assert "consumes   tape:A" in text
    dot = DotExporter().export(workflow.graph, "graph")["graph_supplier.dot"]
    assert 'label="A" shape=hexagon' in dot
    loaded = deserialize(serialize(workflow, "dump"), kinds)
    assert loaded.graph.get("tape:A").stamp == b"\x01\x02"
    assert format_graph(loaded.graph) == text
    # Kinds from plugins take the general restart path.
    assert skip_order(loaded, "plan.py") is None


def test_skip_and_journal_keep_stamps(workflow, kinds, tmp_path):
    _, (step,) = run_plan(workflow, [USE_A])
    path = str(tmp_path / "journal.mpk")
    journal = Journal(path, "base")
    events = [
        Skipped(step.key, {}, {"tape:A": b"old"}),
        Finished(step.key, True, {}, None, {"tape:A": b"new"}),
    ]
    for event in events:
        journal.append(event)
    journal.close()
    assert read_journal(path, "base") == events
    workflow.pop_queued()
    workflow.start(step)
    apply_event(workflow, events[1])
    assert workflow.graph.get("tape:A").stamp == b"new"


def test_step_hash_with_sources():
    plain = compute_step_hash("step:x", [], {}, [])
    assert compute_step_hash("step:x", [], {}, [], sources=[]) == plain
    one = compute_step_hash("step:x", [], {}, [], sources=[("tape:A", b"1")])
    other = compute_step_hash("step:x", [], {}, [], sources=[("tape:A", b"2")])
    assert len({plain.digest, one.digest, other.digest}) == 3
    assert one.inp_digest != other.inp_digest  # A source is an input.
    swapped = compute_step_hash("step:x", [], {}, [], sources=[("tape:B", b"1"), ("tape:A", b"2")])
    assert swapped == compute_step_hash(
        "step:x", [], {}, [], sources=[("tape:A", b"2"), ("tape:B", b"1")]
    )


def test_explain_sources():
    old = compute_step_hash("step:x", [], {}, [], True, [("tape:A", b"\x01"), ("tape:B", b"b")])
    new = compute_step_hash("step:x", [], {}, [], True, [("tape:A", b"\x02"), ("tape:C", b"c")])
    changed, same = explain(old, new)
    one, two = (hashlib.blake2b(stamp, digest_size=4).hexdigest() for stamp in (b"\x01", b"\x02"))
    assert f"Modified source      tape:A (stamp {one} ➜ {two})" in changed
    assert "Deleted source       tape:B" in changed
    assert "Added source         tape:C" in changed
    changed, same = explain(old, old)
    assert "Same source          tape:A" in same
    # Readable stamps that start alike still differ; a failed probe (no stamp) is named.
    etag = compute_step_hash("step:x", [], {}, [], True, [("tape:A", b'ETag: "v1"')])
    other = compute_step_hash("step:x", [], {}, [], True, [("tape:A", b'ETag: "v2"')])
    failed = compute_step_hash("step:x", [], {}, [], True, [("tape:A", b"")])
    (line,) = [line for line in explain(etag, other)[0] if "source" in line]
    old_short, new_short = line.split("(stamp ")[1].rstrip(")").split(" ➜ ")
    assert old_short != new_short
    assert "➜ (not probed))" in explain(etag, failed)[0][-1]


def test_recycled_step_with_other_needs_forgets_its_hash(workflow):
    run_plan(workflow, [USE_A])
    finish_all(workflow)
    step = workflow.step("use a")
    assert step.hash is not None
    workflow.restart()
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, DeclareStatic([]))
    recycled = workflow.perform(plan, DefineStep("use a", needs=["tape:B"]))
    assert recycled is step
    assert step.hash is None
    assert step.needs == ("tape:B",)
