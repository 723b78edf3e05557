"""Property-based tests of incremental builds: random projects, random edits, real ``stepup``.

Two fuzzers live here.

The *flat* one (``test_incremental_equals_clean_build``): Hypothesis draws a DAG of 3-8 steps;
each step concatenates some static inputs and earlier outputs into its own output with ``cat``.
After a first build, 1-3 random edits are applied (change a static input, touch one without
changing it, delete an output, append an ``echo`` to a step's command) and stepup runs again
with ``-n``. Then (a) every output equals the one of a clean build of the edited project in a
fresh folder, (b) no step whose inputs did not (transitively) change was rerun, and (c) both runs
exit with code 0 and every directly edited step did rerun.

The *scenario* one (``test_scenario``, ``test_differential``; the code is in ``fuzz_model.py``
and ``fuzz_runner.py``): random projects with sub-plans, ``amend()``, steps that declare static
files, named, plain and deferred globs, ``mkdir()``, ``copy()`` and work directories outside the
root, and 1-4 batches of edits, each applied in watch mode or across a restart of an interactive
``stepup -w1``. See ``fuzz_runner.py`` for the invariants checked after every batch. With
``STEPUP_REFERENCE`` set to a venv with StepUp 1.3.1, ``test_differential`` also runs every
scenario through it and compares files, graph.txt and the START/SKIP lines per batch; it goes on
after a failure, writes each failing scenario to ``STEPUP_FUZZ_OUT`` (default
``/tmp/stepup-fuzz``) and fails at the end with a summary. Without it, it is skipped.

CI runs a bounded, derandomized sample: 3 flat examples and 5 small scenarios (seeds 0-4), in
about 35 s. Larger runs::

    STEPUP_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_fuzz.py -k flat
    STEPUP_FUZZ_SCENARIOS=40 .venv/bin/pytest tests/test_fuzz.py -k scenario
    STEPUP_REFERENCE=/tmp/ref STEPUP_FUZZ_EXAMPLES=300 .venv/bin/pytest tests/test_fuzz.py \
        -k differential -s
    .venv/bin/python tests/fuzz_runner.py run --reference /tmp/ref --count 300 --seed 1
    .venv/bin/python tests/fuzz_runner.py replay /tmp/stepup-fuzz/seed-7/scenario.json

``STEPUP_FUZZ_SEED`` (an integer) replaces the derandomized search of the flat test with a
seeded random one, and is the first seed of the scenario tests (default 0), e.g.
``STEPUP_FUZZ_SEED=$RANDOM STEPUP_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/test_fuzz.py``.
``STEPUP_FUZZ_SHAPES`` limits the shapes of the scenarios (e.g. ``-rout,-pub``).
"""

import os
import re
import tempfile
from pathlib import Path

import attrs
import fuzz_model
import fuzz_runner
import pytest
from helpers import run_stepup, write_plan
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

NUM_EXAMPLES = int(os.environ.get("STEPUP_FUZZ_EXAMPLES", "3"))
SEED = os.environ.get("STEPUP_FUZZ_SEED")
FIRST_SEED = int(SEED or "0")
NUM_SCENARIOS = int(os.environ.get("STEPUP_FUZZ_SCENARIOS", "5"))
NUM_DIFFERENTIAL = int(os.environ.get("STEPUP_FUZZ_EXAMPLES", "20"))
REFERENCE = os.environ.get("STEPUP_REFERENCE")
SHAPES = fuzz_runner.parse_shapes(os.environ.get("STEPUP_FUZZ_SHAPES"))


@attrs.define
class Project:
    """Static files ``s<j>.txt`` with their contents, steps writing ``o<i>.txt``."""

    statics: list[str]
    deps: list[list[str]]
    echoes: list[int] = attrs.Factory(list)

    def command(self, index: int) -> str:
        command = f"cat {' '.join(self.deps[index])} > o{index}.txt"
        for count in range(self.echoes[index]):
            command += f"; echo edit{count} >> o{index}.txt"
        return command

    def plan(self) -> str:
        lines = ["from stepup.core.api import static, step"]
        lines.append(f"static({', '.join(repr(f's{j}.txt') for j in range(len(self.statics)))})")
        for index, deps in enumerate(self.deps):
            lines.append(f"step({self.command(index)!r}, inp={deps!r}, out='o{index}.txt')")
        return "\n".join(lines) + "\n"

    def write(self, folder: Path) -> None:
        for j, content in enumerate(self.statics):
            (folder / f"s{j}.txt").write_text(content)
        write_plan(folder, self.plan())


@st.composite
def projects(draw) -> Project:
    num_static = draw(st.integers(1, 3))
    num_steps = draw(st.integers(3, 8))
    statics = [f"static {j}\n" for j in range(num_static)]
    deps = []
    for index in range(num_steps):
        choices = [f"s{j}.txt" for j in range(num_static)] + [f"o{k}.txt" for k in range(index)]
        deps.append(draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True)))
    return Project(statics, deps, [0] * num_steps)


