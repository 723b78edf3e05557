"""Deferred globs: patterns whose matching files become static only when a step needs them.

``glob("src/**", _defer=True)`` in a plan does not scan the disk. Later, when a step names an
input that matches, the file (and its directories) is declared static on the spot, created by
the deferred glob node. This keeps large source trees out of the graph until they are used.
"""

import functools
import re

import attrs

from stepup_trio.plugin_api import Node

__all__ = ["DeferredGlobNode"]


@functools.cache
def _compiled(pattern: str) -> re.Pattern:
    from stepup_trio.nglob import convert_nglob  # Only workflows with deferred globs need it.

    return re.compile(convert_nglob(pattern, {}, False))


@attrs.define(eq=False, repr=False)
class DeferredGlobNode(Node):
    kind = "dg"

    patterns: tuple[str, ...]

    @property
    def local_key(self) -> str:
        return " ".join(repr(pattern) for pattern in self.patterns)

    def matches(self, path: str) -> bool:
        """Does the path match one of the patterns (directories with a trailing slash)?"""
        return any(_compiled(pattern).fullmatch(path) for pattern in self.patterns)

    def dot_attributes(self) -> str:
        return " shape=octagon fillcolor=7"
