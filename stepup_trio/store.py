"""The workflow dump ``.stepup/workflow.mpk.xz``: msgpack in xz, written atomically.

Layout (version 2)::

    {"format": "stepup-trio-workflow", "version": 2, "id": dump_id,
     "kinds": {kind: kind_version, ...},
     "nodes": [[kind, fields], ...],          # in graph order; fields from the kind's converter
     "creators": [index, ...],                # creator of each node, by position in "nodes"
     "suppliers": [count, index, ..., ...]}   # per node: how many suppliers, then their indices

The node fields are produced by a cattrs converter built from the node-kind plugins, so a
third-party kind is stored like a built-in one. The keys come in this order, so that a reader
can check the kinds before it reads the nodes, and structure each node as it reads it: the
whole document never has to exist as Python objects at once.
"""

import contextlib
import functools
import lzma
import os
import queue
import tempfile
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
import msgpack
import trio
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from stepup_trio import collector
from stepup_trio.convert import make_converter, pack, unpacker
from stepup_trio.core.graph import Graph
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import DumpError
from stepup_trio.plugin_api import Node

__all__ = [
    "DUMP_FORMAT",
    "DUMP_VERSION",
    "dump_workflow",
    "encode",
    "load_dump",
    "load_workflow",
    "new_dump_id",
    "read_dump",
    "read_dump_raw",
    "write_atomic",
    "write_encoded",
]

DUMP_FORMAT = "stepup-trio-workflow"
# Version 2: suppliers as flat lists of indices, nodes read as a stream.
DUMP_VERSION = 2
#: The fastest xz preset: the dump is written at the end of every run phase, when nothing
#: else is left to do, and it is mostly digests, which do not compress. Preset 0 writes the
#: 5,000-step benchmark dump in 0.15 s instead of 0.20 s (preset 1), 5% larger.
XZ_PRESET = 0


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


def new_dump_id() -> str:
    """A fresh identity for a dump: the journal written after it names it as its base."""
    return uuid.uuid4().hex


def serialize(workflow: Workflow, dump_id: str | None = None) -> bytes:
    """The compressed dump of a workflow."""
    return lzma.compress(encode(workflow, dump_id), preset=XZ_PRESET)


