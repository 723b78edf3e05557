"""A restart that changed nothing: skip_order must agree with the general path, exactly.

The general path dissolves the loaded workflow, boots it, and skips each queued step (replaying
its recording). skip_order predicts the order of those skips on the loaded graph without
changing it. For many random workflows, both must give the same order of SKIP lines and, in the
end, the same graph down to the bytes of the dump.
"""

import random

import pytest

from stepup_trio.core.actions import Amend, DeclareStatic, DefinePool, DefineStep, RegisterGlob
from stepup_trio.core.restart import skip_order
from stepup_trio.core.states import FileState, StepState
from stepup_trio.core.stephash import compute_step_hash
from stepup_trio.core.workflow import Workflow
from stepup_trio.hashing import FileHash
from stepup_trio.store import deserialize, encode, serialize


def file_hash(path: str) -> FileHash:
    seed = sum(path.encode()) % 251
    return FileHash(bytes([seed]) * 64, 0o100644, float(seed), len(path), seed)


def build(kinds, program: dict[str, list], previous: bytes | None = None) -> Workflow:
    """Run a workflow to completion: ``program`` maps a step command to the actions it performs.

    Outputs are "written" with a fixed hash per path. With the dump of a ``previous`` build,
    the plan runs again and the other steps are skipped when they can be, as on a restart
    after the plan changed. Returns the finished, cleaned workflow.
    """
    if previous is None:
        workflow = Workflow.boot(kinds)
    else:
        workflow = deserialize(previous, kinds)
        workflow.restart()
    while (step := workflow.pop_queued()) is not None:
        if step in workflow.to_validate:
            workflow.validated(step, previous is not None)
            continue
        if step.command != "./plan.py" and workflow.replayable(step) and workflow.skip(step, {}):
            continue
        workflow.start(step)
        for action in program.get(step.command, []):
            workflow.perform(step, action)
        hashes = {node.path: file_hash(node.path) for node in workflow.outputs(step)}
        hashes.update(
            (node.path, file_hash(node.path))
            for node in workflow.inputs(step)
            if node.state == FileState.STATIC
        )
        step_hash = compute_step_hash(step.key, [], {}, [])
        workflow.finish(step, True, hashes, step_hash)
    assert not workflow.failed_steps()
    assert not workflow.pending_steps()
    workflow.clean()
    return workflow


def general_order(workflow: Workflow) -> list[str]:
    """What the director does when it cannot use skip_order: dissolve, boot, skip all."""
    workflow.restart()
    order = []
    while (step := workflow.pop_queued()) is not None:
        if step in workflow.to_validate:
            # Nothing changed: the amended inputs are still valid.
            workflow.validated(step, True)
            continue
        assert workflow.replayable(step)
        assert workflow.skip(step, {})
        order.append(step.key)
    workflow.clean()
    return order


def assert_same_as_general_path(kinds, program, previous: bytes | None = None) -> list[str]:
    data = serialize(build(kinds, program, previous), "dump")
    loaded = deserialize(data, kinds)
    fast = skip_order(loaded, "plan.py")
    assert fast is not None
    replayed = deserialize(data, kinds)
    slow = general_order(replayed)
    assert [step.key for step in fast] == slow
    # Kept as loaded, the workflow is the one that the replay rebuilt.
    assert encode(loaded, "same") == encode(replayed, "same")
    assert all(step.state == StepState.SUCCEEDED for step in loaded.steps())
    return slow


def random_program(rng: random.Random) -> dict[str, list]:
    """A plan that declares sources and defines steps (some of them sub-plans that define more
    steps), whose dependencies go in any direction relative to the order of definition."""
    sources = [f"src{i}.txt" for i in range(rng.randint(0, 4))]
    count = rng.randint(1, 25)
    # A random topological rank, independent of the order in which steps are defined.
    ranks = list(range(count))
    rng.shuffle(ranks)
    outputs = {rank: [f"out{rank}_{j}.txt" for j in range(rng.randint(0, 2))] for rank in ranks}
    definitions = []
    for rank in ranks:
        earlier = [path for r in range(rank) for path in outputs[r]]
        inp = rng.sample(earlier + sources, k=min(len(earlier + sources), rng.randint(0, 3)))
        env = ["VAR"] if rng.random() < 0.2 else []
        definitions.append((rank, DefineStep(f"step {rank}", inp=inp, out=outputs[rank], env=env)))
    program: dict[str, list] = {"./plan.py": []}
    plan_actions = program["./plan.py"]
    # Sources may be declared before, between or after the steps that use them.
    declare_at = rng.randint(0, len(definitions))
    subplans: dict[str, int] = {}
    for index, (rank, definition) in enumerate(definitions):
        if index == declare_at and sources:
            plan_actions.append(DeclareStatic(sources))
        # A sub-plan only defines steps of a higher rank, whose outputs it cannot need.
        owners = ["./plan.py", *(command for command, r in subplans.items() if r < rank)]
        program.setdefault(rng.choice(owners), []).append(definition)
        if rng.random() < 0.15:
            subplans[definition.command] = rank
    if declare_at == len(definitions) and sources:
        plan_actions.append(DeclareStatic(sources))
    for rank, definition in definitions:
        if definition.command in subplans or rng.random() < 0.7:
            continue
        # A step that amends inputs it found, or a file it declares itself.
        actions = program.setdefault(definition.command, [])
        if rng.random() < 0.5:
            actions.append(DeclareStatic([f"self{rank}.txt"]))
            actions.append(Amend(inp=[f"self{rank}.txt"]))
        earlier = [path for r in range(rank) for path in outputs[r]] + sources
        if earlier:
            actions.append(Amend(inp=rng.sample(earlier, k=min(len(earlier), 2))))
    return program


