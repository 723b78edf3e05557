"""The rules of a workflow: boot, defining steps and static files, queueing, completing."""

import pytest

from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.errors import CyclicError, GraphError
from stepup_trio.exporters.text import format_graph
from stepup_trio.hashing import FileHash

HASH_A = FileHash(bytes(range(64)), 0o100644, 1.5, 12, 101)
HASH_B = FileHash(bytes(range(64, 128)), 0o100644, 2.5, 13, 102)


def keys(nodes):
    return [node.key for node in nodes]


@pytest.fixture
def plan(workflow):
    """The boot step, popped from the queue and running."""
    step = workflow.pop_queued()
    assert step.key == "step:./plan.py"
    workflow.start(step)
    return step


def queued_keys(workflow):
    return [step.key for step in workflow.queue if step.state == StepState.QUEUED]


# Boot


def test_boot(workflow):
    assert keys(workflow.graph) == [
        "root:",
        "vacuum:",
        "file:plan.py",
        "file:./",
        "step:./plan.py",
    ]
    root = workflow.graph.root
    plan_py = workflow.file("plan.py")
    cwd = workflow.file("./")
    boot = workflow.step("./plan.py")
    assert plan_py.state == FileState.STATIC
    assert cwd.state == FileState.STATIC
    for node in plan_py, cwd, boot:
        assert node.creator is root
    assert boot.state == StepState.QUEUED
    assert boot.command == "./plan.py"
    assert boot.workdir == "./"
    assert set(boot.suppliers) == {plan_py, cwd}
    assert list(plan_py.suppliers) == [cwd]
    assert list(workflow.queue) == [boot]
    assert workflow.pop_queued() is boot
    assert workflow.pop_queued() is None


def test_boot_other_plan(kinds):
    from stepup_trio.core.workflow import Workflow

    workflow = Workflow.boot(kinds, "main.py")
    assert keys(workflow.graph)[2:] == ["file:main.py", "file:./", "step:./main.py"]
    assert workflow.step("./main.py").state == StepState.QUEUED


def test_start(workflow, plan):
    assert plan.state == StepState.RUNNING
    assert workflow.pop_queued() is None


# define_step: outputs, placeholders, required directories


def test_define_step_output(workflow, plan):
    step = workflow.define_step(plan, "touch a", out=["a"])
    out = workflow.file("a")
    cwd = workflow.file("./")
    assert step.key == "step:touch a"
    assert workflow.step("touch a") is step
    assert step.creator is plan
    assert step in plan.products
    assert out.state == FileState.PENDING
    assert out.creator is step
    assert not out.orphan
    assert set(out.suppliers) == {step, cwd}
    assert workflow.outputs(step) == [out]
    assert workflow.inputs(step) == [cwd]
    assert step.state == StepState.QUEUED
    assert workflow.pop_queued() is step


def test_define_step_output_in_unknown_dir(workflow, plan):
    step = workflow.define_step(plan, "touch sub/a", out=["sub/a"])
    out = workflow.file("sub/a")
    sub = workflow.file("sub/")
    # The output's parent is a required directory: an orphan placeholder for now.
    assert sub.orphan
    assert sub.creator is workflow.graph.vacuum
    assert sub.state == FileState.PENDING
    assert list(sub.suppliers) == [workflow.file("./")]
    assert sub in step.suppliers
    assert set(out.suppliers) == {step, sub}
    assert out.creator is step
    assert step.state == StepState.PENDING
    assert workflow.pop_queued() is None


def test_define_step_placeholder_input(workflow, plan):
    step = workflow.define_step(plan, "cat a", inp=["a"])
    node = workflow.file("a")
    assert node.orphan
    assert node.creator is workflow.graph.vacuum
    assert node in workflow.graph.vacuum.products
    assert node.state == FileState.PENDING
    assert list(node.suppliers) == [workflow.file("./")]
    assert list(node.consumers) == [step]
    assert step.state == StepState.PENDING
    assert workflow.pop_queued() is None


