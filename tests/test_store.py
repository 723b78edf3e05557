"""The workflow dump: round trip, refusal of bad files, atomic writes."""

import lzma
import os
import stat

import attrs
import msgpack
import pytest

from stepup_trio import store
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import DumpError
from stepup_trio.exporters.text import format_graph
from stepup_trio.hashing import DIR_DIGEST, FileHash
from stepup_trio.plugin_api import Node
from stepup_trio.store import (
    DUMP_FORMAT,
    DUMP_VERSION,
    deserialize,
    deserialize_with_id,
    dump_workflow,
    encode,
    load_dump,
    load_workflow,
    read_dump_raw,
    serialize,
    write_atomic,
)


def build(kinds) -> Workflow:
    """A workflow with every kind, state and relation: built, pending, failed, orphan."""
    workflow = Workflow.boot(kinds)
    plan = workflow.pop_queued()
    workflow.start(plan)
    workflow.declare_static(plan, ["data/", "data/in.txt"])
    make = workflow.define_step(
        plan, "cp data/in.txt out/a.txt", inp=["data/in.txt"], out=["out/a.txt"], env=["B", "A"]
    )
    workflow.define_pool(plan, "io", 1)
    workflow.define_step(plan, "mkdir out", out=["out/"], pool="io")
    workflow.define_step(plan, "cat out/a.txt", workdir="out/", inp=["a.txt"], optional=True)
    workflow.define_step(plan, "wait", block=True, inp=["unknown.txt"])
    failing = workflow.define_step(plan, "false")
    mkdir = workflow.pop_queued()
    assert mkdir.command == "mkdir out"
    workflow.start(mkdir)
    workflow.finish(mkdir, True, {"out/": FileHash(DIR_DIGEST)})
    assert workflow.pop_queued() is failing
    workflow.start(failing)
    workflow.finish(failing, False, {})
    assert workflow.pop_queued() is make
    workflow.start(make)
    workflow.finish(
        make,
        True,
        {
            "data/in.txt": FileHash(bytes(range(64)), 0o100644, 1234.5, 64, 77),
            "out/a.txt": FileHash(bytes(range(1, 65)), 0o100600, 1235.25, 64, 78),
        },
    )
    sub = workflow.define_step(plan, "./sub.py", out=["sub.txt"])
    workflow.define_step(sub, "touch gone.txt", out=["gone.txt"])
    workflow.graph.orphan(sub)
    return workflow


def data_fields(node: Node) -> dict:
    return {
        field.name: getattr(node, field.name)
        for field in attrs.fields(type(node))
        if not field.metadata.get("relation")
    }


def describe(workflow: Workflow) -> list:
    """Everything the dump must keep, by key."""
    return [
        (
            node.key,
            type(node),
            data_fields(node),
            node.creator.key,
            sorted(other.key for other in node.products),
            sorted(other.key for other in node.suppliers),
            sorted(other.key for other in node.consumers),
        )
        for node in workflow.graph
    ]


def pack(document) -> bytes:
    return lzma.compress(msgpack.packb(document, use_bin_type=True))


def unpack(data: bytes):
    return msgpack.unpackb(lzma.decompress(data), raw=False, strict_map_key=False)


@pytest.fixture
def original(kinds):
    return build(kinds)


# Round trip


def test_round_trip(original, kinds):
    loaded = deserialize(serialize(original), kinds)
    assert format_graph(loaded.graph) == format_graph(original.graph)
    assert describe(loaded) == describe(original)
    assert [node.key for node in loaded.graph] == [node.key for node in original.graph]
    assert loaded.graph.root.kind == "root"
    assert loaded.graph.vacuum.kind == "vacuum"
    assert loaded.kinds is kinds
    # Loaded objects are new ones, and the copy is complete.
    for old, new in zip(original.graph, loaded.graph, strict=True):
        assert old is not new
    story = loaded.file("out/a.txt")
    assert story.hash == FileHash(bytes(range(1, 65)), 0o100600, 1235.25, 64, 78)
    assert story.hash.mtime == 1235.25
    assert loaded.step("false").state.name == "FAILED"
    assert loaded.step("./sub.py").orphan
    assert loaded.file("gone.txt").orphan
    assert loaded.step("cp data/in.txt out/a.txt").env_vars == ("A", "B")


def test_round_trip_twice(original, kinds):
    data = serialize(original, "some-id")
    loaded, dump_id = deserialize_with_id(data, kinds)
    assert dump_id == "some-id"
    assert serialize(loaded, dump_id) == data


