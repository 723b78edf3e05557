"""glob(): wildcards, named wildcards, NGlobMulti results used in a plan, and deferred globs.

The errors of glob() (``_required``, globbing a file twice, the deferred-glob errors) are in
test_api_errors.py.
"""

import pytest
from helpers import lines, write_plan
from test_api_support import (
    GRAPH,
    W1_FOOTER,
    W1_HEADER,
    W1_HEADER_LOADED,
    box,
    graph_blocks,
    graph_keys,
    make_files,
    run_w1,
)

# Each pattern globs its own folder: a file may be declared static only once.
GLOB_FILES = [
    "st/a.txt",
    "st/b.txt",
    "st/c.csv",
    "q/a1.txt",
    "q/a22.txt",
    "q/b1.txt",
    "br/a1.py",
    "br/b1.py",
    "br/c1.py",
    "rec/x.txt",
    "rec/sub/y.txt",
    "rec/sub/deep/z.txt",
    "rec/.hidden",
    "nm/data/a.txt",
    "nm/data/b.txt",
    "nm/data/c.txt",
    "nm/src/a.py",
    "nm/src/b.py",
    "nm/src/d.py",
    "one/c1.py",
    "one/cx.py",
    "pl/a/1.txt",
    "pl/a/3.md",
    "pl/b/2.txt",
]

GLOB_PLAN = r"""
    from stepup.core.api import glob, static, step
    static("st/", "q/", "br/", "nm/", "nm/data/", "nm/src/", "one/", "pl/", "pl/a/", "pl/b/")
    out = []
    def show(label, ngm):
        out.append(f"{label}: {bool(ngm)} {[str(path) for path in ngm.files()]}")
    show("star", glob("st/*.txt"))
    show("question", glob("q/a?.txt"))
    show("bracket", glob("br/[ab]1.py"))
    show("recursive", glob("rec/**"))
    pairs = glob("nm/data/${*stem}.txt", "nm/src/${*stem}.py")
    show("named", pairs)
    for match in pairs.matches():
        out.append(f"  match {match.stem} {[str(path) for path in match.files]} {match.mapping}")
    for match in pairs:
        out.append(f"  iter {match.stem} {match[0]} {match[1]}")
    out.append(f"single: {glob('one/c${*n}.py', n='[0-9]').single()}")
    show("none", glob("nothing*.txt"))
    for path in glob("pl/a/*.txt", "pl/b/*.txt"):
        out.append(f"  plain {path}")
    with open("globs.txt", "w") as f:
        f.write("\n".join(out) + "\n")
    step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'")
"""

# What the plan writes with StepUp 1.3.1.
EXPECTED_GLOBS = """\
star: True ['st/a.txt', 'st/b.txt']
question: True ['q/a1.txt']
bracket: True ['br/a1.py', 'br/b1.py']
recursive: True ['rec/', 'rec/.hidden', 'rec/sub/', 'rec/sub/deep/', 'rec/sub/deep/z.txt', \
'rec/sub/y.txt', 'rec/x.txt']
named: True ['nm/data/a.txt', 'nm/data/b.txt', 'nm/data/c.txt', 'nm/src/a.py', 'nm/src/b.py', \
'nm/src/d.py']
  match a ['nm/data/a.txt', 'nm/src/a.py'] {'stem': 'a'}
  match b ['nm/data/b.txt', 'nm/src/b.py'] {'stem': 'b'}
  iter a nm/data/a.txt nm/src/a.py
  iter b nm/data/b.txt nm/src/b.py
single: one/c1.py
none: False []
  plain pl/a/1.txt
  plain pl/b/2.txt
"""

