"""Install, use and uninstall plugins/stepup-trio-http, a node-kind plugin, in a real venv.

The venv (see venvs.py) gets stepup-trio and the plugin with pip, offline, as wheels built
from this checkout. A plan needs a URL of a local web server started here. After
``pip uninstall``, the workflow dump of that plan holds nodes of a kind that no longer exists:
the next run must say so and start afresh, and the plan must get a clear error, not a crash.
"""

import http.server
import re
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from venvs import INSTALL, PIP, ROOT, Venv, require_hatchling, version

PLUGIN = ROOT / "plugins" / "stepup-trio-http"
VERSION = version(PLUGIN)
FETCH = "import sys, urllib.request as r; sys.stdout.write(r.urlopen(sys.argv[1]).read().decode())"


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``1,2`` with a fixed ETag and counts the probes (HEAD requests)."""

    protocol_version = "HTTP/1.1"
    heads: list[str] = []  # noqa: RUF012 (one server per test, see the fixture)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_HEAD(self) -> None:
        self.heads.append(self.headers.get("User-Agent", ""))
        self.answer(b"")

    def do_GET(self) -> None:
        self.answer(b"1,2\n")

    def answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def data_url() -> Iterator[str]:
    Handler.heads = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/data.csv"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def write_plan(folder: Path, body: str) -> None:
    folder.mkdir(exist_ok=True)
    plan = folder / "plan.py"
    plan.write_text("#!/usr/bin/env python\n" + textwrap.dedent(body).lstrip())
    plan.chmod(0o755)


def url_plan(folder: Path, url: str) -> str:
    """A plan with a step that needs ``url``, named as a string: it does not import the plugin,
    so that it still runs once the plugin is gone. Returns the command of that step."""
    command = f'python -c "{FETCH}" {url} > data.csv'
    body = f"""
        from stepup.core.api import step

        step("echo other > other.txt", out="other.txt")
        step({command!r}, out="data.csv", needs="url:{url}")
        step("wc -l data.csv", inp="data.csv")
        """
    write_plan(folder, body)
    return command


def test_install_use_uninstall(tmp_path: Path, data_url: str):
    require_hatchling()
    venv = Venv(tmp_path / "venv")
    venv.env["no_proxy"] = venv.env["NO_PROXY"] = "127.0.0.1,localhost"

    # Install the core and the plugin as wheels, from this checkout, without an index.
    venv.pip(*INSTALL, str(ROOT))
    assert "url" not in venv.kinds()
    result = venv.pip(*INSTALL, str(PLUGIN))
    assert f"Successfully installed stepup-trio-http-{VERSION}" in result.stdout
    assert venv.kinds()["url"] == f"stepup_trio_http.UrlNode (stepup-trio-http {VERSION})"

    # A plan needs the URL: the step runs, then is skipped while the ETag stays the same.
    project = tmp_path / "project"
    fetch = url_plan(project, data_url)
    result = venv.stepup("-n", "-w1", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"   SUCCESS │ {fetch}" in result.stdout
    assert (project / "data.csv").read_text() == "1,2\n"
    result = venv.stepup("-n", "-w1", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"      SKIP │ {fetch}" in result.stdout
    assert "     START" not in result.stdout
    agent = f"stepup-trio-http/{VERSION} (change detection for a stepup-trio workflow)"
    assert Handler.heads == [agent, agent]  # one probe per run, by the plugin

    # The plugin's own tests pass against the installed wheel.
    result = venv.pytest(PLUGIN / "tests", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed is not None and int(passed.group(1)) >= 50, result.stdout

    # Uninstalled, the kind is gone and the core works without it.
    result = venv.pip(*PIP, "uninstall", "-y", "stepup-trio-http")
    assert f"Successfully uninstalled stepup-trio-http-{VERSION}" in result.stdout
    kinds = venv.kinds()
    assert "url" not in kinds
    assert set(kinds) == {"root", "vacuum", "file", "step", "dg"}

    # The dump holds url nodes: it is set aside with a clear message, and the plan that still
    # needs the URL gets a clear error at that step (the step before it still runs).
    result = venv.stepup("-n", "-w1", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout.splitlines()
    assert "  WORKFLOW │ Exception while loading workflow .stepup/workflow.mpk.xz." in output
    assert "The dump contains nodes of kind 'url', whose plugin is not installed." in output
    assert "It was moved to .stepup/workflow-bug.mpk.xz, so you can inspect it." in output
    assert (project / ".stepup/workflow-bug.mpk.xz").is_file()
    assert "      FAIL │ ./plan.py" in output
    assert (
        f"GraphError: Unknown source 'url:{data_url}' in needs: a source is named 'kind:key' "
        "with an installed source kind (none is installed). Source kinds come from plugins; "
        "see stepup --list-plugins."
    ) in output
    assert "stepup_trio/" not in result.stdout  # no traceback of stepup-trio's internals
    assert "   SUCCESS │ echo other > other.txt" in output
    assert f"     START │ {fetch}" not in output

    # Without needs, the same project runs as before.
    write_plan(project, 'from stepup.core.api import step\n\nstep("echo other > other.txt")\n')
    result = venv.stepup("-n", "-w1", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  WORKFLOW │ Loaded from .stepup/workflow.mpk.xz" in result.stdout
    assert "   SUCCESS │ echo other > other.txt" in result.stdout
    assert len(Handler.heads) == 2  # no probes without the plugin
