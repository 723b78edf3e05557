"""Real venvs for the tests that install a plugin distribution with pip and uninstall it again.

A venv is new, in tmp_path, and sees the packages of the environment that runs the tests
through a .pth file, so nothing is downloaded. Distributions from this checkout are installed
into it offline, as wheels (``INSTALL``): a plugin then reaches stepup-trio only through its
entry points, as it does for users.
"""

import os
import site
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from stepup_trio.plugin_api import EXPORTERS_GROUP, NODE_KINDS_GROUP

__all__ = ["INSTALL", "PIP", "ROOT", "Venv", "outer_site_dirs", "require_hatchling", "version"]

ROOT = Path(__file__).parent.parent
PIP = ["-m", "pip", "--isolated", "--disable-pip-version-check", "--no-input"]
INSTALL = [*PIP, "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir"]


def version(distribution: Path) -> str:
    """The version in a distribution's pyproject.toml."""
    return tomllib.loads((distribution / "pyproject.toml").read_text())["project"]["version"]


def require_hatchling() -> None:
    try:
        import hatchling  # noqa: F401
    except ImportError:
        pytest.fail("hatchling builds the wheels offline: pip install -e '.[test]'")


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

    def run(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
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

    def pip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(self.python, *args, check=check)

    def stepup(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "stepup"), *args, cwd=cwd, check=False)

    def pytest(self, tests: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a test suite with this venv's python (no cache left in the checkout)."""
        args = ["-m", "pytest", "-p", "no:cacheprovider", "-q", str(tests)]
        return self.run(self.python, *args, cwd=cwd, check=False)

    def plugins(self, group: str) -> dict[str, str]:
        """The lines of ``stepup --list-plugins`` about one entry-point group, by name."""
        result = self.run(str(self.bin / "stepup"), "--list-plugins")
        rows = [line.split(maxsplit=2) for line in result.stdout.splitlines()]
        return {row[1]: row[2] for row in rows if row[0] == group}

    def exporters(self) -> dict[str, str]:
        return self.plugins(EXPORTERS_GROUP)

    def kinds(self) -> dict[str, str]:
        return self.plugins(NODE_KINDS_GROUP)
