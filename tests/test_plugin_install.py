"""Install, use and uninstall the plugin distribution plugins/stepup-trio-mermaid in a real venv.

The venv is new, in tmp_path, and sees the packages of the environment that runs the tests
through a .pth file (so nothing is downloaded). stepup-trio and the plugin are installed into
it with pip, offline, as wheels built from this checkout: the plugin reaches stepup-trio only
through its entry point, and after ``pip uninstall`` the core works as before.
"""

import os
import site
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PLUGIN = ROOT / "plugins" / "stepup-trio-mermaid"
VERSION = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]["version"]
PIP = ["-m", "pip", "--isolated", "--disable-pip-version-check", "--no-input"]
INSTALL = [*PIP, "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir"]

SEED = """
from stepup.core.api import step
from stepup.core.interact import graph

step("echo First line. > ${out}; echo Second line. >> ${out}", out="story.txt")
step("grep First ${inp}", inp="story.txt")
graph("graph", formats=FORMATS)
"""


def outer_site_dirs() -> list[str]:
    """Where the running interpreter finds its packages: pytest, hatchling, trio, pip, ..."""
    candidates = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    candidates.extend(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    return [path for path in dict.fromkeys(candidates) if os.path.isdir(path)]


class Venv:
    """A venv without pip of its own: it borrows the outer packages, pip included."""

    def __init__(self, path: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60
        )
        self.path = path
        self.bin = path / "bin"
        self.python = str(self.bin / "python")
        purelib = self.run(
            self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
        # addsitedir, unlike a plain path line, also runs the .pth files found there, such as
        # the one of an editable install of stepup-trio.
        lines = [f"import site; site.addsitedir({path!r})\n" for path in outer_site_dirs()]
        Path(purelib, "_outer_site_packages.pth").write_text("".join(lines))
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("STEPUP_", "PYTHON", "PIP_", "VIRTUAL_ENV"))
        }
        for name in ("COLUMNS", "LINES", "HERE", "ROOT", "FORCE_COLOR", "NO_COLOR"):
            self.env.pop(name, None)
        # Plan scripts start with #!/usr/bin/env python: that must be this venv's python.
        self.env["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env["VIRTUAL_ENV"] = str(path)
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in the checkout

    def run(self, *args: str, cwd: Path | None = None, check: bool = True):
        result = subprocess.run(
            args,
            cwd=cwd or self.path,
            env=getattr(self, "env", None),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
        return result

    def pip(self, *args: str, check: bool = True):
        return self.run(self.python, *args, check=check)

    def stepup(self, *args: str, cwd: Path):
        return self.run(str(self.bin / "stepup"), *args, cwd=cwd, check=False)

    def exporters(self) -> dict[str, str]:
        """The lines of ``stepup --list-plugins`` about exporters, by format name."""
        result = self.run(str(self.bin / "stepup"), "--list-plugins")
        rows = [line.split(maxsplit=2) for line in result.stdout.splitlines()]
        return {row[1]: row[2] for row in rows if row[0] == "stepup_trio.exporters"}


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
    try:
        import hatchling  # noqa: F401
    except ImportError:
        pytest.fail("hatchling builds the wheels offline: pip install -e '.[test]'")
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
    pytest_args = ["-m", "pytest", "-p", "no:cacheprovider", "-q", str(PLUGIN / "tests")]
    result = venv.run(venv.python, *pytest_args, cwd=tmp_path, check=False)
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
