"""Talk to a running director from outside the graph: scripts, tests and plan scripts."""

from stepup_trio import wire
from stepup_trio.client import get_client

__all__ = ["graph"]


def graph(prefix: str) -> None:
    """Write ``<prefix>.txt``, ``<prefix>_supplier.dot`` and ``<prefix>_creator.dot``.

    The prefix is relative to the root of the workflow, where the director runs.
    """
    get_client().call(wire.WriteGraph(str(prefix)))