@pytest.mark.parametrize("seed", range(150))
def test_random_workflows(kinds, seed):
    assert_same_as_general_path(kinds, random_program(random.Random(seed)))


@pytest.mark.parametrize("seed", range(60))
def test_random_workflows_after_a_change_of_the_plan(kinds, seed):
    """The graph keeps the order in which nodes were first created; a replay links consumers
    in the order of this run's definitions: after the plan changed, the two differ."""
    rng = random.Random(seed)
    first = random_program(rng)
    second = {command: list(actions) for command, actions in first.items()}
    plan = second["./plan.py"]
    rng.shuffle(plan)
    for index in range(rng.randint(1, 4)):
        sources = [a.paths[0] for a in plan if isinstance(a, DeclareStatic) and a.paths]
        plan.insert(
            rng.randint(0, len(plan)),
            DefineStep(f"new {index}", inp=sources[:1], out=[f"new{index}.txt"]),
        )
    # A consumer of the new outputs, defined before them.
    new_outputs = [f"new{index}.txt" for index in range(index + 1)]
    plan.insert(0, DefineStep("cat new", inp=new_outputs))
    previous = serialize(build(kinds, first), "first")
    assert_same_as_general_path(kinds, second, previous)


def test_order_follows_definitions_and_outputs(kinds):
    program = {
        "./plan.py": [
            DefineStep("cat b > c", inp=["b"], out=["c"]),
            DeclareStatic(["a"]),
            DefineStep("cat a > b", inp=["a"], out=["b"]),
            DefineStep("echo x > d", out=["d"]),
        ]
    }
    order = assert_same_as_general_path(kinds, program)
    assert order == [
        "step:./plan.py",
        "step:cat a > b",
        "step:echo x > d",
        "step:cat b > c",
    ]


def test_amended_inputs_and_outputs(kinds):
    program = {
        "./plan.py": [
            DeclareStatic(["a", "extra"]),
            DefineStep("./gen.py", inp=["a"], out=["b"]),
            DefineStep("cat c", inp=["c"]),
        ],
        "./gen.py": [Amend(inp=["extra"], out=["c"])],
    }
    assert_same_as_general_path(kinds, program)


def test_directories_and_workdirs(kinds):
    program = {
        "./plan.py": [
            DefineStep("mkdir -p sub/", out=["sub/"]),
            DeclareStatic(["data/", "data/x.txt"]),
            DefineStep(
                "cp ../data/x.txt y.txt", workdir="sub/", inp=["data/x.txt"], out=["sub/y.txt"]
            ),
            DefineStep("cat sub/y.txt", inp=["sub/y.txt"], vol=["log.txt"]),
        ]
    }
    assert_same_as_general_path(kinds, program)


# What needs the general path: skip_order gives up, and changes nothing.


def not_plain(kinds, program, change=None) -> None:
    workflow = build(kinds, program)
    if change is not None:
        change(workflow)
    loaded = deserialize(serialize(workflow, "dump"), kinds)
    before = encode(loaded, "same")
    assert skip_order(loaded, "plan.py") is None
    assert encode(loaded, "same") == before


SIMPLE = {
    "./plan.py": [DeclareStatic(["a"]), DefineStep("cat a > b", inp=["a"], out=["b"])],
}


def test_gives_up_on_optional_steps(kinds):
    not_plain(
        kinds,
        {
            "./plan.py": [
                DefineStep("echo > o", out=["o"], optional=True),
                DefineStep("cat o", inp=["o"]),
            ]
        },
    )


def test_gives_up_on_pools(kinds):
    not_plain(
        kinds,
        {"./plan.py": [DefinePool("p", 1), DefineStep("true", pool="p")]},
    )


def test_gives_up_on_globs(kinds):
    not_plain(
        kinds,
        {"./plan.py": [RegisterGlob(["*.txt"]), DefineStep("true")]},
    )


def test_gives_up_on_a_failed_step(kinds):
    def fail(workflow):
        workflow.step("cat a > b").state = StepState.FAILED

    not_plain(kinds, SIMPLE, fail)


def test_gives_up_on_orphans(kinds):
    not_plain(kinds, SIMPLE, lambda workflow: workflow.graph.orphan(workflow.step("cat a > b")))


def test_gives_up_on_a_missing_hash(kinds):
    def forget(workflow):
        workflow.step("cat a > b").hash = None

    not_plain(kinds, SIMPLE, forget)


def test_gives_up_when_a_recording_does_not_fit(kinds):
    def other_definition(workflow):
        plan = workflow.step("./plan.py")
        plan.recording = [
            DeclareStatic(["a"]),
            DefineStep("cat a > b", inp=["a"], out=["b"], env=["NEW"]),
        ]

    not_plain(kinds, SIMPLE, other_definition)


def test_gives_up_when_a_node_would_not_be_defined_again(kinds):
    def forget_static(workflow):
        workflow.step("./plan.py").recording = [DefineStep("cat a > b", inp=["a"], out=["b"])]

    not_plain(kinds, SIMPLE, forget_static)


def test_gives_up_on_a_missing_static_file(kinds):
    def missing(workflow):
        workflow.file("a").state = FileState.MISSING

    not_plain(kinds, SIMPLE, missing)


def test_gives_up_on_another_plan(kinds):
    loaded = deserialize(serialize(build(kinds, SIMPLE), "dump"), kinds)
    assert skip_order(loaded, "other.py") is None
    assert skip_order(loaded, "plan.py") is not None