def edits(project: Project):
    num_static = len(project.statics)
    num_steps = len(project.deps)
    edit = st.one_of(
        st.tuples(st.just("change"), st.integers(0, num_static - 1)),
        st.tuples(st.just("touch"), st.integers(0, num_static - 1)),
        st.tuples(st.just("delete"), st.integers(0, num_steps - 1)),
        st.tuples(st.just("command"), st.integers(0, num_steps - 1)),
    )
    return st.lists(edit, min_size=1, max_size=3)


def started(result) -> list[str]:
    return re.findall(r"START │ (.*)", result.stdout)


def build(folder: Path):
    result = run_stepup(folder, "-n", "-w2", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def outputs(folder: Path, project: Project) -> dict[str, str]:
    return {
        f"o{index}.txt": (folder / f"o{index}.txt").read_text()
        for index in range(len(project.deps))
    }


def apply_edits(folder: Path, project: Project, chosen: list[tuple[str, int]]) -> set[int]:
    """Apply the edits; return the steps that are directly affected (and must rerun)."""
    direct = set()
    changed_statics = set()
    for kind, index in chosen:
        if kind == "change":
            project.statics[index] += f"changed {index}\n"
            (folder / f"s{index}.txt").write_text(project.statics[index])
            changed_statics.add(f"s{index}.txt")
        elif kind == "touch":
            path = folder / f"s{index}.txt"
            path.write_text(path.read_text())
            stat = path.stat()
            os.utime(path, (stat.st_atime + 10, stat.st_mtime + 10))
        elif kind == "delete":
            (folder / f"o{index}.txt").unlink(missing_ok=True)
            direct.add(index)
        elif kind == "command":
            project.echoes[index] += 1
            direct.add(index)
    direct.update(
        index for index, deps in enumerate(project.deps) if changed_statics.intersection(deps)
    )
    write_plan(folder, project.plan())
    return direct


def downstream(project: Project, direct: set[int]) -> set[int]:
    """The steps that may rerun: the directly affected ones and everything after them."""
    affected = set(direct)
    for index, deps in enumerate(project.deps):
        if any(f"o{k}.txt" in deps for k in affected):
            affected.add(index)
    return affected


def fuzz_settings(test):
    test = settings(
        max_examples=NUM_EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )(test)
    if SEED is not None:
        test = seed(int(SEED))(test)
    return test


@fuzz_settings
@given(data=st.data(), project=projects())
def test_flat_incremental_equals_clean_build(data, project):
    with tempfile.TemporaryDirectory(prefix="stepup-fuzz-") as tmp:
        work = Path(tmp) / "work"
        clean = Path(tmp) / "clean"
        work.mkdir()
        clean.mkdir()
        project.write(work)
        first = build(work)
        assert len(started(first)) == len(project.deps) + 1, first.stdout

        chosen = data.draw(edits(project), label="edits")
        direct = apply_edits(work, project, chosen)
        second = build(work)

        project.write(clean)
        build(clean)
        # (a) The incremental build gives the files of a clean build.
        assert outputs(work, project) == outputs(clean, project), second.stdout

        # (b) Steps upstream of every edit, or beside them, are not rerun.
        commands = {project.command(index): index for index in range(len(project.deps))}
        rerun = {commands[line] for line in started(second) if line != "./plan.py"}
        allowed = downstream(project, direct)
        assert rerun <= allowed, (sorted(rerun - allowed), chosen, second.stdout)
        # (c) The steps that were edited themselves, or whose static input changed, did rerun.
        assert direct <= rerun, (sorted(direct - rerun), chosen, second.stdout)


# Scenarios: sub-plans, amend, globs, watch mode and restarts (fuzz_model.py, fuzz_runner.py)


@pytest.mark.parametrize("scenario_seed", range(FIRST_SEED, FIRST_SEED + NUM_SCENARIOS))
def test_scenario(scenario_seed, tmp_path):
    """One random scenario through our stepup; every invariant holds after every batch."""
    # In CI the scenarios are small (up to 8 steps, 2 batches) to stay within the time budget.
    small = "STEPUP_FUZZ_SCENARIOS" not in os.environ
    options = {"max_steps": 8, "max_batches": 2} if small else {}
    scenario = fuzz_model.generate(scenario_seed, SHAPES, **options)
    outcome = fuzz_runner.run_scenario(scenario, keep=tmp_path)
    if outcome.failures:
        pytest.fail(fuzz_runner.describe(scenario, outcome), pytrace=False)


@pytest.mark.skipif(not REFERENCE, reason="set STEPUP_REFERENCE to a venv with StepUp 1.3.1")
def test_differential():
    """Many scenarios through our stepup and the reference; all differences are collected."""
    out = Path(os.environ.get("STEPUP_FUZZ_OUT", "/tmp/stepup-fuzz"))
    outcomes = fuzz_runner.run_many(
        range(FIRST_SEED, FIRST_SEED + NUM_DIFFERENTIAL),
        fuzz_runner.reference(REFERENCE),
        out,
        SHAPES,
        log=lambda line: print(line, flush=True),
    )
    failed = [o.seed for o in outcomes if o.status == "failed"]
    assert not failed, f"failing seeds {failed}, written to {out}\n{fuzz_runner.summary(outcomes)}"
