"""plan(subdir), copy(), mkdir(), translate() and translate_back(), against StepUp 1.3.1.

The sub plan prints what translate() and translate_back() give from sub/ (HERE=sub).

The sub plan starts with ``#!/usr/bin/env python3``: only the top-level plan needs the exact
python shebang. The errors of these helpers are in test_api_errors.py.
"""

import pytest
from helpers import lines, write_plan
from test_api_support import (
    GRAPH,
    RULE,
    W1_FOOTER,
    W1_HEADER,
    W1_HEADER_LOADED,
    graph_blocks,
    graph_keys,
    make_files,
    rule,
    run_w1,
)

SUB_PLAN = """
    from stepup.core.api import copy, mkdir, static, translate, translate_back
    static("local.txt")
    copy("local.txt", "copy.txt")
    mkdir("made")
    mkdir("made/nested/")
    copy("local.txt", "made/nested/")
    print(
        translate("local.txt"),
        translate("x", "../"),
        translate("/abs/f"),
        translate("f", "/egg/"),
        translate("d/", "deeper"),
    )
    print(
        translate_back("sub/local.txt"),
        translate_back("data/d.txt"),
        translate_back("/egg/f", "/egg/"),
        translate_back("sub/deeper/"),
    )
"""

PLAN = r"""
    from stepup.core.api import plan, static, step
    static("sub/", "sub/plan.py", "data/", "data/d.txt")
    plan("sub")
    step(
        "python -c 'from stepup.core.interact import graph; graph(\"graph\")'",
        inp=["sub/copy.txt", "sub/made/nested/local.txt"],
    )
"""

SUB = "./plan.py  # wd=sub/"
# What the sub plan prints (HERE=sub) with StepUp 1.3.1.
TRANSLATED = [
    "sub/local.txt x /abs/f /egg/f sub/deeper/d/",
    "local.txt ../data/d.txt f deeper/",
]
COPY = "cp -aT local.txt copy.txt  # wd=sub/"
MKDIR = "mkdir -p made/  # wd=sub/"
MKDIR_NESTED = "mkdir -p made/nested/  # wd=sub/"
COPY_NESTED = "cp -aT local.txt made/nested/local.txt  # wd=sub/"

# StepUp 1.3.1's graph.txt from the sub plan on.
EXPECTED_GRAPH = f"""
step:{SUB}
             workdir = sub/
             command = ./plan.py
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:./plan.py
            consumes   file:sub/
            consumes   file:sub/plan.py
             creates   file:sub/local.txt
             creates   step:{COPY}
             creates   step:{COPY_NESTED}
             creates   step:{MKDIR}
             creates   step:{MKDIR_NESTED}

step:{GRAPH}
             workdir = ./
             command = {GRAPH}
               state = RUNNING
          created by   step:./plan.py
            consumes   file:./
            consumes   file:sub/copy.txt
            consumes   file:sub/made/nested/local.txt

file:sub/copy.txt
                path = sub/copy.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:{COPY}
            consumes   file:sub/
            consumes   step:{COPY}
            supplies   step:{GRAPH}

file:sub/made/nested/local.txt
                path = sub/made/nested/local.txt
               state = BUILT
              digest = <digest>
                     = <digest>
          created by   step:{COPY_NESTED}
            consumes   file:sub/made/nested/
            consumes   step:{COPY_NESTED}
            supplies   step:{GRAPH}

file:sub/made/nested/
                path = sub/made/nested/
               state = BUILT
          created by   step:{MKDIR_NESTED}
            consumes   file:sub/made/
            consumes   step:{MKDIR_NESTED}
            supplies   file:sub/made/nested/local.txt
            supplies   step:{COPY_NESTED}

file:sub/made/
                path = sub/made/
               state = BUILT
          created by   step:{MKDIR}
            consumes   file:sub/
            consumes   step:{MKDIR}
            supplies   file:sub/made/nested/
            supplies   step:{MKDIR_NESTED}

file:sub/local.txt
                path = sub/local.txt
               state = STATIC
              digest = <digest>
                     = <digest>
          created by   step:{SUB}
            consumes   file:sub/
            supplies   step:{COPY}
            supplies   step:{COPY_NESTED}

step:{COPY}
             workdir = sub/
             command = cp -aT local.txt copy.txt
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:{SUB}
            consumes   file:sub/
            consumes   file:sub/local.txt
             creates   file:sub/copy.txt
            supplies   file:sub/copy.txt

step:{MKDIR}
             workdir = sub/
             command = mkdir -p made/
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:{SUB}
            consumes   file:sub/
             creates   file:sub/made/
            supplies   file:sub/made/

step:{MKDIR_NESTED}
             workdir = sub/
             command = mkdir -p made/nested/
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:{SUB}
            consumes   file:sub/
            consumes   file:sub/made/
             creates   file:sub/made/nested/
            supplies   file:sub/made/nested/

step:{COPY_NESTED}
             workdir = sub/
             command = cp -aT local.txt made/nested/local.txt
               state = SUCCEEDED
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   step:{SUB}
            consumes   file:sub/
            consumes   file:sub/local.txt
            consumes   file:sub/made/nested/
             creates   file:sub/made/nested/local.txt
            supplies   file:sub/made/nested/local.txt
"""


@pytest.fixture(scope="module")
def composite_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("composites")
    make_files(folder, {"data/d.txt": "d\n", "sub/local.txt": "local\n", "sub/deeper/": ""})
    write_plan(folder / "sub", SUB_PLAN, shebang="#!/usr/bin/env python3")
    write_plan(folder, PLAN)
    first = run_w1(folder)
    graph = graph_blocks(folder)
    keys = graph_keys(folder)
    second = run_w1(folder)
    return folder, first, second, keys, graph


def test_composites_run(composite_runs):
    folder, first, _, _, _ = composite_runs
    assert first.returncode == 0, first.stdout
    assert lines(first.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        f"     START │ {SUB}",
        f"   SUCCESS │ {SUB}",
        rule("Standard output"),
        *TRANSLATED,
        RULE,
        f"     START │ {COPY}",
        f"   SUCCESS │ {COPY}",
        f"     START │ {MKDIR}",
        f"   SUCCESS │ {MKDIR}",
        f"     START │ {MKDIR_NESTED}",
        f"   SUCCESS │ {MKDIR_NESTED}",
        f"     START │ {COPY_NESTED}",
        f"   SUCCESS │ {COPY_NESTED}",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]
    assert (folder / "sub/copy.txt").read_text() == "local\n"
    assert (folder / "sub/made/nested/local.txt").read_text() == "local\n"


def test_composites_graph(composite_runs):
    _, _, _, keys, graph = composite_runs
    expected = EXPECTED_GRAPH.strip("\n").split("\n\n")
    assert keys == [
        "root:",
        "file:plan.py",
        "file:./",
        "step:./plan.py",
        "file:data/",
        "file:data/d.txt",
        "file:sub/",
        "file:sub/plan.py",
        *(block.split("\n", 1)[0] for block in expected),
    ]
    for block in expected:
        assert graph[block.split("\n", 1)[0]] == block + "\n"


def test_composites_rerun_skips(composite_runs):
    _, _, second, _, _ = composite_runs
    assert second.returncode == 0, second.stdout
    assert lines(second.stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        f"      SKIP │ {SUB}",
        f"      SKIP │ {COPY}",
        f"      SKIP │ {MKDIR}",
        f"      SKIP │ {MKDIR_NESTED}",
        f"      SKIP │ {COPY_NESTED}",
        f"      SKIP │ {GRAPH}",
        *W1_FOOTER,
    ]
