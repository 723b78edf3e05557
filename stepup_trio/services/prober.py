"""The states of source nodes (plugin_api.SourceNode), probed in worker threads.

A probe is I/O of a plugin (a web request, a git command): it runs in a thread, within the
node kind's timeout, at most once per run phase for each node. A plugin that fails, or raises
something unexpected, costs a warning, not the build.
"""

import logging
from collections.abc import Callable, Iterable

import trio

from stepup_trio.plugin_api import Node, ProbeError, SourceNode

__all__ = ["SourceProber"]

logger = logging.getLogger(__name__)


class SourceProber:
    """Stamps of source nodes for the current run phase, by key (None: the probe failed)."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._stamps: dict[str, bytes | None] = {}

    def new_phase(self) -> None:
        """Sources may have changed since the last phase: probe them again when asked."""
        self._stamps.clear()

    async def stamps(self, step: Node) -> dict[str, bytes | None]:
        """The current stamps of the source nodes a step needs, by key."""
        stamps = {}
        for node in step.suppliers:
            if isinstance(node, SourceNode):
                if node.key not in self._stamps:
                    self._stamps[node.key] = await self._probe(node)
                stamps[node.key] = self._stamps[node.key]
        return stamps

    async def changed(self, nodes: Iterable[Node]) -> list[SourceNode]:
        """The defined, probed-before sources among ``nodes`` whose state changed since."""
        changed = []
        for node in list(nodes):
            if isinstance(node, SourceNode) and not node.orphan and node.stamp is not None:
                self._stamps[node.key] = stamp = await self._probe(node)
                if stamp != node.stamp:
                    changed.append(node)
        return changed

    async def _probe(self, node: SourceNode) -> bytes | None:
        problem = f"no answer within {node.probe_timeout:g} s"
        with trio.move_on_after(node.probe_timeout):
            try:
                stamp = await trio.to_thread.run_sync(node.probe, abandon_on_cancel=True)
            except ProbeError as exc:
                problem = str(exc)
            except Exception as exc:  # A bug in a node-kind plugin must not stop the build.
                logger.exception("Probing %s failed", node.key)
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if isinstance(stamp, bytes):
                    return stamp
                problem = f"the {node.kind} plugin returned {type(stamp).__name__}, not bytes"
        self._warn(f"Cannot probe {node.key}: {problem}")
        return None