# The plan's block in StepUp 1.3.1's graph.txt: one ngm line per glob() call, and every
# file that matched one pattern is static (also nm/data/c.txt and nm/src/d.py, which have no
# partner in the other pattern).
EXPECTED_PLAN_BLOCK = f"""\
step:./plan.py
             workdir = ./
             command = ./plan.py
               state = SUCCEEDED
                 ngm = ['st/*.txt'] {{}}
                 ngm = ['q/a?.txt'] {{}}
                 ngm = ['br/[ab]1.py'] {{}}
                 ngm = ['rec/**'] {{}}
                 ngm = ['nm/data/${{*stem}}.txt', 'nm/src/${{*stem}}.py'] {{}}
                 ngm = ['one/c${{*n}}.py'] {{'n': '[0-9]'}}
                 ngm = ['nothing*.txt'] {{}}
                 ngm = ['pl/a/*.txt', 'pl/b/*.txt'] {{}}
              digest = <digest>
                     = <digest>
          inp_digest = <digest>
                     = <digest>
          created by   root:
            consumes   file:./
            consumes   file:plan.py
             creates   file:br/
             creates   file:br/a1.py
             creates   file:br/b1.py
             creates   file:nm/
             creates   file:nm/data/
             creates   file:nm/data/a.txt
             creates   file:nm/data/b.txt
             creates   file:nm/data/c.txt
             creates   file:nm/src/
             creates   file:nm/src/a.py
             creates   file:nm/src/b.py
             creates   file:nm/src/d.py
             creates   file:one/
             creates   file:one/c1.py
             creates   file:pl/
             creates   file:pl/a/
             creates   file:pl/a/1.txt
             creates   file:pl/b/
             creates   file:pl/b/2.txt
             creates   file:q/
             creates   file:q/a1.txt
             creates   file:rec/
             creates   file:rec/.hidden
             creates   file:rec/sub/
             creates   file:rec/sub/deep/
             creates   file:rec/sub/deep/z.txt
             creates   file:rec/sub/y.txt
             creates   file:rec/x.txt
             creates   file:st/
             creates   file:st/a.txt
             creates   file:st/b.txt
             creates   step:{GRAPH}
"""

EXPECTED_KEYS = [
    "root:",
    "file:plan.py",
    "file:./",
    "step:./plan.py",
    "file:br/",
    "file:nm/",
    "file:nm/data/",
    "file:nm/src/",
    "file:one/",
    "file:pl/",
    "file:pl/a/",
    "file:pl/b/",
    "file:q/",
    "file:st/",
    "file:st/a.txt",
    "file:st/b.txt",
    "file:q/a1.txt",
    "file:br/a1.py",
    "file:br/b1.py",
    "file:rec/",
    "file:rec/.hidden",
    "file:rec/sub/",
    "file:rec/sub/deep/",
    "file:rec/sub/deep/z.txt",
    "file:rec/sub/y.txt",
    "file:rec/x.txt",
    "file:nm/data/a.txt",
    "file:nm/data/b.txt",
    "file:nm/data/c.txt",
    "file:nm/src/a.py",
    "file:nm/src/b.py",
    "file:nm/src/d.py",
    "file:one/c1.py",
    "file:pl/a/1.txt",
    "file:pl/b/2.txt",
    f"step:{GRAPH}",
]


@pytest.fixture(scope="module")
def glob_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("glob")
    make_files(folder, {name: f"{name}\n" for name in GLOB_FILES})
    write_plan(folder, GLOB_PLAN)
    return folder, run_w1(folder)


def test_glob_run(glob_run):
    _, result = glob_run
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]


def test_glob_results(glob_run):
    folder, _ = glob_run
    assert (folder / "globs.txt").read_text() == EXPECTED_GLOBS


def test_glob_graph(glob_run):
    folder, _ = glob_run
    assert graph_keys(folder) == EXPECTED_KEYS
    blocks = graph_blocks(folder)
    assert blocks["step:./plan.py"] == EXPECTED_PLAN_BLOCK
    # A directory matched by ** is static, created by the plan, below its parent. Files that
    # no step uses are not hashed.
    assert blocks["file:rec/"] == (
        "file:rec/\n"
        "                path = rec/\n"
        "               state = STATIC\n"
        "          created by   step:./plan.py\n"
        "            consumes   file:./\n"
        "            supplies   file:rec/.hidden\n"
        "            supplies   file:rec/sub/\n"
        "            supplies   file:rec/x.txt\n"
    )
    assert blocks["file:rec/sub/deep/z.txt"] == (
        "file:rec/sub/deep/z.txt\n"
        "                path = rec/sub/deep/z.txt\n"
        "               state = STATIC\n"
        "          created by   step:./plan.py\n"
        "            consumes   file:rec/sub/deep/\n"
    )


