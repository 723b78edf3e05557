"""What files changing on disk mean for the workflow (watch mode).

A mixin of :class:`stepup_trio.core.workflow.Workflow`. The watcher reports paths; these rules
decide which paths matter, and which steps must be checked again when the user asks for a run.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from stepup_trio.core.states import FileState, StepState
from stepup_trio.errors import GraphError

if TYPE_CHECKING:
    from stepup_trio.nglob import NGlobMulti

__all__ = ["Changes"]

StepNode = Any
FileNode = Any


class Changes:
    graph: Any

    def watched_dirs(self) -> list[str]:
        """Directories to watch: every static or built directory, and the orphaned ones that
        may be (they were when they went to the vacuum, as StepUp keeps watching them)."""
        return sorted(
            node.path
            for node in self.graph
            if node.kind == "file"
            and node.is_dir
            and (
                node.state in (FileState.STATIC, FileState.BUILT)
                or (node.orphan and node.state == FileState.PENDING)
            )
        )

    def _glob_multis(self, step: StepNode) -> list["NGlobMulti"]:
        """The globs a step registered, filled with the files the graph knows that match."""
        from stepup_trio.nglob import NGlobMulti  # Only workflows with globs need it.

        multis = []
        for registration in step.globs:
            ngm = NGlobMulti.from_patterns(registration.patterns, registration.subs)
            ngm.extend(
                node.path
                for node in self.graph
                if node.kind == "file" and not node.orphan and ngm.may_match(node.path)
            )
            multis.append(ngm)
        return multis

    def is_relevant(self, path: str) -> bool:
        """A known file that is not volatile (orphans too, as in StepUp), or a new path that one
        of the globs may match."""
        node = self.file(path)
        if node is not None:
            return node.state != FileState.VOLATILE
        from stepup_trio.nglob import NGlobMulti

        for step in self.steps():
            if step.globs and not step.orphan:
                for registration in step.globs:
                    ngm = NGlobMulti.from_patterns(registration.patterns, registration.subs)
                    if ngm.may_match(path):
                        return True
        return False

    def apply_changes(self, deleted: Iterable[str], updated: Iterable[str]) -> None:
        """Bring the graph in line with what changed on disk, then queue what may run.

        Steps whose hash is known are hash-checked when queued, so touching a file without
        changing it leads to a SKIP.
        """
        deleted = set(deleted)
        gone_dirs = tuple(path for path in deleted if path.endswith("/"))
        if gone_dirs:
            # A directory that is deleted or moved takes everything in it along.
            deleted.update(
                node.path
                for node in self.graph
                if node.kind == "file" and node.path.startswith(gone_dirs)
            )
        deleted, updated = sorted(deleted), sorted(set(updated) - deleted)
        # Which globs see other matches is decided on the graph as it was: the changes below
        # may hand their matches to the vacuum (when an edited plan goes pending, say).
        added = {path for path in updated if self.file(path) is None}
        removed = set(deleted)
        globbing = [
            step
            for step in self.steps()
            if step.globs
            and not step.orphan
            and any(ngm.will_change(removed, added) for ngm in self._glob_multis(step))
        ]
        for path in deleted:
            node = self.file(path)
            if node is None:
                continue
            if node.state == FileState.STATIC:
                node.state = FileState.MISSING
                self._consumers_pending(node)
            elif node.state == FileState.BUILT:
                node.state = FileState.PENDING
                if node.creator is not None and node.creator.kind == "step":
                    self.make_pending(node.creator)
                self._consumers_pending(node)
        for path in updated:
            node = self.file(path)
            if node is None:
                continue
            if node.state == FileState.MISSING:
                node.state = FileState.STATIC
                self._consumers_pending(node, input_changed=True)
            elif node.state == FileState.STATIC:
                self._consumers_pending(node, input_changed=True)
            elif (
                node.state in (FileState.BUILT, FileState.PENDING)
                and node.creator is not None
                and node.creator.kind == "step"
            ):
                self.make_pending(node.creator)
        for step in globbing:
            # Also when the step went to the vacuum meanwhile: it must not be skipped when it
            # is defined again.
            step.hash = None
            step.recording = None
            self.make_pending(step, input_changed=True)
        self._queue_pending()

    def sources_changed(self, nodes: Iterable[Any]) -> None:
        """Source nodes whose state changed: the steps that need them must be checked again
        (watch mode; on a restart, the step hashes see it)."""
        for node in nodes:
            for consumer in list(node.consumers):
                if consumer.kind == "step":
                    self.make_pending(consumer, input_changed=True)
        self._queue_pending()

    def cleanup_targets(self, paths: Iterable[str]) -> list[FileNode]:
        """Files to remove for ``stepup cleanup``: the given ones and all that depend on them.

        Follows supplier to consumer relations (a directory supplies its contents, a step its
        outputs). Static and missing files are never included. Deepest path first.
        """
        todo = []
        for path in paths:
            node = self.file(path)
            if node is None:
                raise GraphError(f"Path not known to workflow: {path}")
            todo.append(node)
        seen = set()
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(node.consumers)
        files = [
            node
            for node in seen
            if node.kind == "file" and node.state not in (FileState.STATIC, FileState.MISSING)
        ]
        return sorted(files, key=lambda node: node.path, reverse=True)

    def _queue_pending(self) -> None:
        """After changes, the pending steps that can run are queued in the order of their
        keys, as in StepUp."""
        pending = [step for step in self.steps() if step.state == StepState.PENDING]
        for step in sorted(pending, key=lambda step: step.key):
            self.try_queue(step)

    def _consumers_pending(self, node: FileNode, input_changed: bool = False) -> None:
        for consumer in list(node.consumers):
            if consumer.kind == "step":
                self.make_pending(consumer, input_changed)