def test_define_step_nested_placeholder_input(workflow, plan):
    step = workflow.define_step(plan, "cat sub/deeper/a", inp=["sub/deeper/a"])
    a = workflow.file("sub/deeper/a")
    deeper = workflow.file("sub/deeper/")
    sub = workflow.file("sub/")
    for node in a, deeper, sub:
        assert node.orphan
        assert node.state == FileState.PENDING
    assert list(a.suppliers) == [deeper]
    assert list(deeper.suppliers) == [sub]
    assert list(sub.suppliers) == [workflow.file("./")]
    assert a in step.suppliers
    assert deeper not in step.suppliers


def test_define_step_outside_root(workflow, plan):
    workflow.define_step(plan, "cat ../a", inp=["../a"])
    up = workflow.file("../")
    # Chains of ../ are always static and created by the root.
    assert up.state == FileState.STATIC
    assert up.creator is workflow.graph.root
    # As in StepUp, ../ hangs below ./ in the supplier graph.
    assert list(up.suppliers) == [workflow.file("./")]
    assert list(workflow.file("../a").suppliers) == [up]


def test_define_step_required_dirs(workflow, plan):
    step = workflow.define_step(plan, "cmd", workdir="sub/", out=["out/x.txt"])
    assert step.key == "step:cmd  # wd=sub/"
    assert workflow.step("cmd  # wd=sub/") is step
    assert step.workdir == "sub/"
    assert step.command == "cmd"
    sub = workflow.file("sub/")
    out_dir = workflow.file("out/")
    assert set(workflow.inputs(step)) == {sub, out_dir}
    assert workflow.file("./") not in step.suppliers
    for node in sub, out_dir:
        assert node.orphan
        assert node.state == FileState.PENDING
    assert step.state == StepState.PENDING
    # Declaring the directories adopts the placeholders and queues the step.
    workflow.declare_static(plan, ["sub/"])
    assert step.state == StepState.PENDING
    workflow.declare_static(plan, ["out/"])
    assert not sub.orphan
    assert sub.creator is plan
    assert sub.state == FileState.STATIC
    assert step.state == StepState.QUEUED
    assert workflow.pop_queued() is step


def test_define_step_fields(workflow, plan):
    workflow.define_pool(plan, "p", 1)
    step = workflow.define_step(
        plan, "run", env=["B", "A", "B"], pool="p", inp=["b", "a", "a"], out=["y", "x"]
    )
    assert step.env_vars == ("A", "B")
    assert step.pool == "p"
    assert step.mandatory == Mandatory.YES
    assert not step.block
    assert keys(workflow.graph)[5:] == ["step:run", "file:a", "file:b", "file:x", "file:y"]


def test_queue_only_when_all_suppliers_available(workflow, plan):
    step = workflow.define_step(plan, "cat a b", inp=["a", "b"])
    assert step.state == StepState.PENDING
    workflow.declare_static(plan, ["a"])
    assert step.state == StepState.PENDING
    assert workflow.pop_queued() is None
    workflow.declare_static(plan, ["b"])
    assert step.state == StepState.QUEUED
    assert workflow.pop_queued() is step
    assert workflow.pop_queued() is None


def test_static_input_declared_first(workflow, plan):
    workflow.declare_static(plan, ["a"])
    step = workflow.define_step(plan, "cat a", inp=["a"])
    assert step.state == StepState.QUEUED


@pytest.mark.parametrize("kwargs", [{"optional": True}, {"block": True}])
def test_not_queued_when_optional_or_blocked(workflow, plan, kwargs):
    step = workflow.define_step(plan, "touch a", out=["a"], **kwargs)
    assert step.state == StepState.PENDING
    assert workflow.pop_queued() is None
    assert not workflow.try_queue(step)
    assert step.state == StepState.PENDING