def test_each_dump_has_a_new_identity(original, kinds):
    first = deserialize_with_id(serialize(original), kinds)[1]
    second = deserialize_with_id(serialize(original), kinds)[1]
    assert len(first) == 32
    assert first != second


def test_round_trip_boot(workflow, kinds):
    loaded = deserialize(serialize(workflow), kinds)
    assert describe(loaded) == describe(workflow)


def test_dump_and_load_file(original, kinds, tmp_path):
    path = str(tmp_path / "workflow.mpk.xz")
    dump_workflow(original, path)
    loaded = load_workflow(path, kinds)
    assert format_graph(loaded.graph) == format_graph(original.graph)
    assert os.listdir(tmp_path) == ["workflow.mpk.xz"]


def test_layout(original):
    document = unpack(serialize(original))
    assert document["format"] == DUMP_FORMAT
    assert document["version"] == DUMP_VERSION
    assert document["kinds"] == {"file": 1, "root": 1, "step": 1, "vacuum": 1}
    assert [kind for kind, _ in document["nodes"][:2]] == ["root", "vacuum"]
    assert len(document["nodes"]) == len(document["creators"]) == len(original.graph)
    # Per node: the number of suppliers, then their indices in ascending order.
    suppliers = document["suppliers"]
    position = 0
    for node in original.graph:
        count = suppliers[position]
        indices = suppliers[position + 1 : position + 1 + count]
        assert indices == sorted(indices)
        assert len(indices) == len(node.suppliers)
        position += 1 + count
    assert position == len(suppliers)
    assert list(document) == ["format", "version", "id", "kinds", "nodes", "creators", "suppliers"]


# Bad files


def test_random_bytes(kinds):
    with pytest.raises(DumpError, match="not a readable workflow dump"):
        deserialize(os.urandom(1000), kinds)


def test_empty(kinds):
    with pytest.raises(DumpError, match="not a readable workflow dump"):
        deserialize(b"", kinds)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated(original, kinds, fraction):
    data = serialize(original)
    with pytest.raises(DumpError):
        deserialize(data[: int(len(data) * fraction)], kinds)


def test_truncated_file(original, kinds, tmp_path):
    path = tmp_path / "workflow.mpk.xz"
    dump_workflow(original, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])
    with pytest.raises(DumpError):
        load_workflow(str(path), kinds)


def test_empty_file(kinds, tmp_path):
    path = tmp_path / "workflow.mpk.xz"
    path.write_bytes(b"")
    with pytest.raises(DumpError):
        load_workflow(str(path), kinds)


def test_xz_of_garbage(kinds):
    with pytest.raises(DumpError, match="not a readable workflow dump"):
        deserialize(lzma.compress(b"\xc1\xc1\xc1"), kinds)


@pytest.mark.parametrize("document", [[1, 2, 3], "text", 42, None, {}])
def test_not_a_document(kinds, document):
    with pytest.raises(DumpError, match="not a stepup-trio workflow dump"):
        deserialize(pack(document), kinds)


def test_wrong_format(original, kinds):
    document = unpack(serialize(original))
    document["format"] = "stepup-workflow"
    with pytest.raises(DumpError, match="not a stepup-trio workflow dump"):
        deserialize(pack(document), kinds)


@pytest.mark.parametrize("version", [0, 1, 3, "2", None])
def test_wrong_version(original, kinds, version):
    document = unpack(serialize(original))
    document["version"] = version
    with pytest.raises(DumpError, match="format version") as excinfo:
        deserialize(pack(document), kinds)
    assert repr(version) in str(excinfo.value)


def test_missing_version(original, kinds):
    document = unpack(serialize(original))
    del document["version"]
    with pytest.raises(DumpError, match="format version"):
        deserialize(pack(document), kinds)


def test_unknown_kind(original, kinds):
    document = unpack(serialize(original))
    document["kinds"]["bogus"] = 1
    document["nodes"].append(["bogus", {}])
    document["creators"].append(0)
    document["suppliers"].append(0)
    with pytest.raises(DumpError, match="kind 'bogus', whose plugin is not installed"):
        deserialize(pack(document), kinds)


def test_node_of_unlisted_kind(original, kinds):
    document = unpack(serialize(original))
    document["nodes"].append(["bogus", {}])
    document["creators"].append(0)
    document["suppliers"].append(0)
    with pytest.raises(DumpError, match="inconsistent"):
        deserialize(pack(document), kinds)


def test_wrong_kind_version(original, kinds):
    document = unpack(serialize(original))
    document["kinds"]["step"] = 2
    with pytest.raises(DumpError, match="kind 'step' in version 2"):
        deserialize(pack(document), kinds)


