"""The url node kind in real workflows: the ``stepup`` command of this environment runs plans
whose steps need a resource of a local server, in a temporary folder.

Every run has a timeout; the server answers at once unless a test says otherwise.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_server import Resource, Server, Site
from stepup_trio.plugins import load_plugins
from stepup_trio.store import load_workflow

from stepup_trio_http import UrlNode

BIN = Path(sys.executable).parent
TIMEOUT = 60

#: Downloads argv[1] to argv[2] (a step's command, so no curl is needed).
FETCH = (
    "import sys, urllib.request as r; "
    "open(sys.argv[2], 'wb').write(r.urlopen(sys.argv[1], timeout=10).read())"
)

#: Two steps need the URL, one through each API; the others only count or do something else.
PLAN = """
from stepup.core.api import step
from stepup_trio.api import step as trio_step
from stepup_trio_http import url

URL = {url!r}
FETCH = {fetch!r}
step(f'python -c "{{FETCH}}" {{URL}} data.csv', out="data.csv", needs="url:" + URL)
step("wc -c data.csv", inp="data.csv")
step("echo other > other.txt", out="other.txt")
trio_step(f'python -c "{{FETCH}}" {{URL}} copy.csv', out="copy.csv", needs=[url(URL)])
"""


def stepup_command() -> str:
    path = BIN / "stepup"
    if path.exists():
        return str(path)
    found = shutil.which("stepup")
    if found is None:
        pytest.fail("The stepup command is not installed: pip install stepup-trio")
    return found


def environment() -> dict[str, str]:
    """This environment's python first on PATH (plans start with #!/usr/bin/env python),
    no stepup variables, and no proxy for the local server."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEPUP_")}
    for name in ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR"):
        env.pop(name, None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def stepup(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [stepup_command(), *args],
        cwd=folder,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def write_plan(folder: Path, body: str) -> None:
    folder.mkdir(exist_ok=True)
    plan = folder / "plan.py"
    plan.write_text("#!/usr/bin/env python\n" + textwrap.dedent(body).lstrip())
    plan.chmod(0o755)


def events(output: str) -> list[tuple[str, str]]:
    """(action, step) of each START, SKIP, SUCCESS and FAIL line, with short step names."""
    names = {"./plan.py": "plan", "wc -c": "count", "echo other": "other", "python -c": "fetch"}
    found = []
    for line in output.splitlines():
        action, sep, rest = line.partition(" │ ")
        if sep and action.strip() in ("START", "SKIP", "SUCCESS", "FAIL"):
            name = next((n for start, n in names.items() if rest.startswith(start)), rest)
            if name == "fetch" and rest.endswith("copy.csv"):
                name = "copy"
            found.append((action.strip(), name))
    return found


def ran(*names: str, outcome: str = "SUCCESS") -> list[tuple[str, str]]:
    return [(action, name) for name in names for action in ("START", outcome)]


def stamp_in_dump(folder: Path, key: str) -> bytes | None:
    workflow = load_workflow(str(folder / ".stepup/workflow.mpk.xz"), load_plugins().kinds)
    node = workflow.graph.get(key)
    assert type(node) is UrlNode, node
    return node.stamp


def methods(site: Site) -> list[str]:
    """The methods of the requests since the last call: HEAD from probes, GET from steps."""
    found = [method for method, _, _ in site.requests]
    site.requests.clear()
    return found


@pytest.fixture
def project(tmp_path: Path, site: Site) -> Path:
    site.resources["/data"] = Resource(b"1,2\n3,4\n", {"ETag": '"v1"'})
    write_plan(tmp_path / "project", PLAN.format(url=site.url(), fetch=FETCH))
    return tmp_path / "project"


def test_rerun_exactly_when_the_resource_changes(project: Path, server: Server, site: Site):
    key = f"url:{site.url()}"

    # First run: everything runs; one probe serves both steps that need the URL.
    result = stepup(project, "-n", "-w1", "-e")
    assert result.returncode == 0, result.stdout + result.stderr
    everything = ("plan", "fetch", "count", "other", "copy")
    assert sorted(events(result.stdout)) == sorted(ran(*everything))
    assert (project / "data.csv").read_bytes() == b"1,2\n3,4\n"
    assert methods(site) == ["HEAD", "GET", "GET"]
    assert stamp_in_dump(project, key) == b'ETag: "v1"'

    # The same ETag: everything is skipped, nothing is downloaded.
    result = stepup(project, "-n", "-w1", "-e")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {action for action, _ in events(result.stdout)} == {"SKIP"}
    assert len(events(result.stdout)) == 5
    assert f"Same source          {key}" in result.stdout
    assert methods(site) == ["HEAD"]

    # A new ETag, the same content: exactly the two steps that need the URL run again.
    site.resources["/data"] = Resource(b"1,2\n3,4\n", {"ETag": '"v2"'})
    result = stepup(project, "-n", "-w1", "-e")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(events(result.stdout)) == sorted(
        [("SKIP", "plan"), ("SKIP", "count"), ("SKIP", "other"), *ran("fetch", "copy")]
    )
    modified = [line for line in result.stdout.splitlines() if line.startswith("Modified source")]
    assert len(modified) == 2, result.stdout
    assert modified[0].split()[:3] == ["Modified", "source", key]
    assert methods(site) == ["HEAD", "GET", "GET"]
    assert stamp_in_dump(project, key) == b'ETag: "v2"'

    # The server is down: a warning, and the steps that need the URL run (and fail).
    server.stop()
    result = stepup(project, "-n", "-w1")
    assert result.returncode == 2, result.stdout + result.stderr
    warnings = [line for line in result.stdout.splitlines() if "Cannot probe" in line]
    assert warnings == [f"   WARNING │ Cannot probe {key}: [Errno 111] Connection refused"]
    assert sorted(events(result.stdout)) == sorted(
        [("SKIP", "plan"), ("SKIP", "other"), *ran("fetch", "copy", outcome="FAIL")]
    )
    assert "Connection refused" in result.stdout  # the download's own error
    # The dump keeps the node and its last stamp.
    assert stamp_in_dump(project, key) == b'ETag: "v2"'

    # No step needs the URL any more: the node is gone, and nothing is probed.
    write_plan(project, 'from stepup.core.api import step\n\nstep("echo other > other.txt")\n')
    result = stepup(project, "-n", "-w1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cannot probe" not in result.stdout
    workflow = load_workflow(str(project / ".stepup/workflow.mpk.xz"), load_plugins().kinds)
    assert [node.key for node in workflow.graph if node.kind == "url"] == []


@contextlib.contextmanager
def interactive(project: Path) -> Iterator[subprocess.Popen]:
    """An interactive stepup (in its own session), killed if the test leaves it running."""
    process = subprocess.Popen(
        [stepup_command(), "-w1"],
        cwd=project,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def control(project: Path, *commands: str) -> None:
    """Send ``stepup run``, ``wait``, ``graph``, ``join``, ... to the interactive stepup."""
    for command in commands:
        result = stepup(project, command)
        assert result.returncode == 0, (command, result.stdout + result.stderr)


def test_graph_shows_the_source(project: Path, site: Site):
    """An interactive stepup writes the graph on request, after the probes."""
    key = f"url:{site.url()}"
    with interactive(project) as process:
        control(project, "wait", "graph", "join")
        output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output
    assert ("SUCCESS", "copy") in events(output)

    blocks = (project / "graph.txt").read_text().split("\n\n")
    (node,) = [block for block in blocks if block.startswith(key + "\n")]
    assert node.splitlines()[:4] == [
        key,
        f"                 url = {site.url()}",
        '               stamp = ETag: "v1"',
        "          created by   root:",
    ]
    assert node.count("            supplies   step:python -c") == 2
    (fetch,) = [
        block
        for block in blocks
        if block.startswith("step:python -c") and block.split("\n", 1)[0].endswith("data.csv")
    ]
    assert f"            consumes   {key}" in fetch.splitlines()

    dot = (project / "graph_supplier.dot").read_text().splitlines()
    label = f'[label="127.0.0.1:{site.port}/data" shape=hexagon fillcolor=7]'
    (line,) = [line for line in dot if line.endswith(label)]
    ident = line.split()[0]
    assert len([line for line in dot if line.startswith(f"  {ident} -> ")]) == 2
    assert key not in (project / "graph_creator.dot").read_text()  # labels, not keys
    assert label in (project / "graph_creator.dot").read_text()


def test_interactive_run_probes_again(project: Path, site: Site):
    """In watch mode, a new run phase reruns the steps whose URL changed meanwhile."""
    with interactive(project) as process:
        control(project, "wait")
        assert methods(site) == ["HEAD", "GET", "GET"]
        site.resources["/data"] = Resource(b"1,2\n3,4\n", {"ETag": '"v2"'})
        control(project, "run", "wait")
        requests = methods(site)  # before join: the assertion below fails, join still runs
        control(project, "join")
        output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, output
    assert requests == ["HEAD", "GET", "GET"], output
    assert events(output).count(("START", "fetch")) == 2


def test_invalid_key_fails_the_plan(tmp_path: Path):
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step

        step("echo other > other.txt", out="other.txt")
        step("wget ftp://example.org/x", needs="url:ftp://example.org/x")
        """,
    )
    result = stepup(tmp_path, "-n", "-w1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "GraphError: Invalid source 'url:ftp://example.org/x' in needs: "
        "'ftp://example.org/x' is not an http(s) URL: it must start with http:// or https://. "
        "A valid key looks like url:https://example.org/data.csv"
    ) in result.stdout
    assert ("SUCCESS", "other") in events(result.stdout)
    assert "stepup_trio/" not in result.stdout  # only the plan's frame in the traceback
