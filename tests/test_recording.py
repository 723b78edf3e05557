"""Recordings and replay: what a step did is kept on success and replayed when it is skipped.

Also the restart cycle around it: dissolve, define_boot, skip, clean, and the dump round trip.
"""

import lzma
import os

import msgpack
import pytest

from stepup_trio.core.actions import DeclareStatic, DefinePool, DefineStep
from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.core.stephash import compute_step_hash
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import GraphError
from stepup_trio.exporters.text import format_graph
from stepup_trio.hashing import DIR_DIGEST, FileHash
from stepup_trio.store import deserialize, deserialize_with_id, serialize


def file_hash(seed: int, size: int = 10) -> FileHash:
    return FileHash(bytes([seed]) * 64, 0o100644, float(seed), size, seed)


DIR = FileHash(DIR_DIGEST)

STATIC = DeclareStatic(["data.txt"])
COPY = DefineStep("cp data.txt out.txt", inp=["data.txt"], out=["out.txt"])
CAT = DefineStep("cat out.txt", inp=["out.txt"], env=["MYVAR"])
PLAN_ACTIONS = [STATIC, COPY, CAT]


def fake_hash(step, hashes, extended=False):
    """A step hash from the hashes the workflow knows, as the director computes it."""
    workflow_inputs = [node for node in step.suppliers if node.kind == "file"]
    workflow_outputs = [node for node in step.consumers if node.kind == "file"]

    def pairs(nodes):
        return [(node.path, hashes.get(node.path) or node.hash or FileHash()) for node in nodes]

    env = {name: f"value of {name}" for name in step.env_vars}
    return compute_step_hash(
        step.key, pairs(workflow_inputs), env, pairs(workflow_outputs), extended=extended
    )


def run(workflow, step, actions=(), hashes=None, success=True, extended=False):
    """Start a step, let it perform actions, and finish it."""
    workflow.start(step)
    results = [workflow.perform(step, action) for action in actions]
    hashes = hashes or {}
    step_hash = fake_hash(step, hashes, extended) if success else None
    workflow.finish(step, success, hashes, step_hash)
    return results


