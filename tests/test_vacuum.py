"""The vacuum rules (stepup_trio.core.vacuum) on the pure workflow, without trio or processes."""

from test_recording import file_hash, run

from stepup_trio.core.actions import Amend, DeclareStatic, DefineStep
from stepup_trio.core.states import FileState, Mandatory, StepState

GEN = DefineStep("./gen.py", inp=["gen.py"])
ECHO = DefineStep("echo one > mid.txt", out=["mid.txt"])
COPY = DefineStep("cp mid.txt final.txt", inp=["mid.txt"], out=["final.txt"])


def build_gen_copy(workflow):
    """plan.py defines gen.py and the copy; gen.py defines the echo that makes mid.txt."""
    plan = workflow.pop_queued()
    run(workflow, plan, [DeclareStatic(["gen.py"]), GEN, COPY], {"plan.py": file_hash(1)})
    gen = workflow.pop_queued()
    run(workflow, gen, [ECHO], {"gen.py": file_hash(2)})
    echo = workflow.pop_queued()
    run(workflow, echo, (), {"mid.txt": file_hash(3)})
    copy = workflow.pop_queued()
    run(workflow, copy, (), {"final.txt": file_hash(4)})
    assert workflow.pop_queued() is None
    return plan, gen, echo, copy


def test_orphaned_file_makes_consumers_of_other_creators_pending(workflow):
    plan, gen, echo, copy = build_gen_copy(workflow)
    workflow.make_pending(gen, input_changed=True)
    # The echo and its output went to the vacuum with gen.py's other products ...
    assert echo.orphan and workflow.file("mid.txt").orphan
    # ... and the copy, defined by plan.py, must be checked again.
    assert copy.state == StepState.PENDING
    assert workflow.file("final.txt").state == FileState.PENDING
    assert not copy.orphan and plan.state == StepState.SUCCEEDED


def test_orphaned_step_is_pending_with_its_outputs(workflow):
    _, gen, echo, _ = build_gen_copy(workflow)
    workflow.orphan(echo)
    assert echo.state == StepState.PENDING
    assert workflow.file("mid.txt").state == FileState.PENDING
    assert gen.state == StepState.SUCCEEDED


def test_orphaned_input_drops_amended_information(workflow):
    plan = workflow.pop_queued()
    work = DefineStep("./work.py", inp=["work.py"], out=["w.txt"])
    run(workflow, plan, [DeclareStatic(["work.py", "a.txt"]), work])
    step = workflow.pop_queued()
    run(workflow, step, [Amend(inp=["a.txt"], out=["extra.txt"], env=["V"])])
    assert step.amended_inp == ("a.txt",) and step.amended_out == ("extra.txt",)
    workflow.orphan(workflow.file("a.txt"))
    assert step.state == StepState.PENDING
    assert step.amended_inp == step.amended_out == step.amended_env == ()
    assert workflow.file("a.txt") not in step.suppliers
    assert workflow.file("extra.txt").orphan
    assert workflow.file("extra.txt") not in step.consumers


def test_long_chain_of_amended_outputs_without_recursion(workflow):
    """Each step amends the output that the next one uses: orphaning the first input reaches
    all of them, without a recursion per step."""
    plan = workflow.pop_queued()
    count = 3000
    actions = [DeclareStatic(["s.txt"])]
    actions += [
        DefineStep(f"step {i}", inp=["s.txt" if i == 0 else f"o{i - 1}"]) for i in range(count)
    ]
    run(workflow, plan, actions)
    for i in range(count):
        step = workflow.pop_queued()
        assert step.key == f"step:step {i}"
        run(workflow, step, [Amend(out=[f"o{i}"])], {f"o{i}": file_hash(5)})
    workflow.orphan(workflow.file("s.txt"))
    assert all(workflow.step(f"step {i}").state == StepState.PENDING for i in range(count))
    assert all(workflow.file(f"o{i}").orphan for i in range(count))


def test_orphaned_needed_step_releases_optional_suppliers(workflow):
    plan = workflow.pop_queued()
    make = DefineStep("make a", out=["a.txt"], optional=True)
    use = DefineStep("use a", inp=["a.txt"])
    also = DefineStep("also a", inp=["a.txt"])
    run(workflow, plan, [make, use, also])
    assert workflow.step("make a").mandatory == Mandatory.IMPLIED
    workflow.orphan(workflow.step("use a"))
    # Another needed step still uses a.txt.
    assert workflow.step("make a").mandatory == Mandatory.IMPLIED
    workflow.orphan(workflow.step("also a"))
    assert workflow.step("make a").mandatory == Mandatory.NO


def test_orphan_used_as_input_starts_afresh(workflow):
    plan = workflow.pop_queued()
    run(workflow, plan, [DefineStep("echo a > a.txt", out=["a.txt"])])
    echo = workflow.pop_queued()
    run(workflow, echo, (), {"a.txt": file_hash(3)})
    workflow.orphan(echo)
    node = workflow.file("a.txt")
    assert node.orphan and echo in node.suppliers
    workflow.start(plan)
    workflow.perform(plan, DefineStep("cat a.txt", inp=["a.txt"]))
    assert node.state == FileState.PENDING
    assert list(node.suppliers) == [workflow.file("./")]
    assert node.hash == file_hash(3)
    # Nothing keeps the old step in the graph now.
    assert not echo.consumers
