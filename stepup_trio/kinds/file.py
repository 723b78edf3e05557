"""File and directory nodes. A trailing slash in the path marks a directory."""

from collections.abc import Iterator

import attrs

from stepup_trio.core.states import FileState
from stepup_trio.hashing import FileHash
from stepup_trio.kinds.format import digest_lines
from stepup_trio.plugin_api import Node

__all__ = ["FileNode"]

_USERS = (FileState.STATIC, FileState.MISSING)


@attrs.define(eq=False, repr=False)
class FileNode(Node):
    kind = "file"

    path: str
    state: FileState = FileState.PENDING
    hash: FileHash | None = None

    @property
    def local_key(self) -> str:
        return self.path

    @property
    def is_dir(self) -> bool:
        return self.path.endswith("/")

    def is_available(self) -> bool:
        return self.state.available

    def properties(self) -> Iterator[tuple[str, str]]:
        yield "path", self.path
        yield "state", self.state.name
        if self.hash is not None and self.hash.known and not self.is_dir:
            yield from digest_lines("digest", self.hash.digest)

    def dot_attributes(self) -> str:
        return " shape=rect fillcolor=9"

    def shown_in_supplier_dot(self) -> bool:
        # Directories supply nearly everything; drawing them hides the data flow.
        return not self.is_dir

    def take_state(self, state: FileState) -> None:
        """Change the state, keeping the hash, except for a file of the user (static or
        missing) that becomes an output or a placeholder: only a hash of what a step built
        lets a cleanup remove the file, and the user's file must never be removed."""
        if self.state in _USERS and state not in _USERS:
            self.hash = None
        self.state = state

    def on_recycled(self, graph, fresh: Node) -> None:
        assert isinstance(fresh, FileNode)
        # The hash is kept: a recycled output that did not change need not be rebuilt.
        self.take_state(fresh.state)
