"""The changes a run makes to the workflow, as data: the journal replays them after a crash.

Between two dumps, the director appends every event to ``.stepup/journal.mpk``. When the
director is killed, the next run loads the last dump and applies the journal's events in the
same order, which rebuilds the same graph: steps that had succeeded are skipped, not redone.
The events apply to the workflow as it was loaded: a session that dissolved it to replay the
plan starts its journal with :class:`Restarted`.
"""

import attrs

from stepup_trio.core.actions import Action
from stepup_trio.core.stephash import StepHash
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import GraphError
from stepup_trio.hashing import FileHash

__all__ = [
    "Aborted",
    "Changed",
    "Event",
    "Finished",
    "Performed",
    "Restarted",
    "Skipped",
    "Started",
    "Validated",
    "apply_event",
]


@attrs.frozen
class Performed:
    creator: str
    action: Action


@attrs.frozen
class Started:
    step: str


@attrs.frozen
class Finished:
    step: str
    success: bool
    hashes: dict[str, FileHash]
    step_hash: StepHash | None = None
    stamps: dict[str, bytes] = attrs.Factory(dict)


@attrs.frozen
class Skipped:
    step: str
    hashes: dict[str, FileHash]
    stamps: dict[str, bytes] = attrs.Factory(dict)
    # Files the step declared static that were gone from the disk.
    missing: list[str] = attrs.Factory(list)


@attrs.frozen
class Aborted:
    step: str


@attrs.frozen
class Validated:
    step: str
    still_valid: bool


@attrs.frozen
class Changed:
    """Files changed on disk while stepup was watching (see Workflow.apply_changes)."""

    deleted: list[str]
    updated: list[str]


@attrs.frozen
class Restarted:
    """The workflow was dissolved and booted again: after loading a dump in which something
    changed, or when the user asked to replay everything (key t) or start from scratch (f)."""

    plan: str
    from_scratch: bool
    # After loading the dump (not for the keys t and f): see Workflow.restart.
    loaded: bool = False


Event = Performed | Started | Finished | Skipped | Aborted | Validated | Changed | Restarted


def apply_event(workflow: Workflow, event: Event) -> None:
    """Apply one journaled event, exactly as the director did when it happened."""
    if isinstance(event, Changed):
        workflow.apply_changes(event.deleted, event.updated)
        return
    if isinstance(event, Restarted):
        workflow.restart(event.plan, event.from_scratch, event.loaded)
        return
    key = event.creator if isinstance(event, Performed) else event.step
    node = workflow.graph.get(key)
    if node is None or node.kind != "step":
        raise GraphError(f"The journal refers to an unknown step: {key}")
    if isinstance(event, Performed):
        workflow.perform(node, event.action)
    elif isinstance(event, Started):
        workflow.start(node)
    elif isinstance(event, Finished):
        workflow.finish(node, event.success, event.hashes, event.step_hash, event.stamps)
    elif isinstance(event, Skipped):
        workflow.skip(node, event.hashes, event.stamps, event.missing)
    elif isinstance(event, Aborted):
        workflow.abort(node)
    elif isinstance(event, Validated):
        workflow.validated(node, event.still_valid)
