"""getenv() (plain, default, is_path) and subs_env_vars(), called from a sub plan (HERE=sub),
with the variables it used amended to it, so that it reruns when one changes.

The values and graph.txt are StepUp 1.3.1's. ``getenv("UNSET", is_path=True)`` crashes
StepUp 1.3.1 (``Path(None)``); decision 8 asks for correct behaviour: it gives None, as for
``is_path=False``.
"""

import pytest
from helpers import lines, write_plan
from test_api_support import (
    GRAPH,
    RULE,
    W1_FOOTER,
    W1_HEADER,
    W1_HEADER_LOADED,
    box,
    graph_blocks,
    make_files,
    rule,
    run_w1,
    write_script,
)

SUB_PLAN = """
    import os
    from stepup.core.api import getenv, subs_env_vars
    lines = [f"HERE={os.environ['HERE']} ROOT={os.environ['ROOT']}"]
    plain, default, unset = getenv("PLAIN"), getenv("UNSET_XYZ", "dflt"), getenv("UNSET_XYZ")
    lines.append(f"plain={plain!r} default={default!r} unset={unset!r}")
    path = getenv("DATA_DIR", is_path=True)
    default = getenv("UNSET_XYZ", "data/d.txt", is_path=True)
    lines.append(f"path={path} default={default}")
    nested, absolute = getenv("NESTED", is_path=True), getenv("ABS_DIR", is_path=True)
    lines.append(f"nested={nested} absolute={absolute}")
    lines.append(f"unset_path={getenv('UNSET_XYZ', is_path=True)!r}")
    with subs_env_vars() as subs:
        paths = [subs("${PLAIN}/x/../y.txt"), subs("${*keep}.txt"), subs("a/${PLAIN}/")]
    lines.append("subs=" + " ".join(paths))
    print("\\n".join(lines))
"""

PLAN = r"""
    from stepup.core.api import plan, static, step
    static("sub/", "sub/plan.py", "data/", "data/d.txt")
    plan("sub")
    step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'")
"""

ENV = {"DATA_DIR": "data", "NESTED": "${PLAIN}/n", "ABS_DIR": "/abs/dir"}

SUB = "./plan.py  # wd=sub/"


def expected_values(plain: str) -> list[str]:
    """What the sub plan prints with StepUp 1.3.1 (plus the unset_path line, see above)."""
    return [
        "HERE=sub ROOT=..",
        f"plain='{plain}' default='dflt' unset=None",
        "path=../data default=../data/d.txt",
        f"nested=../{plain}/n absolute=/abs/dir",
        "unset_path=None",
        f"subs={plain}/y.txt ${{*keep}}.txt a/{plain}/",
    ]


@pytest.fixture(scope="module")
def env_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("env")
    make_files(folder, {"data/d.txt": "d\n"})
    write_script(folder / "sub/plan.py", SUB_PLAN)
    write_plan(folder, PLAN)
    first = run_w1(folder, PLAIN="p", **ENV)
    graph = graph_blocks(folder)
    second = run_w1(folder, PLAIN="p", **ENV)
    third = run_w1(folder, PLAIN="q", **ENV)
    return first, second, third, graph


def test_getenv_values(env_runs):
    first, _, _, _ = env_runs
    assert first.returncode == 0, first.stdout
    assert lines(first.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        f"     START │ {SUB}",
        f"   SUCCESS │ {SUB}",
        rule("Standard output"),
        *expected_values("p"),
        RULE,
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]


def test_used_variables_are_amended(env_runs):
    """Every variable read (also ROOT for a relative is_path value, and PLAIN through the
    value of NESTED) becomes an amended env var of the sub plan."""
    _, _, _, graph = env_runs
    assert graph[f"step:{SUB}"] == (
        f"step:{SUB}\n"
        "             workdir = sub/\n"
        "             command = ./plan.py\n"
        "               state = SUCCEEDED\n"
        "   env_var (amended) = ABS_DIR\n"
        "                     = DATA_DIR\n"
        "                     = NESTED\n"
        "                     = PLAIN\n"
        "                     = ROOT\n"
        "                     = UNSET_XYZ\n"
        "              digest = <digest>\n"
        "                     = <digest>\n"
        "          inp_digest = <digest>\n"
        "                     = <digest>\n"
        "          created by   step:./plan.py\n"
        "            consumes   file:sub/\n"
        "            consumes   file:sub/plan.py\n"
    )


def test_same_variables_skip(env_runs):
    _, second, _, _ = env_runs
    assert second.returncode == 0, second.stdout
    assert lines(second.stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        f"      SKIP │ {SUB}",
        f"      SKIP │ {GRAPH}",
        *W1_FOOTER,
    ]


def test_changed_variable_reruns(env_runs):
    _, _, third, _ = env_runs
    assert third.returncode == 0, third.stdout
    assert f"     START │ {SUB}" in lines(third.stdout)
    assert box(third.stdout, f"   SUCCESS │ {SUB}", "Standard output") == expected_values("q")
