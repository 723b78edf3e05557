"""static(): files, directories, nested directories, absolute paths, paths outside the root
and ``${VAR}`` in paths, checked against what StepUp 1.3.1 prints and writes in graph.txt.

The errors of static() are in test_api_errors.py.
"""

from pathlib import Path

import pytest
from helpers import lines, write_plan
from test_api_support import (
    GRAPH,
    W1_FOOTER,
    W1_HEADER,
    W1_HEADER_LOADED,
    make_files,
    parse_graph,
    run_w1,
)

PLAN = r"""
    from pathlib import Path
    from stepup.core.api import static, step
    here = Path.cwd()
    # Files, and nested directories declared in one call (a list is flattened).
    static("a.txt", ["sub/", "sub/deep/"], "sub/deep/er/", "sub/deep/er/d.txt")
    # Outside the root.
    static("../outside/", "../outside/ext/", "../outside/ext/o.txt")
    # Absolute paths: every parent must be static too; only / always is.
    static([f"{p}/" for p in reversed(here.parents) if str(p) != "/"], f"{here}/", f"{here}/a.txt")
    # An environment variable in a path.
    static("${MYDIR}/")
    step(
        "cat ${inp} > all.txt",
        inp=["a.txt", "sub/deep/er/d.txt", "../outside/ext/o.txt", f"{here}/a.txt"],
        out="all.txt",
    )
    step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'", inp="all.txt")
"""

CAT = "cat a.txt sub/deep/er/d.txt ../outside/ext/o.txt <tmp>/proj/a.txt > all.txt"

# graph.txt of StepUp 1.3.1 for PLAN, digests masked, <tmp> for the temporary folder and
# without the directories above it (they depend on where the tests run; checked apart).
EXPECTED_GRAPH = f"""
root:
             version = v1
             creates   file:../
             creates   file:./
             creates   file:/
             creates   file:plan.py
             creates   step:./plan.py

file:plan.py
                path = plan.py
               state = STATIC
              digest = <digest>
                     = <digest>
          created by   root:
            consumes   file:./
            supplies   step:./plan.py

step:./plan.py
             workdir = ./
             command = ./plan.py
               state = SUCCEEDED
   env_var (amended) = MYDIR
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   root:
            consumes   file:./
            consumes   file:plan.py
             creates   file:../outside/
             creates   file:../outside/ext/
             creates   file:../outside/ext/o.txt
             creates   file:<tmp>/
             creates   file:<tmp>/proj/
             creates   file:<tmp>/proj/a.txt
             creates   file:a.txt
             creates   file:sub/
             creates   file:sub/deep/
             creates   file:sub/deep/er/
             creates   file:sub/deep/er/d.txt
             creates   file:tdir/
             creates   step:{CAT}
             creates   step:{GRAPH}

file:a.txt
                path = a.txt
               state = STATIC
              digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:./
            supplies   step:{CAT}

file:sub/
                path = sub/
               state = STATIC
          created by   step:./plan.py
            consumes   file:./
            supplies   file:sub/deep/

file:sub/deep/
                path = sub/deep/
               state = STATIC
          created by   step:./plan.py
            consumes   file:sub/
            supplies   file:sub/deep/er/

file:sub/deep/er/
                path = sub/deep/er/
               state = STATIC
          created by   step:./plan.py
            consumes   file:sub/deep/
            supplies   file:sub/deep/er/d.txt

file:sub/deep/er/d.txt
                path = sub/deep/er/d.txt
               state = STATIC
              digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:sub/deep/er/
            supplies   step:{CAT}

file:../outside/
                path = ../outside/
               state = STATIC
          created by   step:./plan.py
            consumes   file:../
            supplies   file:../outside/ext/

file:../outside/ext/
                path = ../outside/ext/
               state = STATIC
          created by   step:./plan.py
            consumes   file:../outside/
            supplies   file:../outside/ext/o.txt

file:../outside/ext/o.txt
                path = ../outside/ext/o.txt
               state = STATIC
              digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:../outside/ext/
            supplies   step:{CAT}

file:/
                path = /
               state = STATIC
          created by   root:

file:<tmp>/
                path = <tmp>/
               state = STATIC
          created by   step:./plan.py
            supplies   file:<tmp>/proj/

file:<tmp>/proj/
                path = <tmp>/proj/
               state = STATIC
          created by   step:./plan.py
            consumes   file:<tmp>/
            supplies   file:<tmp>/proj/a.txt

file:<tmp>/proj/a.txt
                path = <tmp>/proj/a.txt
               state = STATIC
              digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:<tmp>/proj/
            supplies   step:{CAT}

file:tdir/
                path = tdir/
               state = STATIC
          created by   step:./plan.py
            consumes   file:./

step:{CAT}
             workdir = ./
             command = {CAT}
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:../outside/ext/o.txt
            consumes   file:./
            consumes   file:<tmp>/proj/a.txt
            consumes   file:a.txt
            consumes   file:sub/deep/er/d.txt
             creates   file:all.txt
            supplies   file:all.txt

file:all.txt
                path = all.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:{CAT}
            consumes   file:./
            consumes   step:{CAT}
            supplies   step:{GRAPH}

step:{GRAPH}
             workdir = ./
             command = {GRAPH}
               state = RUNNING
          created by   step:./plan.py
            consumes   file:./
            consumes   file:all.txt
"""