def test_glob_paths_are_path_objects(tmp_path):
    make_files(tmp_path, {"d/a.txt": "", "d/b.txt": "", "e/x.md": ""})
    write_plan(
        tmp_path,
        """
        from stepup.core.api import glob, static, step
        static("d/", "e/")
        stems = [path.stem for path in glob("d/*.txt").files()]
        info = step("cat ${inp}", inp=["d/a.txt"])
        print(stems, [str(path.parent) for path in info.inp], glob("e/*.md").single().suffix)
        """,
    )
    result = run_w1(tmp_path)
    assert result.returncode == 0, result.stdout
    assert box(result.stdout, "   SUCCESS │ ./plan.py", "Standard output") == [
        "['a', 'b'] ['d'] .md"
    ]


# Deferred globs

DEFER_PLAN = r"""
    from stepup.core.api import glob, step
    glob("static/**", _defer=True)
    step("cat ${inp} > all.txt", inp=["static/a.txt", "static/sub/b.txt"], out="all.txt")
    step("python -c 'from stepup.core.interact import graph; graph(\"graph\")'", inp="all.txt")
"""

CAT = "cat static/a.txt static/sub/b.txt > all.txt"


@pytest.fixture(scope="module")
def defer_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("defer")
    make_files(
        folder,
        {"static/a.txt": "a\n", "static/sub/b.txt": "b\n", "static/c.txt": "c\n"},
    )
    write_plan(folder, DEFER_PLAN)
    first = run_w1(folder)
    second = run_w1(folder)
    (folder / "static/a.txt").write_text("a2\n")
    third = run_w1(folder)
    return folder, [first, second, third]


def test_deferred_glob_runs(defer_runs):
    folder, results = defer_runs
    assert [result.returncode for result in results] == [0, 0, 0]
    assert lines(results[0].stdout) == [
        *W1_HEADER,
        "     START │ ./plan.py",
        "   SUCCESS │ ./plan.py",
        f"     START │ {CAT}",
        f"   SUCCESS │ {CAT}",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]
    assert lines(results[1].stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        f"      SKIP │ {CAT}",
        f"      SKIP │ {GRAPH}",
        *W1_FOOTER,
    ]
    # A changed input under the deferred glob reruns its consumer, not the plan.
    assert lines(results[2].stdout) == [
        *W1_HEADER_LOADED,
        "      SKIP │ ./plan.py",
        f"     START │ {CAT}",
        f"   SUCCESS │ {CAT}",
        f"     START │ {GRAPH}",
        f"   SUCCESS │ {GRAPH}",
        *W1_FOOTER,
    ]
    assert (folder / "all.txt").read_text() == "a2\nb\n"


def test_deferred_glob_graph(defer_runs):
    """Only the inputs that steps use become static, with their directories, created by
    the dg node (static/c.txt matches too, but nothing uses it)."""
    folder, _ = defer_runs
    assert graph_keys(folder) == [
        "root:",
        "file:plan.py",
        "file:./",
        "step:./plan.py",
        "dg:'static/**'",
        "file:static/",
        "file:static/a.txt",
        "file:static/sub/",
        "file:static/sub/b.txt",
        f"step:{CAT}",
        "file:all.txt",
        f"step:{GRAPH}",
    ]
    blocks = graph_blocks(folder)
    assert blocks["step:./plan.py"].endswith(
        "          created by   root:\n"
        "            consumes   file:./\n"
        "            consumes   file:plan.py\n"
        "             creates   dg:'static/**'\n"
        f"             creates   step:{CAT}\n"
        f"             creates   step:{GRAPH}\n"
    )
    assert blocks["dg:'static/**'"] == (
        "dg:'static/**'\n"
        "          created by   step:./plan.py\n"
        "             creates   file:static/\n"
        "             creates   file:static/a.txt\n"
        "             creates   file:static/sub/\n"
        "             creates   file:static/sub/b.txt\n"
    )
    assert blocks["file:static/"] == (
        "file:static/\n"
        "                path = static/\n"
        "               state = STATIC\n"
        "          created by   dg:'static/**'\n"
        "            consumes   file:./\n"
        "            supplies   file:static/a.txt\n"
        "            supplies   file:static/sub/\n"
    )
    assert blocks["file:static/sub/b.txt"] == (
        "file:static/sub/b.txt\n"
        "                path = static/sub/b.txt\n"
        "               state = STATIC\n"
        "              digest = <digest>\n"
        "                     = <digest>\n"
        "          created by   dg:'static/**'\n"
        "            consumes   file:static/sub/\n"
        f"            supplies   step:{CAT}\n"
    )
