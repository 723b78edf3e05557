"""The graph with the real node kinds: creator relation, supplier relation, vacuum, cycles."""

import itertools

import pytest

from stepup_trio.core.graph import Graph
from stepup_trio.core.states import FileState, StepState
from stepup_trio.errors import CyclicError, GraphError
from stepup_trio.hashing import FileHash


@pytest.fixture
def graph(kinds):
    graph = Graph()
    graph.add_root(kinds["root"](), kinds["vacuum"]())
    return graph


@pytest.fixture
def new_file(kinds):
    def new_file(path, state=FileState.PENDING, hash=None):
        return kinds["file"](path=path, state=state, hash=hash)

    return new_file


@pytest.fixture
def new_step(kinds):
    def new_step(command, workdir="./"):
        return kinds["step"](command=command, workdir=workdir)

    return new_step


def keys(nodes):
    return [node.key for node in nodes]


# Root and vacuum


def test_add_root(kinds):
    graph = Graph()
    root = kinds["root"]()
    vacuum = kinds["vacuum"]()
    graph.add_root(root, vacuum)
    assert keys(graph) == ["root:", "vacuum:"]
    assert len(graph) == 2
    assert graph.root is root
    assert graph.vacuum is vacuum
    assert root.creator is root
    assert vacuum.creator is root
    assert list(root.products) == [vacuum]
    assert not vacuum.products
    assert not root.orphan
    assert not vacuum.orphan
    assert "root:" in graph
    assert graph.get("vacuum:") is vacuum
    assert graph.get("file:nope") is None


def test_add_root_only_first(graph, kinds):
    with pytest.raises(GraphError, match="first node"):
        graph.add_root(kinds["root"](), kinds["vacuum"]())


def test_no_root_yet():
    graph = Graph()
    with pytest.raises(GraphError, match="no root"):
        _ = graph.root
    with pytest.raises(GraphError, match="no vacuum"):
        _ = graph.vacuum


# Creator relation


def test_creator_relation(graph, new_file, new_step):
    step = graph.add(new_step("touch a"), graph.root)
    out = graph.add(new_file("a"), step)
    assert out.creator is step
    assert step.creator is graph.root
    assert list(step.products) == [out]
    assert step in graph.root.products
    assert keys(graph) == ["root:", "vacuum:", "step:touch a", "file:a"]


def test_one_creator(graph, new_file, new_step):
    first = graph.add(new_step("first"), graph.root)
    second = graph.add(new_step("second"), graph.root)
    node = graph.add(new_file("a"), first)
    graph.orphan(node)
    assert node.orphan
    assert node not in first.products
    assert node in graph.vacuum.products
    recycled = graph.add(new_file("a"), second)
    assert recycled is node
    assert node.creator is second
    assert list(second.products) == [node]
    assert node not in first.products
    assert node not in graph.vacuum.products
    # Exactly one node lists it among its products.
    assert [other for other in graph if node in other.products] == [second]


def test_add_existing_non_orphan(graph, new_file, new_step):
    step = graph.add(new_step("touch a"), graph.root)
    node = graph.add(new_file("a"), step)
    with pytest.raises(GraphError, match="Node already exists: file:a"):
        graph.add(new_file("a"), graph.root)
    assert node.creator is step
    assert graph.get("file:a") is node


def test_orphan_cannot_create(graph, new_file, new_step):
    step = graph.add(new_step("plan"), graph.root)
    graph.orphan(step)
    with pytest.raises(GraphError, match="An orphan cannot create nodes: step:plan"):
        graph.add(new_file("a"), step)
    assert "file:a" not in graph


# Supplier relation


def test_supplier_relation(graph, new_file, new_step):
    inp = graph.add(new_file("a", FileState.STATIC), graph.root)
    step = graph.add(new_step("cat a"), graph.root)
    graph.add_supplier(inp, step)
    assert list(step.suppliers) == [inp]
    assert list(inp.consumers) == [step]
    graph.remove_supplier(inp, step)
    assert not step.suppliers
    assert not inp.consumers


def test_supplier_cannot_supply_itself(graph, new_step):
    step = graph.add(new_step("x"), graph.root)
    with pytest.raises(CyclicError, match="cannot supply itself"):
        graph.add_supplier(step, step)


