"""The workflow dump ``.stepup/workflow.mpk.xz``: msgpack in xz, written atomically.

Layout (version 1)::

    {"format": "stepup-trio-workflow", "version": 1,
     "kinds": {kind: kind_version, ...},
     "nodes": [[kind, fields], ...],          # in graph order; fields from the kind's converter
     "creators": [index, ...],                # creator of each node, by position in "nodes"
     "suppliers": [[supplier, consumer], ...]}

The node fields are produced by a cattrs converter built from the node-kind plugins, so a
third-party kind is stored like a built-in one.
"""

import contextlib
import functools
import gc
import lzma
import os
import tempfile
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
import msgpack
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from stepup_trio.convert import make_converter, pack, unpack
from stepup_trio.core.graph import Graph
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import DumpError
from stepup_trio.plugin_api import Node

__all__ = [
    "DUMP_FORMAT",
    "DUMP_VERSION",
    "dump_workflow",
    "encode",
    "load_workflow",
    "new_dump_id",
    "read_dump",
    "read_dump_raw",
    "write_atomic",
    "write_encoded",
]

DUMP_FORMAT = "stepup-trio-workflow"
DUMP_VERSION = 1
#: A fast xz preset: the dump is written after every run phase.
XZ_PRESET = 1


def node_converter(kinds: Mapping[str, type[Node]]) -> cattrs.Converter:
    """A converter that knows the data fields (not the relations) of every node kind.

    Made once per set of kinds: cattrs generates code for each class, which takes time.
    """
    return _node_converter(tuple(sorted(kinds.items())))


@functools.cache
def _node_converter(kinds: tuple[tuple[str, type[Node]], ...]) -> cattrs.Converter:
    converter = make_converter(compact=True)
    for _name, cls in kinds:
        omit = {
            field.name: override(omit=True)
            for field in attrs.fields(cls)
            if field.metadata.get("relation")
        }
        converter.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **omit)
        )
        converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **omit))
    return converter


def write_atomic(path: str, data: bytes) -> None:
    """Write a file through a temporary file in the same directory and a rename."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        # mkstemp creates the file with mode 0600; give it the usual mode for new files.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _gc_paused():
    """Building or reading millions of small objects next to a large graph makes Python's
    collector scan the graph over and over; it has nothing to free here."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def new_dump_id() -> str:
    """A fresh identity for a dump: the journal written after it names it as its base."""
    return uuid.uuid4().hex


def serialize(workflow: Workflow, dump_id: str | None = None) -> bytes:
    """The compressed dump of a workflow."""
    return lzma.compress(encode(workflow, dump_id), preset=XZ_PRESET)


def encode(workflow: Workflow, dump_id: str | None = None) -> bytes:
    """The dump's msgpack document, before compression."""
    with _gc_paused():
        return _encode(workflow, dump_id)


def _encode(workflow: Workflow, dump_id: str | None) -> bytes:
    converter = node_converter(workflow.kinds)
    graph = workflow.graph
    index = {node: i for i, node in enumerate(graph)}
    nodes = []
    creators = []
    suppliers = []
    for node in graph:
        nodes.append([node.kind, converter.unstructure(node, type(node))])
        creators.append(index[node.creator])
        suppliers.extend([index[supplier], index[node]] for supplier in node.suppliers)
    used_kinds = {kind for kind, _ in nodes}
    document = {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "id": dump_id or new_dump_id(),
        "kinds": {name: workflow.kinds[name].version for name in sorted(used_kinds)},
        "nodes": nodes,
        "creators": creators,
        "suppliers": sorted(suppliers),
    }
    return pack(document)


def dump_workflow(workflow: Workflow, path: str, dump_id: str | None = None) -> None:
    """Write the workflow atomically: a crash leaves the previous dump intact."""
    write_atomic(path, serialize(workflow, dump_id))


def write_encoded(path: str, raw: bytes) -> None:
    """Compress an encoded document and write it atomically (blocking: run it in a thread)."""
    write_atomic(path, lzma.compress(raw, preset=XZ_PRESET))


def deserialize(data: bytes, kinds: Mapping[str, type[Node]]) -> Workflow:
    """Rebuild a workflow from a dump; any problem becomes a :class:`DumpError`."""
    return deserialize_with_id(data, kinds)[0]


def deserialize_with_id(data: bytes, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str]:
    """Rebuild a workflow and return it with the dump's identity."""
    return decode(_decompress(data), kinds)


def _decompress(data: bytes) -> bytes:
    try:
        return lzma.decompress(data)
    except (lzma.LZMAError, ValueError) as exc:
        raise DumpError(f"The file is not a readable workflow dump ({exc}).") from None


def decode(raw: bytes, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str]:
    """Rebuild a workflow from the uncompressed document, with the dump's identity."""
    with _gc_paused():
        return _decode(raw, kinds)


def _decode(raw: bytes, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str]:
    try:
        document = unpack(raw)
    except (lzma.LZMAError, ValueError, msgpack.UnpackException) as exc:
        raise DumpError(f"The file is not a readable workflow dump ({exc}).") from None
    if not isinstance(document, dict) or document.get("format") != DUMP_FORMAT:
        raise DumpError("The file is not a stepup-trio workflow dump.")
    if document.get("version") != DUMP_VERSION:
        raise DumpError(
            f"The dump has format version {document.get('version')!r}; "
            f"this stepup-trio reads version {DUMP_VERSION}."
        )
    try:
        return _rebuild(document, kinds), str(document.get("id", ""))
    except DumpError:
        raise
    except Exception as exc:
        raise DumpError(f"The workflow dump is inconsistent ({exc!r}).") from None


def _rebuild(document: dict[str, Any], kinds: Mapping[str, type[Node]]) -> Workflow:
    for name, version in document["kinds"].items():
        if name not in kinds:
            raise DumpError(
                f"The dump contains nodes of kind {name!r}, whose plugin is not installed."
            )
        if kinds[name].version != version:
            raise DumpError(
                f"The dump stores kind {name!r} in version {version}, "
                f"the installed plugin uses version {kinds[name].version}."
            )
    converter = node_converter(kinds)
    nodes = [converter.structure(fields, kinds[kind]) for kind, fields in document["nodes"]]
    if len(nodes) < 2 or nodes[0].kind != "root" or nodes[1].kind != "vacuum":
        raise DumpError("The dump does not start with the root and vacuum nodes.")
    graph = Graph()
    graph.add_root(nodes[0], nodes[1])
    for node, creator in zip(nodes, document["creators"], strict=True):
        if node.kind in ("root", "vacuum"):
            continue
        if node.key in graph:
            raise DumpError(f"The dump contains {node.key} twice.")
        graph.nodes[node.key] = node
        node.creator = nodes[creator]
        nodes[creator].products[node] = None
    for supplier, consumer in document["suppliers"]:
        graph.add_supplier(nodes[supplier], nodes[consumer])
    return Workflow(kinds, graph)


def load_workflow(path: str, kinds: Mapping[str, type[Node]]) -> Workflow:
    return read_dump(path, kinds)[0]


def read_dump(path: str, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str]:
    """Load a dump and return the workflow with the dump's identity."""
    return read_dump_raw(path, kinds)[:2]


def read_dump_raw(path: str, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str, bytes]:
    """Load a dump; also return its uncompressed document, to tell later if it changed."""
    with open(path, "rb") as fh:
        raw = _decompress(fh.read())
    workflow, dump_id = decode(raw, kinds)
    return workflow, dump_id, raw
