"""amend() from a running step: amended inputs, env vars and outputs, RESCHEDULE when an
amended input is not built yet, skipping after a restart, and DROPAMEND when the amended
information is outdated. Expected lines and graph.txt blocks are StepUp 1.3.1's.
"""

import re

import pytest
from helpers import lines, without_plan_success, write_plan
from test_api_support import (
    GRAPH,
    RULE,
    W1_FOOTER,
    W1_HEADER,
    W1_HEADER_LOADED,
    assert_clean_error,
    box,
    graph_blocks,
    make_files,
    rule,
    run_guarded,
    run_w1,
    write_script,
)

# The step reads a list of file names from inp.txt: they become amended inputs.
READER = """
    import os
    from stepup.core.api import amend
    names = open("inp.txt").read().split()
    if amend(inp=names, env="EXTRA", out="extra.txt"):
        with open("out.txt", "w") as f:
            for name in names:
                f.write(open(name).read())
        with open("extra.txt", "w") as f:
            f.write(os.environ.get("EXTRA", "unset") + "\\n")
"""

PLAN = r"""
    from stepup.core.api import static, step
    static("reader.py", "inp.txt", "a.txt")
    step("./reader.py", inp=["reader.py", "inp.txt"], out="out.txt")
    step("echo gen > gen.txt", out="gen.txt")
    step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'", inp="out.txt")
"""

# gen.txt will not be built: the reader must find out that it no longer needs it.
PLAN_BLOCKED = """
    from stepup.core.api import static, step
    static("reader.py", "inp.txt", "a.txt")
    step("./reader.py", inp=["reader.py", "inp.txt"], out="out.txt")
    step("echo gen > gen.txt", out="gen.txt", block=True)
"""

PLAN_EMPTY = """
    from stepup.core.api import static
    static("reader.py", "inp.txt", "a.txt")
"""

# StepUp 1.3.1's block for the reader after the first run.
EXPECTED_READER = """\
step:./reader.py
             workdir = ./
             command = ./reader.py
               state = SUCCEEDED
  consumes (amended) = file:a.txt
                     = file:gen.txt
  supplies (amended) = file:extra.txt
   env_var (amended) = EXTRA
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:./
            consumes   file:a.txt
            consumes   file:gen.txt
            consumes   file:inp.txt
            consumes   file:reader.py
             creates   file:extra.txt
             creates   file:out.txt
            supplies   file:extra.txt
            supplies   file:out.txt
"""


def without_amended_paths(block: str) -> list[str]:
    """The lines of a step block without the amended input and output lists."""
    kept, skipping = [], False
    for line in block.splitlines():
        if line.startswith(("  consumes (amended) =", "  supplies (amended) =")):
            skipping = True
        elif not (skipping and line.startswith(" " * 21 + "= ")):
            skipping = False
            kept.append(line)
    return kept


@pytest.fixture(scope="module")
def amend_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("amend")
    make_files(folder, {"inp.txt": "a.txt gen.txt\n", "a.txt": "a\n"})
    write_script(folder / "reader.py", READER)
    write_plan(folder, PLAN)
    results = {"first": run_w1(folder)}
    graph = graph_blocks(folder)
    results["restart"] = run_w1(folder)
    results["env"] = run_w1(folder, EXTRA="x")
    extra = (folder / "extra.txt").read_text()
    write_plan(folder, PLAN_BLOCKED)
    (folder / "inp.txt").write_text("a.txt\n")
    results["dropamend"] = run_w1(folder, "-e", EXTRA="x")
    out = (folder / "out.txt").read_text()
    write_plan(folder, PLAN_EMPTY)
    results["clean"] = run_w1(folder, EXTRA="x")
    return folder, results, graph, extra, out


def test_reschedule_until_amended_input_is_built(amend_runs):
    """The reader runs first (one worker), finds that gen.txt is not built yet, and runs
    again after the step that builds it."""
    _, results, _, _, _ = amend_runs
    result = results["first"]
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     START │ ./reader.py",
        "RESCHEDULE │ ./reader.py",
        rule("Step info"),
        "Command               ./reader.py",
        "Return code           0",
        rule("Rescheduling due to unavailable amended inputs"),
        "gen.txt",
        RULE,
        "     START │ echo gen > gen.txt",
        "   SUCCESS │ echo gen > gen.txt",
        "     START │ ./reader.py",
        "   SUCCESS │ ./reader.py",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]


def test_amended_relations_in_graph(amend_runs):
    """Amended inputs are suppliers, the amended output a product and consumer."""
    _, _, graph, _, _ = amend_runs
    block = graph["step:./reader.py"]
    assert without_amended_paths(block) == without_amended_paths(EXPECTED_READER)
    assert "   env_var (amended) = EXTRA\n" in block


def test_amended_labels_in_graph(amend_runs):
    _, _, graph, _, _ = amend_runs
    assert graph["step:./reader.py"] == EXPECTED_READER


def test_amended_files_are_hashed(amend_runs):
    _, _, graph, _, _ = amend_runs
    for key in "file:a.txt", "file:gen.txt", "file:extra.txt", "file:out.txt":
        assert "              digest = <digest>\n" in graph[key], key


