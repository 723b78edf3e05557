"""Choosing graph formats: ``stepup graph --format`` and ``graph(prefix, formats=...)``.

End to end with the real ``stepup`` command. An unknown format is refused by the director
with a message that names the installed formats and how to add one; the build goes on.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import STEPUP, clean_env, run_stepup, start_stepup, write_plan

from stepup_trio import wire
from stepup_trio.client import DummyClient
from stepup_trio.errors import UsageError
from stepup_trio.interact import _parse_formats

UNKNOWN = re.compile(
    r"Unknown graph format 'nosuch'\. Installed formats: (?:[\w-]+, )*dot, (?:[\w-]+, )*text"
    r"(?:, [\w-]+)*\. Other formats come from exporter plugins: install one \(for example "
    r"`pip install stepup-trio-mermaid` for 'mermaid'\), restart stepup, and check with "
    r"`stepup --list-plugins`\."
)
DOT = ["g_creator.dot", "g_supplier.dot"]


def graph_files(folder: Path) -> list[str]:
    """Everything the exporters wrote: all files except the plan and stepup's own."""
    return sorted(
        path.name for path in folder.iterdir() if path.is_file() and path.name != "plan.py"
    )


# The message and its parts, without a director.


def test_write_graph_message_defaults_to_text_and_dot():
    """A client that sends only a prefix, as before formats existed, gets the old files."""
    envelope = wire.decode([1, "WriteGraph", {"prefix": "g"}])
    assert envelope.payload == wire.WriteGraph("g", ["text", "dot"])
    assert wire.decode([2, "WriteGraph", {"prefix": "g", "formats": ["dot"]}]).payload.formats == [
        "dot"
    ]
    with pytest.raises(wire.WireError, match=r"\$\.formats"):
        wire.decode([3, "WriteGraph", {"prefix": "g", "formats": "dot"}])


def test_format_problem():
    installed = {"text": None, "dot": None}
    assert wire.WriteGraph("g").format_problem(installed) is None
    assert UNKNOWN.fullmatch(wire.WriteGraph("g", ["text", "nosuch"]).format_problem(installed))
    several = wire.WriteGraph("g", ["a", "text", "b"]).format_problem(installed)
    assert several.startswith("Unknown graph formats 'a', 'b'. Installed formats: dot, text.")
    assert "at least one" in wire.WriteGraph("g", []).format_problem(installed)


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        (("text", "dot"), ["text", "dot"]),
        ("mermaid", ["mermaid"]),
        ("text, dot,,text", ["text", "dot"]),
        (["dot", " dot "], ["dot"]),
        (iter(["text"]), ["text"]),
    ],
)
def test_parse_formats(formats, expected):
    assert _parse_formats(formats) == expected


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ([], "No graph format given"),
        (" , ", "No graph format given"),
        (["text", 3], "must be a string, not int 3"),
        (None, "not NoneType None"),
    ],
)
def test_parse_formats_errors(formats, message):
    with pytest.raises(UsageError, match=message):
        _parse_formats(formats)


def test_plan_run_by_hand_shows_formats(capsys, monkeypatch):
    """Without a director the request is printed, formats included."""
    DummyClient().call(wire.WriteGraph("g", ["text"]))
    assert capsys.readouterr().err == "WriteGraph(prefix='g', formats=['text'])\n"


# From a plan script, with stepup -n.


def test_formats_from_plan(tmp_path):
    write_plan(
        tmp_path,
        """
        from stepup.core.interact import graph
        graph("a", formats=("text",))
        graph("b", formats="dot")
        graph("c", formats="text,dot")
        graph("d")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert graph_files(tmp_path) == [
        "a.txt",
        "b_creator.dot",
        "b_supplier.dot",
        "c.txt",
        "c_creator.dot",
        "c_supplier.dot",
        "d.txt",
        "d_creator.dot",
        "d_supplier.dot",
    ]
    assert "step:./plan.py" in (tmp_path / "a.txt").read_text()


def test_unknown_format_from_plan_is_an_error_reply(tmp_path):
    """The plan gets the message as an exception; nothing is written; the director goes on."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        from stepup.core.interact import graph
        from stepup_trio.errors import StepUpError
        try:
            graph("g", formats=["text", "nosuch"])
        except StepUpError as exc:
            print("CAUGHT", exc)
        step("echo done > done.txt", out="done.txt")
        graph("g", formats=["text"])
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    caught = next(line for line in result.stdout.splitlines() if line.startswith("CAUGHT "))
    assert UNKNOWN.fullmatch(caught.removeprefix("CAUGHT "))
    assert (tmp_path / "done.txt").is_file()
    assert graph_files(tmp_path) == ["done.txt", "g.txt"]


def test_unknown_format_uncaught_fails_only_the_plan(tmp_path):
    """Not caught, the error ends the plan with one message, not a stepup traceback."""
    write_plan(
        tmp_path,
        """
        from stepup.core.api import step
        from stepup.core.interact import graph
        step("echo done > done.txt", out="done.txt")
        graph("g", formats="nosuch")
        """,
    )
    result = run_stepup(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "stepup_trio/" not in result.stdout
    assert re.search(r"^StepUpError: " + UNKNOWN.pattern + "$", result.stdout, re.MULTILINE)
    assert "Internal error" not in result.stdout + result.stderr
    assert (tmp_path / "done.txt").is_file()
    assert graph_files(tmp_path) == ["done.txt"]


# From a shell, with stepup graph, while an interactive stepup runs.


def control(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [STEPUP, *args],
        cwd=folder,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_stepup_graph_format(tmp_path):
    write_plan(tmp_path, "")
    process = start_stepup(tmp_path, "-w1")
    try:
        assert control(tmp_path, "wait").returncode == 0
        result = control(tmp_path, "graph", "--format", "text")
        assert (result.returncode, result.stdout) == (0, ""), result.stderr
        assert graph_files(tmp_path) == ["graph.txt"]

        result = control(tmp_path, "graph", "g", "--format", "dot", "--format", "text,dot")
        assert result.returncode == 0, result.stderr
        assert graph_files(tmp_path) == sorted([*DOT, "g.txt", "graph.txt"])

        result = control(tmp_path, "graph", "h", "--format", "text,nosuch")
        assert result.returncode == 1
        assert result.stdout == ""
        assert re.fullmatch(r"stepup graph: error: " + UNKNOWN.pattern + "\n", result.stderr)
        assert "h.txt" not in graph_files(tmp_path)

        result = control(tmp_path, "graph", "--format", ",")
        assert result.returncode == 1
        assert "argument --format: No graph format given" in result.stderr
        assert "Traceback" not in result.stderr

        # The director still answers, with the old default.
        result = control(tmp_path, "graph", "k")
        assert result.returncode == 0, result.stderr
        assert {"k.txt", "k_creator.dot", "k_supplier.dot"} <= set(graph_files(tmp_path))
        assert control(tmp_path, "join").returncode == 0
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, stdout + stderr
    assert "Traceback" not in stdout + stderr
