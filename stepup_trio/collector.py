"""Keeping Python's cyclic garbage collector off the workflow graph.

A graph of many thousands of nodes lives as long as the session, and its nodes point at each
other. Each time the collector runs a full collection, it scans all of them, and it does so
more often the faster the graph grows: while a plan defines 20,000 steps, that took 0.6 s of
the director's time, and the cost per step grows with the graph. The graph is never garbage,
so it is moved out of the collector's sight instead: into its permanent generation
(``gc.freeze``), the way the loaded graph is at the start of a session.
"""

import contextlib
import gc
from collections.abc import Iterator, Sized

__all__ = ["GraphFreezer", "collect_frozen", "paused"]

#: Nodes added to the graph between two freezes.
FREEZE_INTERVAL = 5000


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No collection while millions of small objects are built or read next to a large graph
    (the dump): there is nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class GraphFreezer:
    """Freezes what is alive each time the graph has grown by ``interval`` nodes.

    The young generations are collected first, so that only their cyclic garbage of the last
    moments can end up frozen. Call :meth:`grown` after adding nodes; it costs a length check.
    """

    def __init__(self, graph: Sized, interval: int = FREEZE_INTERVAL) -> None:
        self.graph = graph
        self.interval = interval
        self._next = len(graph) + interval

    def grown(self) -> None:
        if len(self.graph) >= self._next:
            gc.collect(1)
            gc.freeze()
            self._next = len(self.graph) + self.interval


def collect_frozen() -> None:
    """Nodes were removed from the graph: they may be frozen garbage. A full collection of
    everything, once, then the rest is frozen again (about 0.1 s per 100,000 nodes)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