def full_run(workflow):
    """Boot step, copy and cat all succeed. Returns the three steps."""
    plan = workflow.pop_queued()
    assert plan.key == "step:./plan.py"
    run(workflow, plan, PLAN_ACTIONS, {"plan.py": file_hash(1)})
    copy = workflow.pop_queued()
    assert copy.key == "step:cp data.txt out.txt"
    run(workflow, copy, (), {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    cat = workflow.pop_queued()
    assert cat.key == "step:cat out.txt"
    run(workflow, cat)
    assert workflow.pop_queued() is None
    return plan, copy, cat


def restart(workflow):
    """What loading a dump does: dissolve and boot again."""
    workflow.dissolve()
    return workflow.define_boot()


# Recording while running


def test_success_keeps_hash_and_recording(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    assert plan.recording is None
    declared = workflow.perform(plan, STATIC)
    copy = workflow.perform(plan, COPY)
    assert [node.key for node in declared] == ["file:data.txt"]
    assert copy.key == "step:cp data.txt out.txt"
    assert copy.creator is plan
    assert declared[0].creator is plan
    step_hash = fake_hash(plan, {"plan.py": file_hash(1)})
    workflow.finish(plan, True, {"plan.py": file_hash(1)}, step_hash)
    assert plan.state == StepState.SUCCEEDED
    assert plan.hash is step_hash
    assert plan.recording == [STATIC, COPY]
    assert all(a is b for a, b in zip(plan.recording, [STATIC, COPY], strict=True))
    assert workflow.replayable(plan)


def test_recording_of_a_step_without_actions(workflow):
    plan, copy, cat = full_run(workflow)
    assert copy.recording == []
    assert copy.hash is not None
    assert workflow.replayable(copy)
    assert cat.recording == []
    assert plan.recording == PLAN_ACTIONS


def test_recordings_are_per_step(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, DeclareStatic(["data.txt"]))
    workflow.perform(plan, DefineStep("./sub.py", inp=["data.txt"]))
    sub = workflow.pop_queued()
    workflow.start(sub)
    sub_action = DefineStep("touch x", out=["x"])
    workflow.perform(sub, sub_action)
    workflow.perform(plan, COPY)
    workflow.finish(sub, True, {}, fake_hash(sub, {}))
    workflow.finish(plan, True, {}, fake_hash(plan, {}))
    assert sub.recording == [sub_action]
    assert plan.recording == [
        DeclareStatic(["data.txt"]),
        DefineStep("./sub.py", inp=["data.txt"]),
        COPY,
    ]


def test_actions_outside_a_run_are_not_recorded(workflow):
    plan = workflow.pop_queued()
    workflow.perform(plan, STATIC)  # Not started: nothing to record into.
    workflow.start(plan)
    workflow.perform(plan, COPY)
    workflow.finish(plan, True, {}, fake_hash(plan, {}))
    assert plan.recording == [COPY]


def test_refused_action_is_not_recorded(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, STATIC)
    with pytest.raises(GraphError):
        workflow.perform(plan, STATIC)
    with pytest.raises(GraphError):
        workflow.perform(
            plan, DefineStep("cp data.txt data.txt", inp=["data.txt"], out=["data.txt"])
        )
    with pytest.raises(GraphError, match="Unknown action"):
        workflow.perform(plan, "not an action")
    workflow.finish(plan, True, {}, fake_hash(plan, {}))
    assert plan.recording == [STATIC]


def test_new_run_replaces_recording(workflow):
    plan = workflow.pop_queued()
    run(workflow, plan, [STATIC])
    assert plan.recording == [STATIC]
    plan.state = StepState.QUEUED
    workflow.start(plan)
    workflow.finish(plan, True, {}, fake_hash(plan, {}))
    assert plan.recording == []


def test_failure_drops_hash_and_recording(workflow):
    _, copy, _ = full_run(workflow)
    assert workflow.replayable(copy)
    copy.state = StepState.QUEUED
    workflow.start(copy)
    workflow.perform(copy, DeclareStatic(["extra.txt"]))
    workflow.finish(copy, False, {"out.txt": file_hash(9)})
    assert copy.state == StepState.FAILED
    assert copy.hash is None
    assert copy.recording is None
    assert not workflow.replayable(copy)
    # The output hash is still stored (the worker sends hashes after a failed run too).
    assert workflow.file("out.txt").hash == file_hash(9)


def test_failure_with_a_step_hash_still_drops_it(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, STATIC)
    workflow.finish(plan, False, {}, fake_hash(plan, {}))
    assert plan.hash is None
    assert plan.recording is None
    assert plan.state == StepState.FAILED


def test_replayable_needs_hash_and_recording(workflow):
    plan = workflow.pop_queued()
    assert not workflow.replayable(plan)
    plan.hash = fake_hash(plan, {})
    assert not workflow.replayable(plan)
    plan.recording = []
    assert workflow.replayable(plan)
    plan.hash = None
    assert not workflow.replayable(plan)


# dissolve


def test_dissolve(workflow):
    plan, copy, cat = full_run(workflow)
    # Something queued and something running when the run stops.
    plan.state = StepState.QUEUED
    workflow.start(plan)
    workflow.perform(plan, DefineStep("./later.py"))
    later = workflow.step("./later.py")
    assert later.state == StepState.QUEUED
    workflow.start(cat)
    before = [node.key for node in workflow.graph]
    hashes = {node.key: node.hash for node in workflow.graph if hasattr(node, "hash")}
    workflow.dissolve()
    assert [node.key for node in workflow.graph] == before
    for node in workflow.graph:
        if node.kind in ("root", "vacuum"):
            assert not node.orphan
        else:
            assert node.orphan, node.key
            assert node.creator is workflow.graph.vacuum
            assert node.hash == hashes[node.key]
        if node.kind == "step":
            assert not node.suppliers, node.key
            assert not node.consumers, node.key
    vacuum = workflow.graph.vacuum
    assert set(vacuum.products) == {
        node for node in workflow.graph if node.kind not in ("root", "vacuum")
    }
    assert list(workflow.graph.root.products) == [vacuum]
    # File parent edges remain.
    cwd = workflow.file("./")
    for path in "plan.py", "data.txt", "out.txt":
        assert list(workflow.file(path).suppliers) == [cwd]
    assert set(cwd.consumers) == {workflow.file(p) for p in ("plan.py", "data.txt", "out.txt")}
    # No orphan looks done: every step is pending, and so is every built file, until the
    # replay takes them back.
    for step in later, cat, plan, copy:
        assert step.state == StepState.PENDING
    assert workflow.file("out.txt").state == FileState.PENDING
    assert workflow.file("data.txt").state == FileState.STATIC
    assert workflow.pop_queued() is None
    assert not workflow.queue
    # The recordings kept by the steps stay; the one of the interrupted run is gone.
    assert copy.recording == []
    assert plan.recording == PLAN_ACTIONS
    workflow.start(plan)
    workflow.finish(plan, True, {}, fake_hash(plan, {}))
    assert plan.recording == []


def test_dissolve_keeps_nested_dir_edges(workflow):
    plan = workflow.pop_queued()
    run(workflow, plan, [DeclareStatic(["sub/", "sub/deep/", "sub/deep/x.txt"])])
    workflow.dissolve()
    assert list(workflow.file("sub/deep/x.txt").suppliers) == [workflow.file("sub/deep/")]
    assert list(workflow.file("sub/deep/").suppliers) == [workflow.file("sub/")]
    assert list(workflow.file("sub/").suppliers) == [workflow.file("./")]


def test_define_boot_after_dissolve(workflow):
    plan, copy, _ = full_run(workflow)
    plan_py = workflow.file("plan.py")
    cwd = workflow.file("./")
    plan_hash = plan.hash
    before = [node.key for node in workflow.graph]
    assert restart(workflow) is plan
    root = workflow.graph.root
    # Recycled: the same objects, in the same place, with their hashes.
    assert [node.key for node in workflow.graph] == before
    assert workflow.file("plan.py") is plan_py
    assert workflow.file("./") is cwd
    for node in plan_py, cwd, plan:
        assert not node.orphan
        assert node.creator is root
    assert plan_py.state == FileState.STATIC
    assert plan_py.hash == file_hash(1)
    assert cwd.state == FileState.STATIC
    assert set(plan.suppliers) == {plan_py, cwd}
    assert plan.state == StepState.QUEUED
    assert list(workflow.queue) == [plan]
    assert plan.hash is plan_hash
    assert plan.recording == PLAN_ACTIONS
    assert workflow.replayable(plan)
    # Everything else is still an orphan.
    assert copy.orphan
    assert workflow.file("data.txt").orphan
    assert workflow.file("out.txt").orphan
    assert workflow.pop_queued() is plan


def test_define_boot_after_dissolve_not_replayable(workflow):
    plan = workflow.pop_queued()
    run(workflow, plan, [STATIC], success=False)
    assert restart(workflow) is plan
    assert plan.state == StepState.QUEUED
    assert not plan.orphan
    assert not workflow.replayable(plan)
    assert workflow.file("data.txt").orphan


def test_define_boot_after_dissolve_of_interrupted_boot(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, STATIC)
    assert restart(workflow) is plan
    assert plan.state == StepState.QUEUED
    assert plan.recording is None
    assert not workflow.replayable(plan)


# skip


def test_skip_replays_recording(workflow):
    plan, copy, cat = full_run(workflow)
    data = workflow.file("data.txt")
    out = workflow.file("out.txt")
    copy_hash, cat_hash = copy.hash, cat.hash
    restart(workflow)
    assert workflow.pop_queued() is plan
    workflow.skip(plan, {"plan.py": file_hash(1)})
    assert plan.state == StepState.SUCCEEDED
    assert plan.recording == PLAN_ACTIONS  # Replaying does not record again.
    # The sub-steps and the static file are the recycled orphans, with their hashes.
    assert workflow.file("data.txt") is data
    assert workflow.step("cp data.txt out.txt") is copy
    assert workflow.step("cat out.txt") is cat
    for node in data, copy, cat, out:
        assert not node.orphan
        assert node.creator is (copy if node is out else plan)
    assert data.state == FileState.STATIC
    assert data.hash == file_hash(2)
    assert copy.hash is copy_hash
    assert cat.hash is cat_hash
    assert copy.recording == []
    assert cat.env_vars == ("MYVAR",)
    assert out.state == FileState.PENDING
    assert out.hash == file_hash(3)
    assert set(copy.suppliers) == {data, workflow.file("./")}
    assert set(copy.consumers) == {out}
    assert set(cat.suppliers) == {out, workflow.file("./")}
    assert copy.state == StepState.QUEUED
    assert cat.state == StepState.PENDING
    assert not workflow.graph.vacuum.products
    # Skip the copy: its output is built again and its consumer queued.
    assert workflow.pop_queued() is copy
    assert workflow.replayable(copy)
    workflow.skip(copy, {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    assert copy.state == StepState.SUCCEEDED
    assert out.state == FileState.BUILT
    assert cat.state == StepState.QUEUED
    assert workflow.pop_queued() is cat
    workflow.skip(cat, {"out.txt": file_hash(3)})
    assert cat.state == StepState.SUCCEEDED
    assert workflow.pop_queued() is None
    assert workflow.pending_steps() == []
    assert workflow.clean() == []


def test_skip_stores_new_hashes(workflow):
    full_run(workflow)
    restart(workflow)
    workflow.skip(workflow.pop_queued(), {"plan.py": file_hash(1)})
    touched = FileHash(file_hash(2).digest, 0o100644, 99.0, 10, 77)
    workflow.skip(workflow.pop_queued(), {"data.txt": touched, "out.txt": file_hash(3)})
    assert workflow.file("data.txt").hash == touched
    assert workflow.file("out.txt").hash == file_hash(3)


def test_skip_replays_nested_recordings(workflow):
    """A skipped sub-step that defines steps replays them too."""
    plan = workflow.pop_queued()
    sub_action = DefineStep("./sub.py", out=["gen/"])
    run(workflow, plan, [sub_action])
    sub = workflow.pop_queued()
    nested = [DeclareStatic(["cfg.txt"]), DefineStep("make gen/x", inp=["cfg.txt"], out=["gen/x"])]
    run(workflow, sub, nested, {"gen/": DIR})
    make = workflow.pop_queued()
    run(workflow, make, (), {"cfg.txt": file_hash(4), "gen/x": file_hash(5)})
    graph_before = format_graph(workflow.graph)
    restart(workflow)
    workflow.skip(workflow.pop_queued(), {})
    assert workflow.pop_queued() is sub
    workflow.skip(sub, {"gen/": DIR})
    assert workflow.pop_queued() is make
    assert make.creator is sub
    workflow.skip(make, {"cfg.txt": file_hash(4), "gen/x": file_hash(5)})
    assert format_graph(workflow.graph) == graph_before


def test_skip_without_recording(workflow):
    plan = workflow.pop_queued()
    workflow.skip(plan, {"plan.py": file_hash(1)})
    assert plan.state == StepState.SUCCEEDED
    assert plan.recording is None
    assert workflow.pop_queued() is None


# clean


def first_run_for_clean(workflow):
    """A plan whose second version drops a sub-step and most of what it made."""
    plan = workflow.pop_queued()
    actions = [
        DeclareStatic(["data.txt", "old.cfg", "src/", "src/x.txt"]),
        COPY,
        DefineStep("./gen.py", inp=["old.cfg"], out=["old/", "c.txt"]),
        DefineStep("never", out=["never.txt"]),
        DefineStep("cat missing.txt", inp=["missing.txt"]),
    ]
    run(workflow, plan, actions, {"plan.py": file_hash(1)})
    copy = workflow.pop_queued()
    assert copy.command == "cp data.txt out.txt"
    run(workflow, copy, (), {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    gen = workflow.pop_queued()
    assert gen.command == "./gen.py"
    run(
        workflow,
        gen,
        [DefineStep("make old/a.txt", out=["old/a.txt"]), DeclareStatic(["gen.cfg"])],
        {"old.cfg": file_hash(4), "old/": DIR, "c.txt": file_hash(6)},
    )
    never = workflow.pop_queued()
    assert never.command == "never"
    run(workflow, never, (), {}, success=False)
    make = workflow.pop_queued()
    assert make.command == "make old/a.txt"
    run(workflow, make, (), {"old/a.txt": file_hash(7)})
    assert workflow.pop_queued() is None
    return plan


def test_clean(workflow):
    plan = first_run_for_clean(workflow)
    data, out = workflow.file("data.txt"), workflow.file("out.txt")
    removed_nodes = {
        key: workflow.graph.get(key)
        for key in [
            "step:./gen.py",
            "step:make old/a.txt",
            "step:never",
            "step:cat missing.txt",
            "file:old/",
            "file:old/a.txt",
            "file:gen.cfg",
            "file:c.txt",
            "file:old.cfg",
            "file:src/",
            "file:src/x.txt",
            "file:never.txt",
            "file:missing.txt",
        ]
    }
    assert all(node is not None for node in removed_nodes.values())
    restart(workflow)
    assert workflow.pop_queued() is plan
    # The new plan keeps only the copy.
    run(workflow, plan, [STATIC, COPY], {"plan.py": file_hash(1)})
    copy = workflow.pop_queued()
    workflow.skip(copy, {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    assert workflow.pop_queued() is None
    assert workflow.pending_steps() == []
    removed = workflow.clean()
    # BUILT outputs with a known hash, deepest path first; no static files, no placeholders.
    assert [node.path for node in removed] == ["old/a.txt", "old/", "c.txt"]
    assert [node.hash for node in removed] == [file_hash(7), DIR, file_hash(6)]
    # Pending since the restart handed them to the vacuum; their hashes say what was built.
    assert all(node.state == FileState.PENDING for node in removed)
    for key in removed_nodes:
        assert key not in workflow.graph, key
    assert [node.key for node in workflow.graph] == [
        "root:",
        "vacuum:",
        "file:plan.py",
        "file:./",
        "step:./plan.py",
        "file:data.txt",
        "step:cp data.txt out.txt",
        "file:out.txt",
    ]
    assert not workflow.graph.vacuum.products
    assert workflow.file("data.txt") is data
    assert workflow.file("out.txt") is out
    assert set(workflow.file("./").consumers) == {
        workflow.file("plan.py"),
        plan,
        data,
        copy,
        out,
    }
    # Removed nodes keep no links to the graph.
    for node in removed_nodes.values():
        assert not node.consumers
        assert not node.suppliers
    # A second clean has nothing left to do.
    assert workflow.clean() == []


def test_clean_keeps_orphans_that_are_still_used(workflow):
    plan = workflow.pop_queued()
    run(workflow, plan, [DefineStep("cat missing.txt", inp=["missing.txt"])])
    missing = workflow.file("missing.txt")
    assert missing.orphan
    assert workflow.clean() == []
    assert workflow.file("missing.txt") is missing


def test_clean_ignores_unknown_hashes(workflow):
    plan = workflow.pop_queued()
    run(workflow, plan, [DefineStep("touch a", out=["a", "b"])])
    touch = workflow.pop_queued()
    run(workflow, touch, (), {"a": FileHash(), "b": file_hash(8)})
    assert workflow.file("a").state == FileState.BUILT
    restart(workflow)
    run(workflow, workflow.pop_queued(), [])
    assert [node.path for node in workflow.clean()] == ["b"]
    assert workflow.file("a") is None
    assert workflow.step("touch a") is None


def test_clean_without_dissolve_only_removes_orphans(workflow):
    full_run(workflow)
    graph_before = format_graph(workflow.graph)
    assert workflow.clean() == []
    assert format_graph(workflow.graph) == graph_before


# Dump round trip


def test_round_trip_keeps_hash_and_recording(workflow, kinds):
    plan = workflow.pop_queued()
    full_define = DefineStep(
        "./sub.py --flag",
        workdir="sub/",
        inp=["in.txt"],
        out=["o1", "o2"],
        env=["B", "A"],
        optional=True,
        pool="io",
        block=True,
    )
    actions = [
        DefinePool("io", 2),
        DeclareStatic(["sub/", "sub/in.txt", "data.txt"]),
        full_define,
        COPY,
        DeclareStatic(["other/"]),
    ]
    run(workflow, plan, actions, {"plan.py": file_hash(1)}, extended=True)
    copy = workflow.pop_queued()
    run(workflow, copy, (), {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    failed = workflow.define_step(workflow.graph.root, "false")
    workflow.pop_queued()
    run(workflow, failed, (), success=False)
    assert plan.hash.extended
    assert plan.hash.env == {}

    data = serialize(workflow, "the-id")
    loaded, dump_id = deserialize_with_id(data, kinds)
    assert dump_id == "the-id"
    loaded_plan = loaded.step("./plan.py")
    assert loaded_plan is not plan
    assert loaded_plan.hash == plan.hash
    assert loaded_plan.hash.extended
    assert loaded_plan.hash.inputs == plan.hash.inputs
    assert loaded_plan.recording == actions
    assert [type(action) for action in loaded_plan.recording] == [
        DefinePool,
        DeclareStatic,
        DefineStep,
        DefineStep,
        DeclareStatic,
    ]
    assert loaded_plan.recording[2].optional is True
    assert loaded_plan.recording[2].pool == "io"
    loaded_copy = loaded.step("cp data.txt out.txt")
    assert loaded_copy.hash == copy.hash
    assert not loaded_copy.hash.extended
    assert loaded_copy.recording == []
    assert loaded.replayable(loaded_copy)
    loaded_failed = loaded.step("false")
    assert loaded_failed.hash is None
    assert loaded_failed.recording is None
    # The actions are a tagged union in the dump.
    document = msgpack.unpackb(lzma.decompress(data), raw=False, strict_map_key=False)
    fields = next(f for kind, f in document["nodes"] if f.get("command") == "./plan.py")
    assert [record["action"] for record in fields["recording"]] == [
        "DefinePool",
        "DeclareStatic",
        "DefineStep",
        "DefineStep",
        "DeclareStatic",
    ]
    assert fields["recording"][1]["paths"] == ["sub/", "sub/in.txt", "data.txt"]
    # And the copy can be dumped again byte for byte.
    assert serialize(loaded, dump_id) == data


def test_round_trip_extended_hash_with_unset_env(workflow, kinds):
    plan = workflow.pop_queued()
    run(workflow, plan, [DeclareStatic(["data.txt"]), CAT])
    step = workflow.step("cat out.txt")
    step.hash = compute_step_hash(
        step.key,
        [("./", DIR), ("out.txt", file_hash(3))],
        {"MYVAR": None, "OTHER": ""},
        [],
        extended=True,
    )
    step.recording = []
    loaded = deserialize(serialize(workflow), kinds)
    loaded_step = loaded.step("cat out.txt")
    assert loaded_step.hash == step.hash
    assert loaded_step.hash.env == {"MYVAR": None, "OTHER": ""}
    assert loaded_step.hash.inputs["./"] == DIR


def test_restart_from_dump_skips_everything(workflow, kinds):
    full_run(workflow)
    expected = format_graph(workflow.graph)
    loaded = deserialize(serialize(workflow), kinds)
    loaded.dissolve()
    plan = loaded.define_boot()
    assert loaded.replayable(plan)
    assert loaded.pop_queued() is plan
    loaded.skip(plan, {"plan.py": file_hash(1)})
    copy = loaded.pop_queued()
    assert copy.key == "step:cp data.txt out.txt"
    assert loaded.replayable(copy)
    loaded.skip(copy, {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    cat = loaded.pop_queued()
    assert loaded.replayable(cat)
    loaded.skip(cat, {})
    assert loaded.pop_queued() is None
    assert loaded.clean() == []
    assert format_graph(loaded.graph) == expected
    assert cat.mandatory == Mandatory.YES


def test_workflow_from_loaded_graph_has_no_running_recordings(workflow, kinds):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, STATIC)
    loaded = deserialize(serialize(workflow), kinds)
    assert isinstance(loaded, Workflow)
    loaded_plan = loaded.step("./plan.py")
    assert loaded_plan.state == StepState.RUNNING
    assert loaded_plan.recording is None


def test_round_trip_extended_hash_with_env_value_not_utf8(workflow, kinds):
    plan = workflow.pop_queued()
    run(workflow, plan, [DeclareStatic(["data.txt"]), CAT])
    step = workflow.step("cat out.txt")
    value = os.fsdecode(b"\xff")  # How os.environ shows a byte that is not UTF-8.
    step.hash = compute_step_hash(step.key, [], {"MYVAR": value}, [], extended=True)
    step.recording = []
    loaded = deserialize(serialize(workflow), kinds)
    assert loaded.step("cat out.txt").hash == step.hash


def test_hashed_paths(workflow):
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.perform(plan, DeclareStatic(["data.txt", "sub/"]))
    step = workflow.perform(
        plan, DefineStep("make", workdir="sub/", inp=["data.txt"], out=["gen/a", "b"])
    )
    inputs, outputs = workflow.hashed_paths(step)
    # The working directory and the outputs' parent directories count as inputs.
    assert sorted(node.path for node in inputs) == ["./", "data.txt", "gen/", "sub/"]
    assert sorted(node.path for node in outputs) == ["b", "gen/a"]
    workflow.file("b").state = FileState.BUILT
    workflow.file("gen/a").state = FileState.VOLATILE
    assert [node.path for node in workflow.hashed_paths(step)[1]] == ["b"]