def test_pop_queued_skips_orphans(workflow, plan):
    first = workflow.define_step(plan, "first")
    second = workflow.define_step(plan, "second")
    assert first.state == StepState.QUEUED
    workflow.graph.orphan(first)
    assert workflow.pop_queued() is second
    assert workflow.pop_queued() is None


def test_not_queued_with_orphan_input(workflow, plan):
    producer = workflow.define_step(plan, "touch a", out=["a"])
    assert workflow.pop_queued() is producer
    workflow.start(producer)
    workflow.finish(producer, True, {"a": HASH_A})
    workflow.graph.orphan(producer)
    a = workflow.file("a")
    assert a.orphan
    assert a.state == FileState.BUILT
    consumer = workflow.define_step(plan, "cat a", inp=["a"])
    assert consumer.state == StepState.PENDING


# Completing steps


@pytest.fixture
def pair(workflow, plan):
    """The seed's two steps: the echo step is running, grep waits for story.txt."""
    echo = workflow.define_step(plan, "echo hi > story.txt", out=["story.txt"])
    grep = workflow.define_step(plan, "grep hi story.txt", inp=["story.txt"])
    assert workflow.pop_queued() is echo
    workflow.start(echo)
    assert echo.state == StepState.RUNNING
    assert grep.state == StepState.PENDING
    return echo, grep


def test_finish_success(workflow, pair):
    echo, grep = pair
    story = workflow.file("story.txt")
    workflow.finish(echo, True, {"story.txt": HASH_A})
    assert echo.state == StepState.SUCCEEDED
    assert story.state == FileState.BUILT
    assert story.hash is HASH_A
    assert grep.state == StepState.QUEUED
    assert workflow.pop_queued() is grep
    workflow.start(grep)
    workflow.finish(grep, True, {"story.txt": HASH_A})
    assert grep.state == StepState.SUCCEEDED
    assert workflow.failed_steps() == []
    assert workflow.pending_steps() == []


def test_finish_updates_static_input_hashes(workflow, plan):
    workflow.declare_static(plan, ["a"])
    step = workflow.define_step(plan, "cp a b", inp=["a"], out=["b"])
    assert workflow.pop_queued() is step
    workflow.start(step)
    workflow.finish(step, True, {"a": HASH_A, "b": HASH_B})
    assert workflow.file("a").hash is HASH_A
    assert workflow.file("a").state == FileState.STATIC
    assert workflow.file("b").hash is HASH_B
    assert workflow.file("b").state == FileState.BUILT


def test_finish_failure(workflow, pair):
    echo, grep = pair
    story = workflow.file("story.txt")
    workflow.finish(echo, False, {})
    assert echo.state == StepState.FAILED
    assert story.state == FileState.PENDING
    assert grep.state == StepState.PENDING
    assert workflow.pop_queued() is None
    assert workflow.failed_steps() == [echo]
    assert workflow.pending_steps() == [grep]


def test_abort(workflow, pair):
    echo, _grep = pair
    story = workflow.file("story.txt")
    workflow.abort(echo)
    assert echo.state == StepState.PENDING
    assert story.state == FileState.PENDING
    # A step that ran before: its built outputs are pending again.
    assert workflow.try_queue(echo)
    assert workflow.pop_queued() is echo
    workflow.start(echo)
    workflow.finish(echo, True, {"story.txt": HASH_A})
    assert story.state == FileState.BUILT
    workflow.start(echo)
    workflow.abort(echo)
    assert echo.state == StepState.PENDING
    assert story.state == FileState.PENDING
    assert story.hash is HASH_A


# Errors leave no trace


def test_define_step_twice(workflow, plan):
    workflow.define_step(plan, "touch a", out=["a"])
    before = format_graph(workflow.graph)
    with pytest.raises(GraphError, match=r"^Cannot define a step twice: step:touch a$"):
        workflow.define_step(plan, "touch a", out=["b"])
    assert format_graph(workflow.graph) == before


