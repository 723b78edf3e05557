"""The root node: creates itself and the nodes StepUp defines at startup."""

from collections.abc import Iterator

import attrs

from stepup_trio.plugin_api import Node

__all__ = ["RootNode"]


@attrs.define(eq=False, repr=False)
class RootNode(Node):
    kind = "root"

    graph_version: str = "v1"

    @property
    def local_key(self) -> str:
        return ""

    def properties(self) -> Iterator[tuple[str, str]]:
        yield "version", self.graph_version

    def dot_label(self) -> str:
        return "root"

    def dot_attributes(self) -> str:
        return " shape=hexagon fillcolor=6"