def test_clear_suppliers(graph, new_file, new_step):
    step = graph.add(new_step("cat a b"), graph.root)
    a = graph.add(new_file("a", FileState.STATIC), graph.root)
    b = graph.add(new_file("b", FileState.STATIC), graph.root)
    graph.add_supplier(a, step)
    graph.add_supplier(b, step)
    graph.clear_suppliers(step)
    assert not step.suppliers
    assert not a.consumers
    assert not b.consumers


# Vacuum and orphans


def test_add_orphan(graph, new_file):
    node = graph.add_orphan(new_file("a"))
    assert node.orphan
    assert node.creator is graph.vacuum
    assert node in graph.vacuum.products
    # A second placeholder with the same key gives the existing node.
    assert graph.add_orphan(new_file("a")) is node
    assert keys(graph) == ["root:", "vacuum:", "file:a"]


def test_orphan_is_recursive(graph, new_file, new_step):
    plan = graph.add(new_step("./plan.py"), graph.root)
    sub = graph.add(new_step("./sub.py"), plan)
    out1 = graph.add(new_file("out1"), plan)
    subsub = graph.add(new_step("touch out2"), sub)
    out2 = graph.add(new_file("out2"), subsub)
    other = graph.add(new_step("other"), graph.root)
    graph.orphan(plan)
    for node in plan, sub, out1, subsub, out2:
        assert node.orphan
        assert node.creator is graph.vacuum
        assert node in graph.vacuum.products
        assert not node.products
    assert not other.orphan
    assert list(graph.root.products) == [graph.vacuum, other]
    # Orphaning does not remove nodes nor change the order.
    assert keys(graph) == [
        "root:",
        "vacuum:",
        "step:./plan.py",
        "step:./sub.py",
        "file:out1",
        "step:touch out2",
        "file:out2",
        "step:other",
    ]


def test_orphan_spares_root_and_vacuum(graph):
    graph.orphan(graph.root)
    graph.orphan(graph.vacuum)
    assert graph.root.creator is graph.root
    assert graph.vacuum.creator is graph.root
    assert not graph.root.orphan
    assert not graph.vacuum.orphan


def test_orphan_keeps_supplier_relations(graph, new_file, new_step):
    inp = graph.add(new_file("a", FileState.STATIC), graph.root)
    step = graph.add(new_step("cp a b"), graph.root)
    out = graph.add(new_file("b"), step)
    graph.add_supplier(inp, step)
    graph.add_supplier(step, out)
    graph.orphan(step)
    assert list(step.suppliers) == [inp]
    assert list(step.consumers) == [out]


def test_recycle_file(graph, new_file, new_step):
    dir_node = graph.add(new_file("./", FileState.STATIC), graph.root)
    old_step = graph.add(new_step("old"), graph.root)
    old_hash = FileHash(bytes(range(64)), 0o100644, 1.5, 10, 42)
    out = graph.add(new_file("out", FileState.BUILT, old_hash), old_step)
    graph.add_supplier(dir_node, out)
    graph.add_supplier(old_step, out)
    user = graph.add(new_step("cat out"), graph.root)
    graph.add_supplier(out, user)
    graph.add(new_file("later"), graph.root)

    graph.orphan(old_step)
    assert out.orphan
    new_step_node = graph.add(new_step("new"), graph.root)
    fresh = new_file("out", FileState.PENDING)
    recycled = graph.add(fresh, new_step_node)

    # The old object is kept, in its old place.
    assert recycled is out
    assert recycled is not fresh
    assert graph.get("file:out") is out
    assert keys(graph) == [
        "root:",
        "vacuum:",
        "file:./",
        "step:old",
        "file:out",
        "step:cat out",
        "file:later",
        "step:new",
    ]
    # New definition, same hash, same consumers, no suppliers.
    assert out.creator is new_step_node
    assert not out.orphan
    assert out.state == FileState.PENDING
    assert out.hash is old_hash
    assert list(out.consumers) == [user]
    assert list(user.suppliers) == [out]
    assert not out.suppliers
    assert out not in old_step.consumers
    assert out not in dir_node.consumers


def test_recycle_step(graph, new_file, new_step):
    inp = graph.add(new_file("a", FileState.STATIC), graph.root)
    step = graph.add(new_step("cp a b"), graph.root)
    graph.add_supplier(inp, step)
    out = graph.add(new_file("b"), step)
    graph.add_supplier(step, out)
    step.state = StepState.SUCCEEDED
    graph.orphan(step)
    recycled = graph.add(new_step("cp a b"), graph.root)
    assert recycled is step
    assert step.state == StepState.PENDING
    assert not step.suppliers
    assert not inp.consumers
    assert list(step.consumers) == [out]