def test_output_already_created(workflow, plan):
    workflow.define_step(plan, "touch a", out=["a"])
    before = format_graph(workflow.graph)
    with pytest.raises(GraphError, match=r"^Output is already created: a$"):
        workflow.define_step(plan, "touch a again", out=["a"])
    assert format_graph(workflow.graph) == before


def test_output_is_static(workflow, plan):
    with pytest.raises(GraphError, match=r"^Output is already created: plan.py$"):
        workflow.define_step(plan, "touch plan.py", out=["plan.py"])


def test_own_output_as_input(workflow, plan):
    before = format_graph(workflow.graph)
    with pytest.raises(GraphError, match="own output as input: a"):
        workflow.define_step(plan, "touch a", inp=["a"], out=["a"])
    assert format_graph(workflow.graph) == before


def test_orphan_cannot_define_steps(workflow, plan):
    sub = workflow.define_step(plan, "./sub.py")
    workflow.graph.orphan(sub)
    with pytest.raises(GraphError, match=r"An orphan cannot define steps: step:\./sub\.py"):
        workflow.define_step(sub, "touch a", out=["a"])
    assert "file:a" not in workflow.graph


def test_cycle(workflow, plan):
    workflow.define_step(plan, "cp a b", inp=["a"], out=["b"])
    before = format_graph(workflow.graph)
    nodes_before = keys(workflow.graph)
    queue_before = list(workflow.queue)
    with pytest.raises(CyclicError) as excinfo:
        workflow.define_step(plan, "cp b a", inp=["b"], out=["a"])
    assert str(excinfo.value) == (
        "New relation introduces cyclic dependency:\n"
        "  file:a\n"
        "  step:cp a b\n"
        "  file:b\n"
        "  step:cp b a\n"
        "  file:a"
    )
    assert format_graph(workflow.graph) == before
    assert keys(workflow.graph) == nodes_before
    assert list(workflow.queue) == queue_before
    assert workflow.step("cp b a") is None


def test_cycle_of_three(workflow, plan):
    workflow.define_step(plan, "cp a b", inp=["a"], out=["b"])
    workflow.define_step(plan, "cp b c", inp=["b"], out=["c"])
    before = format_graph(workflow.graph)
    with pytest.raises(CyclicError, match="cyclic dependency") as excinfo:
        workflow.define_step(plan, "cp c a", inp=["c"], out=["a"])
    listed = [line.strip() for line in str(excinfo.value).splitlines()[1:]]
    assert listed[0] == listed[-1]
    assert set(listed) == {
        "file:a",
        "file:b",
        "file:c",
        "step:cp a b",
        "step:cp b c",
        "step:cp c a",
    }
    assert format_graph(workflow.graph) == before


def has_cycle(graph):
    """Iterative three-colour search of the supplier graph."""
    state = {}
    for start in graph:
        if start in state:
            continue
        state[start] = "open"
        stack = [(start, iter(start.consumers))]
        while stack:
            node, todo = stack[-1]
            for consumer in todo:
                if state.get(consumer) == "open":
                    return True
                if consumer not in state:
                    state[consumer] = "open"
                    stack.append((consumer, iter(consumer.consumers)))
                    break
            else:
                state[node] = "done"
                stack.pop()
    return False


def test_cycle_through_new_placeholder_input(workflow, plan):
    before = format_graph(workflow.graph)
    with pytest.raises(CyclicError):
        workflow.define_step(plan, "mkdir sub", inp=["sub/x"], out=["sub/"])
    assert not has_cycle(workflow.graph)
    assert format_graph(workflow.graph) == before


def test_cycle_through_workdir_in_own_output(workflow, plan):
    with pytest.raises(CyclicError):
        workflow.define_step(plan, "mkdir d", workdir="d/x/", out=["d/"])
    assert not has_cycle(workflow.graph)


# declare_static