def test_restart_skips_amended_step(amend_runs):
    _, results, _, _, _ = amend_runs
    result = results["restart"]
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        "      SKIP │ echo gen > gen.txt",
        "      SKIP │ ./reader.py",
        f"      SKIP │ {GRAPH}",
        *W1_FOOTER,
    ]


def test_amended_env_var_change_reruns(amend_runs):
    _, results, _, extra, _ = amend_runs
    result = results["env"]
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        "      SKIP │ echo gen > gen.txt",
        "     START │ ./reader.py",
        "   SUCCESS │ ./reader.py",
        f"      SKIP │ {GRAPH}",
        *W1_FOOTER,
    ]
    assert extra == "x\n"


def test_dropamend_when_input_changed(amend_runs):
    """inp.txt no longer lists gen.txt, which will not be built: with -e the director
    reports that the amended information is outdated, and the reader runs without it."""
    _, results, _, _, out = amend_runs
    result = results["dropamend"]
    assert result.returncode == 3, result.stdout
    masked = [re.sub(r"\b[0-9a-f]{8}\b", "XXXXXXXX", line) for line in lines(result.stdout)]
    assert without_plan_success(masked) == [
        *W1_HEADER_LOADED,
        "    NOSKIP │ ./plan.py",
        rule("Changes causing rerun"),
        "Modified step hash   compact ➜ extended, digest XXXXXXXX ➜ XXXXXXXX, "
        "inp_digset XXXXXXXX ➜ XXXXXXXX",
        RULE,
        "     START │ ./plan.py",
        " DROPAMEND │ ./reader.py",
        rule("Outdated amended step information"),
        "Modified step hash   compact ➜ extended, digest XXXXXXXX ➜ XXXXXXXX, "
        "inp_digset XXXXXXXX ➜ XXXXXXXX",
        RULE,
        "     START │ ./reader.py",
        "   SUCCESS │ ./reader.py",
        "   WARNING │ 1 step remains pending due to blocked steps",
        rule("Blocked steps"),
        "step:echo gen > gen.txt",
        RULE,
        "   WARNING │ Skipping cleanup due to incomplete build.",
        *W1_FOOTER,
    ]
    assert out == "a\n"


def test_amended_output_is_cleaned(amend_runs):
    folder, results, _, _, _ = amend_runs
    result = results["clean"]
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER_LOADED,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     CLEAN │ out.txt",
        "     CLEAN │ gen.txt",
        "     CLEAN │ extra.txt",
        *W1_FOOTER,
    ]
    assert not (folder / "extra.txt").exists()


# Errors and inputs that never come

AMENDER = """
    import sys
    from stepup.core.api import amend
    if amend(inp=sys.argv[1]):
        print(open(sys.argv[1]).read())
"""


def test_amend_errors(tmp_path):
    """An amended input that was deleted, and a volatile file as amended input."""
    make_files(tmp_path, {"x.txt": "x\n"})
    write_script(tmp_path / "amender.py", AMENDER)
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("amender.py", "x.txt")
        step("rm x.txt; ./amender.py x.txt", inp="amender.py")
        step("echo > v.log", vol="v.log")
        step("./amender.py v.log", inp="amender.py")
        step("echo ok > ok.txt", out="ok.txt")
        """,
    )
    result = run_w1(tmp_path)
    assert result.returncode == 2, result.stdout
    missing = box(result.stdout, "      FAIL │ rm x.txt; ./amender.py x.txt", "Standard error")
    assert missing[-1] == "MissingPathError: Path does not exist: x.txt"
    volatile = box(result.stdout, "      FAIL │ ./amender.py v.log", "Standard error")
    assert volatile[-1] == "GraphError: Input is volatile: v.log"
    assert_clean_error(result.stdout)
    assert "   WARNING │ 2 step(s) failed, see error messages above" in lines(result.stdout)
    assert (tmp_path / "ok.txt").read_text() == "ok\n"


def test_amended_input_never_built(tmp_path):
    write_script(tmp_path / "amender.py", AMENDER)
    write_plan(
        tmp_path,
        """
        from stepup.core.api import static, step
        static("amender.py")
        step("./amender.py never.txt", inp="amender.py")
        """,
    )
    returncode, stdout = run_guarded(tmp_path, "-n", "-w1", max_reschedules=3)
    assert returncode == 3, stdout
    assert lines(stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        "     START │ ./amender.py never.txt",
        "RESCHEDULE │ ./amender.py never.txt",
        rule("Rescheduling due to unavailable amended inputs"),
        "never.txt",
        RULE,
        "   WARNING │ 1 step remains pending due to incomplete requirements",
        rule("PENDING Step"),
        "Command               ./amender.py never.txt",
        "Working directory     ./",
        "Inputs        STATIC  ./",
        "              STATIC  amender.py",
        "             PENDING  (never.txt)",
        RULE,
        "   WARNING │ Skipping cleanup due to incomplete build.",
        *W1_FOOTER,
    ]