# StepUp 1.3.1 links ../ to ./ (see test_outside_root_parent_links).
EXPECTED_PARENT_BLOCKS = f"""
file:./
                path = ./
               state = STATIC
          created by   root:
            supplies   file:../
            supplies   file:a.txt
            supplies   file:all.txt
            supplies   file:plan.py
            supplies   file:sub/
            supplies   file:tdir/
            supplies   step:./plan.py
            supplies   step:{CAT}
            supplies   step:{GRAPH}

file:../
                path = ../
               state = STATIC
          created by   root:
            consumes   file:./
            supplies   file:../outside/
"""


@pytest.fixture(scope="module")
def static_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("static")
    proj = folder / "proj"
    make_files(
        folder,
        {
            "outside/ext/o.txt": "o\n",
            "proj/a.txt": "a\n",
            "proj/sub/deep/er/d.txt": "d\n",
            "proj/tdir/": "",
            "proj/tdir2/": "",
        },
    )
    write_plan(proj, PLAN)
    first = run_w1(proj, MYDIR="tdir")
    graph = parse_graph((proj / "graph.txt").read_text(), folder)
    second = run_w1(proj, MYDIR="tdir")
    third = run_w1(proj, MYDIR="tdir2")
    return folder, graph, [first, second, third]


def ancestors(folder: Path) -> list[str]:
    """The directories above the temporary folder, except /, as graph.txt names them."""
    return [f"{path}/" for path in reversed(folder.parents) if str(path) != "/"]


def test_first_run(static_runs):
    folder, _, results = static_runs
    result = results[0]
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        f"     START │ {CAT.replace('<tmp>', str(folder))}",
        f"   SUCCESS │ {CAT.replace('<tmp>', str(folder))}",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]
    assert (folder / "proj/all.txt").read_text() == "a\nd\no\na\n"


def test_graph_txt(static_runs):
    folder, actual, _ = static_runs
    above = ancestors(folder)
    # Leave out the directories above the temporary folder and the lines that name them, and
    # ./ and ../ (see test_outside_root_parent_links).
    kept = {}
    for key, block in actual.items():
        if key in (f"file:{path}" for path in above) or key in ("file:./", "file:../"):
            continue
        kept[key] = "".join(
            line + "\n"
            for line in block.splitlines()
            if not any(line.endswith(f"file:{path}") for path in above)
        )
    expected = parse_graph(EXPECTED_GRAPH)
    assert list(kept) == list(expected)
    for key, block in expected.items():
        assert kept[key] == block, key


def test_directories_above_the_root_chain(static_runs):
    """Each directory above the temporary folder is static, created by the plan, and hangs
    from its parent, up to ``/`` (created by the root)."""
    folder, blocks, _ = static_runs
    chain = ["/", *ancestors(folder), "<tmp>/"]
    for parent, path, child in zip(chain, chain[1:], [*chain[2:], "<tmp>/proj/"], strict=False):
        if path == "<tmp>/":
            break
        assert blocks[f"file:{path}"] == (
            f"file:{path}\n"
            f"                path = {path}\n"
            "               state = STATIC\n"
            "          created by   step:./plan.py\n"
            f"            consumes   file:{parent}\n"
            f"            supplies   file:{child}\n"
        )


def test_outside_root_parent_links(static_runs):
    _, blocks, _ = static_runs
    expected = parse_graph(EXPECTED_PARENT_BLOCKS)
    assert blocks["file:../"] == expected["file:../"]
    assert blocks["file:./"] == expected["file:./"]


def test_rerun_skips(static_runs):
    folder, _, results = static_runs
    result = results[1]
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        f"      SKIP │ {CAT.replace('<tmp>', str(folder))}",
        f"      SKIP │ {GRAPH}",
        *W1_FOOTER,
    ]


def test_changed_variable_reruns_plan(static_runs):
    folder, _, results = static_runs
    result = results[2]
    assert result.returncode == 0, result.stdout
    out = lines(result.stdout)
    assert "     START │ ./plan.py" in out
    assert f"      SKIP │ {CAT.replace('<tmp>', str(folder))}" in out