def test_declare_static(workflow, plan):
    nodes = workflow.declare_static(plan, ["sub/foo.txt", "sub/", "a.txt"])
    assert keys(nodes) == ["file:a.txt", "file:sub/", "file:sub/foo.txt"]
    for node in nodes:
        assert node.state == FileState.STATIC
        assert node.creator is plan
    assert list(workflow.file("sub/foo.txt").suppliers) == [workflow.file("sub/")]
    assert list(workflow.file("sub/").suppliers) == [workflow.file("./")]
    # A parent declared earlier is fine too.
    workflow.declare_static(plan, ["sub/bar.txt"])
    assert list(workflow.file("sub/bar.txt").suppliers) == [workflow.file("sub/")]


def test_declare_static_already_exists(workflow, plan):
    before = format_graph(workflow.graph)
    with pytest.raises(GraphError, match=r"^Static path already exists: plan.py$"):
        workflow.declare_static(plan, ["a", "plan.py"])
    assert format_graph(workflow.graph) == before
    workflow.declare_static(plan, ["a"])
    with pytest.raises(GraphError, match=r"^Static path already exists: a$"):
        workflow.declare_static(plan, ["a"])


def test_declare_static_no_parent(workflow, plan):
    before = format_graph(workflow.graph)
    with pytest.raises(GraphError, match=r"^Static path has no parent path node: sub/foo.txt$"):
        workflow.declare_static(plan, ["sub/foo.txt"])
    assert format_graph(workflow.graph) == before


def test_declare_static_orphan_parent(workflow, plan):
    workflow.define_step(plan, "cat sub/foo.txt", inp=["sub/foo.txt"])
    assert workflow.file("sub/").orphan
    with pytest.raises(GraphError, match=r"^Static path has no parent path node: sub/foo.txt$"):
        workflow.declare_static(plan, ["sub/foo.txt"])


def test_declare_static_no_static_parent(workflow, plan):
    workflow.define_step(plan, "mkdir out", out=["out/"])
    with pytest.raises(
        GraphError, match=r"^Static path has no static parent path node: out/foo.txt$"
    ):
        workflow.declare_static(plan, ["out/foo.txt"])


def test_declare_static_adopts_placeholder(workflow, plan):
    step = workflow.define_step(plan, "cat a", inp=["a"])
    placeholder = workflow.file("a")
    [node] = workflow.declare_static(plan, ["a"])
    assert node is placeholder
    assert not node.orphan
    assert node.creator is plan
    assert node.state == FileState.STATIC
    assert list(node.consumers) == [step]
    assert step.state == StepState.QUEUED


def test_output_adopts_placeholder(workflow, plan):
    consumer = workflow.define_step(plan, "cat a", inp=["a"])
    placeholder = workflow.file("a")
    producer = workflow.define_step(plan, "touch a", out=["a"])
    assert workflow.file("a") is placeholder
    assert placeholder.creator is producer
    assert set(placeholder.suppliers) == {producer, workflow.file("./")}
    assert list(placeholder.consumers) == [consumer]
    assert keys(workflow.graph)[5:] == ["step:cat a", "file:a", "step:touch a"]


# Reports


def test_pending_and_failed_steps(workflow, plan):
    blocked = workflow.define_step(plan, "z blocked", block=True)
    waiting = workflow.define_step(plan, "b waiting", inp=["missing"])
    workflow.define_step(plan, "optional", inp=["missing"], optional=True)
    failing = workflow.define_step(plan, "fail")
    gone = workflow.define_step(plan, "a gone", inp=["missing"])
    workflow.graph.orphan(gone)
    assert workflow.pending_steps() == [waiting, blocked]
    assert workflow.failed_steps() == []
    assert workflow.pop_queued() is failing
    workflow.start(failing)
    workflow.finish(failing, False, {})
    assert workflow.failed_steps() == [failing]
    assert failing not in workflow.pending_steps()
    # The boot step is running: neither pending nor failed.
    assert plan not in workflow.pending_steps()


def test_steps(workflow, plan):
    workflow.define_step(plan, "first", out=["a"])
    workflow.define_step(plan, "second", inp=["a"])
    assert keys(workflow.steps()) == ["step:./plan.py", "step:first", "step:second"]
