"""The vacuum node: the creator of every node that is no longer defined (orphans)."""

import attrs

from stepup_trio.plugin_api import Node

__all__ = ["VacuumNode"]


@attrs.define(eq=False, repr=False)
class VacuumNode(Node):
    kind = "vacuum"

    @property
    def local_key(self) -> str:
        return ""

    def dot_label(self) -> str:
        return "vacuum"

    def dot_attributes(self) -> str:
        return " shape=hexagon fillcolor=6"
