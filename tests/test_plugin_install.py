"""Install, use and uninstall the plugin distribution plugins/stepup-trio-mermaid in a real venv.

The venv (see venvs.py) gets stepup-trio and the plugin with pip, offline, as wheels built
from this checkout: the plugin reaches stepup-trio only through its entry point, and after
``pip uninstall`` the core works as before.
"""

import textwrap
from pathlib import Path

from venvs import INSTALL, PIP, ROOT, Venv, require_hatchling, version

PLUGIN = ROOT / "plugins" / "stepup-trio-mermaid"
VERSION = version(PLUGIN)

SEED = """
from stepup.core.api import step
from stepup.core.interact import graph

step("echo First line. > ${out}; echo Second line. >> ${out}", out="story.txt")
step("grep First ${inp}", inp="story.txt")
graph("graph", formats=FORMATS)
"""


def documented_seed_chart() -> str:
    """The seed's supplier flowchart as docs/plugins.md shows it."""
    page = (ROOT / "docs" / "plugins.md").read_text()
    after = page.split("<!-- graph_supplier.mmd of the seed", 1)[1]
    return after.split("```text\n", 1)[1].split("```\n", 1)[0]


def seed_plan(folder: Path, formats: tuple[str, ...]) -> None:
    folder.mkdir()
    plan = folder / "plan.py"
    body = textwrap.dedent(SEED).replace("FORMATS", repr(formats))
    plan.write_text("#!/usr/bin/env python\n" + body)
    plan.chmod(0o755)


def test_install_use_uninstall(tmp_path):
    require_hatchling()
    venv = Venv(tmp_path / "venv")

    # Install the core and the plugin as wheels, from this checkout, without an index.
    venv.pip(*INSTALL, str(ROOT))
    assert "mermaid" not in venv.exporters()
    result = venv.pip(*INSTALL, str(PLUGIN))
    assert f"Successfully installed stepup-trio-mermaid-{VERSION}" in result.stdout
    assert venv.exporters()["mermaid"] == (
        f"stepup_trio_mermaid.MermaidExporter (stepup-trio-mermaid {VERSION})"
    )

    # A plan asks for the new format next to the built-in ones.
    seed_plan(tmp_path / "with", ("text", "dot", "mermaid"))
    result = venv.stepup("-n", "-w1", cwd=tmp_path / "with")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in "graph.txt", "graph_supplier.dot", "graph_creator.dot", "graph.md":
        assert (tmp_path / "with" / name).is_file(), name
    supplier = (tmp_path / "with/graph_supplier.mmd").read_text()
    assert supplier.startswith("flowchart BT\n")
    assert '["story.txt"]:::k_file' in supplier
    assert supplier == documented_seed_chart()
    assert (tmp_path / "with/graph_creator.mmd").read_text().startswith("flowchart BT\n")

    # The plugin's own tests pass against the installed wheel.
    result = venv.pytest(PLUGIN / "tests", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout

    # Uninstalled, the plugin is gone and the core works as before.
    result = venv.pip(*PIP, "uninstall", "-y", "stepup-trio-mermaid")
    assert f"Successfully uninstalled stepup-trio-mermaid-{VERSION}" in result.stdout
    assert "mermaid" not in venv.exporters()
    assert {"text", "dot"} <= set(venv.exporters())
    seed_plan(tmp_path / "without", ("text", "dot"))
    result = venv.stepup("-n", "-w1", cwd=tmp_path / "without")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "   SUCCESS │ grep First story.txt" in result.stdout
    written = sorted(path.name for path in (tmp_path / "without").glob("graph*"))
    assert written == ["graph.txt", "graph_creator.dot", "graph_supplier.dot"]

    # Asking for the missing format is a clear error for the plan, not for stepup.
    seed_plan(tmp_path / "missing", ("mermaid",))
    result = venv.stepup("-n", "-w1", cwd=tmp_path / "missing")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "StepUpError: Unknown graph format 'mermaid'. Installed formats: " in result.stdout
    assert "`pip install stepup-trio-mermaid`" in result.stdout
    assert "   SUCCESS │ grep First story.txt" in result.stdout
    assert not list((tmp_path / "missing").glob("graph*"))