def encode(workflow: Workflow, dump_id: str | None = None) -> bytes:
    """The dump's msgpack document, before compression."""
    with collector.paused():
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
        suppliers.append(len(node.suppliers))
        suppliers.extend(sorted(index[supplier] for supplier in node.suppliers))
    used_kinds = {kind for kind, _ in nodes}
    document = {
        "format": DUMP_FORMAT,
        "version": DUMP_VERSION,
        "id": dump_id or new_dump_id(),
        "kinds": {name: workflow.kinds[name].version for name in sorted(used_kinds)},
        "nodes": nodes,
        "creators": creators,
        "suppliers": suppliers,
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
    # No size limits: the document is our own, and large workflows have large dumps.
    stream = unpacker(max_buffer_size=0)
    stream.feed(raw)
    with collector.paused():
        return _decode(stream, raw[:1], len(raw), kinds)


def _decode(
    stream: msgpack.Unpacker, first: bytes, size: int | None, kinds: Mapping[str, type[Node]]
) -> tuple[Workflow, str]:
    """Read the document from ``stream``; ``first`` is its first byte and ``size`` its length
    (None: the stream knows where it ends)."""
    if first and not (0x80 <= first[0] <= 0x8F or first[0] in (0xDE, 0xDF)):
        # Not a map: valid msgpack of another type, or no msgpack at all?
        try:
            stream.unpack()
        except (ValueError, msgpack.UnpackException, msgpack.OutOfData) as exc:
            raise DumpError(f"The file is not a readable workflow dump ({exc}).") from None
        raise DumpError("The file is not a stepup-trio workflow dump.")
    try:
        document, nodes = _read_document(stream, kinds)
        if size is not None and stream.tell() != size:
            raise ValueError("data after the end of the document")
        if size is None and _has_more(stream):
            raise ValueError("data after the end of the document")
    except (ValueError, msgpack.UnpackException, msgpack.OutOfData, lzma.LZMAError) as exc:
        raise DumpError(f"The file is not a readable workflow dump ({exc}).") from None
    try:
        return _rebuild(document, nodes, kinds), str(document.get("id", ""))
    except DumpError:
        raise
    except Exception as exc:
        raise DumpError(f"The workflow dump is inconsistent ({exc!r}).") from None


def _has_more(stream: msgpack.Unpacker) -> bool:
    try:
        stream.skip()
    except msgpack.OutOfData:
        return False
    return True


def _read_document(
    stream: msgpack.Unpacker, kinds: Mapping[str, type[Node]]
) -> tuple[dict[str, Any], list[Node]]:
    """The document's entries, and its nodes structured one by one as they are read."""
    try:
        count = stream.read_map_header()
    except msgpack.UnpackValueError:
        raise DumpError("The file is not a stepup-trio workflow dump.") from None
    document: dict[str, Any] = {}
    nodes: list[Node] = []
    for _ in range(count):
        key = stream.unpack()
        if key != "nodes":
            document[key] = stream.unpack()
            continue
        _check_header(document, kinds)
        converter = node_converter(kinds)
        for _ in range(stream.read_array_header()):
            kind, fields = stream.unpack()
            try:
                nodes.append(converter.structure(fields, kinds[kind]))
            except Exception as exc:
                raise DumpError(f"The workflow dump is inconsistent ({exc!r}).") from None
        document["nodes"] = True
    _check_header(document, kinds)
    return document, nodes


def _check_header(document: dict[str, Any], kinds: Mapping[str, type[Node]]) -> None:
    if document.get("format") != DUMP_FORMAT:
        raise DumpError("The file is not a stepup-trio workflow dump.")
    if document.get("version") != DUMP_VERSION:
        raise DumpError(
            f"The dump has format version {document.get('version')!r}; "
            f"this stepup-trio reads version {DUMP_VERSION}."
        )
    if not isinstance(document.get("kinds"), dict):
        raise DumpError("The workflow dump is inconsistent (it does not list its node kinds).")
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


def _rebuild(
    document: dict[str, Any], nodes: list[Node], kinds: Mapping[str, type[Node]]
) -> Workflow:
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
    suppliers = document["suppliers"]
    position = 0
    for node in nodes:
        count = suppliers[position]
        for supplier in suppliers[position + 1 : position + 1 + count]:
            graph.add_supplier(nodes[supplier], node)
        position += 1 + count
    if position != len(suppliers):
        raise DumpError("The workflow dump is inconsistent (its suppliers do not add up).")
    return Workflow(kinds, graph)


def load_workflow(path: str, kinds: Mapping[str, type[Node]]) -> Workflow:
    return read_dump(path, kinds)[0]


def read_dump(path: str, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str]:
    """Load a dump and return the workflow with the dump's identity."""
    return read_dump_raw(path, kinds)[:2]


def read_dump_raw(path: str, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str, bytes]:
    """Load a dump; also return its uncompressed document, to tell later if it changed."""
    raw = _decompress(_read_bytes(path))
    workflow, dump_id = decode(raw, kinds)
    return workflow, dump_id, raw


#: Bytes decompressed at a time when a dump is read in the background.
CHUNK_SIZE = 1 << 20


async def load_dump(path: str, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str, bytes]:
    """As :func:`read_dump_raw`, with the decompression overlapping the reading of the nodes.

    xz decompression does not hold the GIL, so one worker thread decompresses chunks while
    another builds the nodes from the chunks already there: a large dump loads in about the
    time of the slower of the two, not of both.
    """
    data = await trio.to_thread.run_sync(_read_bytes, path)
    chunks: queue.SimpleQueue[bytes | BaseException | None] = queue.SimpleQueue()
    reader = _ChunkReader(chunks)
    problem = None
    async with trio.open_nursery() as nursery:
        # The decompressor reports its errors through the queue: it does not raise.
        nursery.start_soon(trio.to_thread.run_sync, _decompress_chunks, data, chunks)
        try:
            workflow, dump_id = await trio.to_thread.run_sync(_decode_chunks, reader, kinds)
        except DumpError as exc:
            problem = exc  # Raised outside the nursery: not wrapped in an exception group.
    if problem is not None:
        raise problem
    return workflow, dump_id, b"".join(reader.parts)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _decompress_chunks(data: bytes, chunks: queue.SimpleQueue) -> None:
    """Put the decompressed chunks of ``data`` on the queue, then None (or the error)."""
    try:
        decompressor = lzma.LZMADecompressor()
        view = memoryview(data)
        for start in range(0, len(data), CHUNK_SIZE):
            chunks.put(decompressor.decompress(view[start : start + CHUNK_SIZE]))
            while not decompressor.needs_input and not decompressor.eof:
                chunks.put(decompressor.decompress(b""))
        if not decompressor.eof:
            raise lzma.LZMAError("Compressed data ended before the end-of-stream marker")
        if decompressor.unused_data:
            raise lzma.LZMAError("Data after the end of the compressed stream")
    except (lzma.LZMAError, ValueError) as exc:
        chunks.put(DumpError(f"The file is not a readable workflow dump ({exc})."))
        return
    chunks.put(None)


class _ChunkReader:
    """A file-like ``read`` for msgpack that takes the chunks from the queue as they come."""

    def __init__(self, chunks: queue.SimpleQueue) -> None:
        self.chunks = chunks
        self.parts: list[bytes] = []
        self.done = False
        self._peeked: bytes | None = None

    def peek(self) -> bytes:
        """The next chunk, which the next ``read`` returns again."""
        if self._peeked is None:
            self._peeked = self.read()
        return self._peeked

    def read(self, _size: int = -1) -> bytes:
        if self._peeked is not None:
            chunk, self._peeked = self._peeked, None
            return chunk
        while not self.done:
            item = self.chunks.get()
            if item is None:
                self.done = True
            elif isinstance(item, BaseException):
                self.done = True
                raise item
            elif item:
                self.parts.append(item)
                return item
        return b""


def _decode_chunks(reader: _ChunkReader, kinds: Mapping[str, type[Node]]) -> tuple[Workflow, str]:
    first = reader.peek()[:1]
    stream = unpacker(max_buffer_size=0, file_like=reader, read_size=CHUNK_SIZE)
    with collector.paused():
        return _decode(stream, first, None, kinds)