def _first_supplier(suppliers: list[int]) -> int:
    """The position of the first supplier index in the flat list (after its count)."""
    position = 0
    while suppliers[position] == 0:
        position += 1
    return position + 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: doc.pop("nodes"),
        lambda doc: doc.pop("creators"),
        lambda doc: doc["creators"].pop(),
        lambda doc: doc["suppliers"].extend([1, 0]),
        lambda doc: doc["suppliers"].__setitem__(_first_supplier(doc["suppliers"]), 999),
        lambda doc: doc["suppliers"].pop(),
        lambda doc: doc["nodes"][2][1].pop("path"),
        lambda doc: doc["nodes"][2][1].update(state=99),
        lambda doc: doc["nodes"].append(doc["nodes"][2]) or doc["creators"].append(0),
        lambda doc: doc["nodes"].pop(0),
    ],
    ids=[
        "no-nodes",
        "no-creators",
        "short-creators",
        "extra-suppliers",
        "unknown-supplier",
        "short-suppliers",
        "missing-field",
        "bad-state",
        "duplicate-node",
        "no-root",
    ],
)
def test_inconsistent(original, kinds, damage):
    document = unpack(serialize(original))
    damage(document)
    with pytest.raises(DumpError):
        deserialize(pack(document), kinds)


def test_unused_kind_not_required(original, kinds):
    @attrs.define(eq=False, repr=False)
    class ExtraNode(Node):
        kind = "extra"

        @property
        def local_key(self) -> str:
            return ""

    with_extra = Workflow({**kinds, "extra": ExtraNode}, original.graph)
    data = serialize(with_extra)
    assert not any(node.kind == "extra" for node in original.graph)
    loaded = deserialize(data, kinds)
    assert format_graph(loaded.graph) == format_graph(original.graph)


# Atomic writes


@pytest.fixture
def umask():
    """Set a umask for one test and restore the old one afterwards."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_write_atomic_mode(tmp_path, umask, mask, mode):
    umask(mask)
    path = tmp_path / "dump.bin"
    write_atomic(str(path), b"content")
    assert path.read_bytes() == b"content"
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert os.listdir(tmp_path) == ["dump.bin"]


def test_write_atomic_replaces(tmp_path, umask):
    path = tmp_path / "dump.bin"
    path.write_bytes(b"old content that is longer")
    write_atomic(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["dump.bin"]


def test_write_atomic_failure_leaves_old_file(tmp_path, umask):
    path = tmp_path / "dump.bin"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(str(path), "not bytes")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["dump.bin"]


def test_write_atomic_relative_path(tmp_path, umask, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_atomic("dump.bin", b"x")
    assert (tmp_path / "dump.bin").read_bytes() == b"x"
    assert os.listdir(tmp_path) == ["dump.bin"]


# Loading with the decompression in the background (the director's way)


@pytest.mark.parametrize("chunk_size", [1 << 20, 7])
async def test_load_dump_gives_what_read_dump_raw_gives(
    original, kinds, tmp_path, monkeypatch, chunk_size
):
    monkeypatch.setattr(store, "CHUNK_SIZE", chunk_size)
    path = str(tmp_path / "workflow.mpk.xz")
    dump_workflow(original, path, "the-id")
    workflow, dump_id, raw = await load_dump(path, kinds)
    assert dump_id == "the-id"
    assert raw == encode(original, "the-id")
    assert read_dump_raw(path, kinds)[1:] == (dump_id, raw)
    assert format_graph(workflow.graph) == format_graph(original.graph)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a readable workflow dump"),
        (b"hello", "not a readable workflow dump"),
        (lzma.compress(b"\xc1\xc1"), "not a readable workflow dump"),
        (lzma.compress(msgpack.packb([1, 2])), "not a stepup-trio workflow dump"),
        ("truncated", "not a readable workflow dump"),
        ("trailing", "not a readable workflow dump"),
        ("extra-document", "not a readable workflow dump"),
    ],
)
async def test_load_dump_refuses_bad_files(original, kinds, tmp_path, monkeypatch, data, message):
    monkeypatch.setattr(store, "CHUNK_SIZE", 64)
    good = serialize(original)
    data = {
        "truncated": good[: len(good) // 2],
        "trailing": good + b"junk",
        "extra-document": lzma.compress(encode(original) + msgpack.packb(1)),
    }.get(data, data)
    path = tmp_path / "workflow.mpk.xz"
    path.write_bytes(data)
    with pytest.raises(DumpError, match=message):
        await load_dump(str(path), kinds)
