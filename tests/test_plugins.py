"""Node kinds and exporters are found through entry points, built-ins included."""

import importlib.metadata

import pytest
from stevedore import ExtensionManager
from stevedore.extension import Extension

from stepup_trio.errors import PluginError
from stepup_trio.exporters.text import TextExporter
from stepup_trio.kinds.dg import DeferredGlobNode
from stepup_trio.kinds.file import FileNode
from stepup_trio.kinds.root import RootNode
from stepup_trio.kinds.step import StepNode
from stepup_trio.kinds.vacuum import VacuumNode
from stepup_trio.plugin_api import NODE_KINDS_GROUP, Node
from stepup_trio.plugins import BUILTIN_KINDS, load_group, load_plugins


def test_builtins_are_entry_points():
    names = {ep.name for ep in importlib.metadata.entry_points(group=NODE_KINDS_GROUP)}
    assert set(BUILTIN_KINDS) <= names
    plugins = load_plugins()
    assert plugins.kinds["file"] is FileNode
    assert plugins.kinds["step"] is StepNode
    assert set(plugins.exporters) >= {"text", "dot"}


def manager(*pairs):
    return ExtensionManager.make_test_instance(
        [Extension(name, None, obj, None) for name, obj in pairs], namespace=NODE_KINDS_GROUP
    )


def builtin_pairs():
    return [
        ("root", RootNode),
        ("vacuum", VacuumNode),
        ("file", FileNode),
        ("step", StepNode),
        ("dg", DeferredGlobNode),
    ]


def test_missing_builtin_is_a_clear_error():
    pairs = [pair for pair in builtin_pairs() if pair[0] != "file"]
    with pytest.raises(PluginError, match=r"built-in plugin 'file' .* no such entry point"):
        load_group(NODE_KINDS_GROUP, Node, "kind", BUILTIN_KINDS, manager(*pairs))


def test_builtin_with_wrong_class_is_a_clear_error():
    pairs = [*builtin_pairs()[:3], ("step", TextExporter), builtin_pairs()[4]]
    with pytest.raises(PluginError, match=r"'step' .* not a subclass of .*Node.*Reinstall"):
        load_group(NODE_KINDS_GROUP, Node, "kind", BUILTIN_KINDS, manager(*pairs))


def test_third_party_problems_are_reported_not_fatal():
    class Misnamed(FileNode):
        kind = "other"

    kinds, failures = load_group(
        NODE_KINDS_GROUP,
        Node,
        "kind",
        BUILTIN_KINDS,
        manager(*builtin_pairs(), ("extra", Misnamed), ("junk", 42)),
    )
    assert set(kinds) == set(BUILTIN_KINDS)
    assert "registered as 'extra'" in failures[f"{NODE_KINDS_GROUP}:extra"]
    assert "not a subclass" in failures[f"{NODE_KINDS_GROUP}:junk"]


def test_compatibility_layer_is_the_same_api():
    import stepup.core.api
    import stepup.core.interact
    import stepup_trio.api
    import stepup_trio.interact

    assert stepup.core.api.step is stepup_trio.api.step
    assert stepup.core.api.static is stepup_trio.api.static
    assert stepup.core.interact.graph is stepup_trio.interact.graph


def test_list_plugins_command():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "stepup_trio", "--list-plugins"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    listed = [line.split()[:2] for line in result.stdout.splitlines()]
    assert ["stepup_trio.node_kinds", "file"] in listed
    assert ["stepup_trio.exporters", "dot"] in listed
    assert "(stepup-trio " in result.stdout