def test_remove(graph, new_file, new_step):
    a = graph.add_orphan(new_file("a"))
    dir_node = graph.add(new_file("./", FileState.STATIC), graph.root)
    graph.add_supplier(dir_node, a)
    graph.remove(a)
    assert "file:a" not in graph
    assert a not in graph.vacuum.products
    assert a not in dir_node.consumers
    assert keys(graph) == ["root:", "vacuum:", "file:./"]


def test_remove_only_orphans(graph, new_file):
    node = graph.add(new_file("a", FileState.STATIC), graph.root)
    with pytest.raises(GraphError, match="Only orphans can be removed: file:a"):
        graph.remove(node)
    assert graph.get("file:a") is node


def test_remove_only_without_consumers(graph, new_file, new_step):
    node = graph.add_orphan(new_file("a"))
    step = graph.add(new_step("cat a"), graph.root)
    graph.add_supplier(node, step)
    with pytest.raises(GraphError, match="still supplies others: file:a"):
        graph.remove(node)
    assert graph.get("file:a") is node
    assert list(step.suppliers) == [node]
    graph.remove_supplier(node, step)
    graph.remove(node)
    assert "file:a" not in graph


# Cycles


def test_check_acyclic_detects_cycle(graph, new_file, new_step):
    a = graph.add(new_file("a", FileState.STATIC), graph.root)
    step = graph.add(new_step("cp a b"), graph.root)
    b = graph.add(new_file("b"), step)
    graph.add_supplier(a, step)
    graph.add_supplier(step, b)
    # b -> a would close the cycle a -> step -> b -> a.
    with pytest.raises(CyclicError) as excinfo:
        graph.check_acyclic([b], [a])
    message = str(excinfo.value)
    assert message == (
        "New relation introduces cyclic dependency:\n  file:a\n  step:cp a b\n  file:b\n  file:a"
    )
    # Nothing changed.
    assert not a.suppliers
    assert not b.consumers


def test_check_acyclic_via(graph, new_file, new_step):
    a = graph.add(new_file("a", FileState.STATIC), graph.root)
    step = graph.add(new_step("cp a b"), graph.root)
    b = graph.add(new_file("b"), step)
    graph.add_supplier(a, step)
    graph.add_supplier(step, b)
    # A new step that reads b and writes a.
    with pytest.raises(CyclicError) as excinfo:
        graph.check_acyclic([b], [a], via="step:cp b a")
    lines = str(excinfo.value).splitlines()
    assert lines[0] == "New relation introduces cyclic dependency:"
    assert [line.strip() for line in lines[1:]] == [
        "file:a",
        "step:cp a b",
        "file:b",
        "step:cp b a",
        "file:a",
    ]


def test_check_acyclic_accepts_dag(graph, new_file, new_step):
    a = graph.add(new_file("a", FileState.STATIC), graph.root)
    step = graph.add(new_step("cp a b"), graph.root)
    b = graph.add(new_file("b"), step)
    graph.add_supplier(a, step)
    graph.add_supplier(step, b)
    c = graph.add(new_file("c"), graph.root)
    graph.check_acyclic([b], [c])
    graph.check_acyclic([a], [b])
    graph.check_acyclic([], [a])
    graph.check_acyclic([b], [])


def test_check_acyclic_long_chain(graph, new_file):
    """A chain far deeper than the recursion limit is searched iteratively."""
    length = 20_000
    nodes = [graph.add(new_file(f"f{i}"), graph.root) for i in range(length)]
    for supplier, consumer in itertools.pairwise(nodes):
        graph.add_supplier(supplier, consumer)
    # Closing the chain into a loop is refused and the whole loop is listed.
    with pytest.raises(CyclicError) as excinfo:
        graph.check_acyclic([nodes[-1]], [nodes[0]])
    lines = str(excinfo.value).splitlines()[1:]
    assert len(lines) == length + 1
    assert lines[0].strip() == "file:f0"
    assert lines[-2].strip() == f"file:f{length - 1}"
    assert lines[-1].strip() == "file:f0"
    # Extending the chain is fine.
    tail = graph.add(new_file("tail"), graph.root)
    graph.check_acyclic([nodes[-1]], [tail])
    graph.check_acyclic([tail], [nodes[0]])
