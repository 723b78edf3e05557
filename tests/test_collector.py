"""The graph freezer: the growing graph leaves the collector's scans, removed nodes do not leak."""

import gc
import weakref

import pytest

from stepup_trio.collector import GraphFreezer, collect_frozen, paused


class Node:
    """A node that points at itself, as graph nodes point at each other: only the cyclic
    collector can free it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def clean_gc():
    gc.unfreeze()
    gc.collect()
    yield
    gc.unfreeze()
    gc.collect()


def test_freezes_after_each_interval(clean_gc):
    graph: list[Node] = []
    freezer = GraphFreezer(graph, interval=10)
    for _ in range(9):
        graph.append(Node())
        freezer.grown()
    assert gc.get_freeze_count() == 0
    graph.append(Node())
    freezer.grown()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    # The next freeze waits for the next ten nodes.
    graph.append(Node())
    freezer.grown()
    assert gc.get_freeze_count() == frozen


def test_frozen_garbage_is_freed_by_collect_frozen(clean_gc):
    graph: list[Node] = []
    freezer = GraphFreezer(graph, interval=1)
    graph.append(Node())
    freezer.grown()
    removed = weakref.ref(graph.pop())
    gc.collect()
    assert removed() is not None, "a frozen cycle is out of the collector's sight"
    collect_frozen()
    assert removed() is None
    assert gc.get_freeze_count() > 0, "what is still alive is frozen again"


def test_paused_restores_the_collector():
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
