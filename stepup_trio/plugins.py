"""Find node kinds and exporters through their entry-point groups, with stevedore.

The built-in kinds and exporters are entry points of this distribution, loaded through the same
door as third-party plugins. A built-in that is missing or broken is a startup error; a broken
third-party plugin is reported and left out.
"""

import functools
import importlib.metadata

import attrs
from stevedore import ExtensionManager

from stepup_trio.errors import PluginError
from stepup_trio.plugin_api import EXPORTERS_GROUP, NODE_KINDS_GROUP, Exporter, Node

__all__ = ["BUILTIN_EXPORTERS", "BUILTIN_KINDS", "Plugins", "load_plugins"]

BUILTIN_KINDS = ("root", "vacuum", "file", "step", "dg")
BUILTIN_EXPORTERS = ("text", "dot")
REINSTALL_HINT = "Reinstall stepup-trio (pip install --force-reinstall stepup-trio)."


@attrs.frozen
class Plugins:
    """What was loaded: kind name to node class, format name to exporter class, and failures."""

    kinds: dict[str, type[Node]]
    exporters: dict[str, type[Exporter]]
    failures: dict[str, str] = attrs.Factory(dict)

    def describe(self) -> list[str]:
        """One line per plugin: group, name, class and the distribution that provides it."""
        lines = []
        for group, loaded in ((NODE_KINDS_GROUP, self.kinds), (EXPORTERS_GROUP, self.exporters)):
            for name, cls in sorted(loaded.items()):
                origin = _distribution(group, name)
                lines.append(f"{group:24s} {name:10s} {cls.__module__}.{cls.__qualname__}{origin}")
        lines.extend(f"FAILED {name}: {problem}" for name, problem in sorted(self.failures.items()))
        return lines


def _distribution(group: str, name: str) -> str:
    for entry_point in importlib.metadata.entry_points(group=group, name=name):
        dist = entry_point.dist
        if dist is not None:
            return f" ({dist.metadata['Name']} {dist.version})"
    return ""


def load_group(
    group: str,
    base: type,
    name_attr: str,
    builtins: tuple[str, ...],
    manager: ExtensionManager | None = None,
) -> tuple[dict[str, type], dict[str, str]]:
    """Load one entry-point group (or use the given manager), check the classes it provides.

    Returns the valid classes by name and the problems by ``group:name``. A missing or broken
    built-in raises :class:`PluginError`.
    """
    failures: dict[str, str] = {}

    def on_failure(_manager, entrypoint, exception):
        failures[f"{group}:{entrypoint.name}"] = f"{type(exception).__name__}: {exception}"

    if manager is None:
        manager = ExtensionManager(group, invoke_on_load=False, on_load_failure_callback=on_failure)
    loaded = {}
    for extension in manager:
        obj = extension.plugin
        if not (isinstance(obj, type) and issubclass(obj, base)):
            failures[f"{group}:{extension.name}"] = (
                f"{obj!r} is not a subclass of {base.__module__}.{base.__qualname__}"
            )
        elif getattr(obj, name_attr) != extension.name:
            failures[f"{group}:{extension.name}"] = (
                f"{obj.__qualname__}.{name_attr} is {getattr(obj, name_attr)!r}, "
                f"but it is registered as {extension.name!r}"
            )
        else:
            loaded[extension.name] = obj
    for name in builtins:
        if name not in loaded:
            problem = failures.get(f"{group}:{name}", "no such entry point is installed")
            raise PluginError(
                f"The built-in plugin {name!r} of group {group} could not be loaded: "
                f"{problem}. {REINSTALL_HINT}"
            )
    return loaded, failures


@functools.cache
def load_plugins() -> Plugins:
    """Load every node kind and exporter once per process."""
    kinds, kind_failures = load_group(NODE_KINDS_GROUP, Node, "kind", BUILTIN_KINDS)
    exporters, exporter_failures = load_group(EXPORTERS_GROUP, Exporter, "name", BUILTIN_EXPORTERS)
    return Plugins(kinds, exporters, kind_failures | exporter_failures)
