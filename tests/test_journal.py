"""The journal: events appended after a dump, read back after a crash and applied again."""

import os

import msgpack
import pytest

from stepup_trio.core.actions import DeclareStatic, DefineStep
from stepup_trio.core.events import (
    Aborted,
    Finished,
    Performed,
    Skipped,
    Started,
    apply_event,
)
from stepup_trio.core.states import FileState, StepState
from stepup_trio.core.stephash import compute_step_hash
from stepup_trio.core.workflow import Workflow
from stepup_trio.errors import GraphError
from stepup_trio.exporters.text import format_graph
from stepup_trio.hashing import DIR_DIGEST, FileHash
from stepup_trio.journal import (
    BUFFER_LIMIT,
    BUFFERED,
    JOURNAL_FORMAT,
    JOURNAL_VERSION,
    Journal,
    read_journal,
)
from stepup_trio.store import deserialize, serialize


def file_hash(seed: int, size: int = 10) -> FileHash:
    return FileHash(bytes([seed]) * 64, 0o100644, seed + 0.25, size, seed)


DIR = FileHash(DIR_DIGEST)
STATIC = DeclareStatic(["data.txt", "src/"])
COPY = DefineStep("cp data.txt out.txt", inp=["data.txt"], out=["out.txt"], env=["X"])
CAT = DefineStep("cat out.txt", inp=["out.txt"])
FALSE = DefineStep("false", workdir="src/", optional=False)
NESTED = DefineStep("./sub.py", out=["gen/"])

EVENTS = [
    Started("step:./plan.py"),
    Performed("step:./plan.py", STATIC),
    Performed("step:./plan.py", COPY),
    Finished(
        "step:./plan.py",
        True,
        {"plan.py": file_hash(1)},
        compute_step_hash("step:./plan.py", [("plan.py", file_hash(1))], {}, []),
    ),
    Started("step:cp data.txt out.txt"),
    Finished(
        "step:cp data.txt out.txt",
        True,
        {"data.txt": file_hash(2), "out.txt": file_hash(3)},
        compute_step_hash(
            "step:cp data.txt out.txt",
            [("data.txt", file_hash(2)), ("./", DIR)],
            {"X": None, "Y": ""},
            [("out.txt", file_hash(3))],
            extended=True,
        ),
    ),
    Finished("step:false", False, {}),
    Skipped("step:cat out.txt", {"out.txt": file_hash(3)}),
    Aborted("step:./sub.py"),
]


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "journal.mpk")


def write_journal(path: str, base: str | None, events) -> list[int]:
    """Write a journal; returns the file size after the header and after each event."""
    journal = Journal(path, base)
    sizes = [os.path.getsize(path)]
    for event in events:
        journal.append(event)
        journal.flush()
        sizes.append(os.path.getsize(path))
    journal.close()
    return sizes


# Writing and reading


def test_header(path):
    Journal(path, "abc").close()
    with open(path, "rb") as fh:
        records = list(msgpack.Unpacker(fh, raw=False))
    assert records == [{"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "base": "abc"}]


def test_records(path):
    write_journal(path, "abc", EVENTS[:2])
    with open(path, "rb") as fh:
        records = list(msgpack.Unpacker(fh, raw=False))
    assert len(records) == 3
    assert records[1] == {"event": "Started", "step": "step:./plan.py"}
    assert records[2]["event"] == "Performed"
    assert records[2]["action"]["action"] == "DeclareStatic"
    assert records[2]["action"]["paths"] == ["data.txt", "src/"]


def test_round_trip(path):
    write_journal(path, "abc", EVENTS)
    events = read_journal(path, "abc")
    assert events == EVENTS
    assert [type(event) for event in events] == [type(event) for event in EVENTS]
    assert type(events[2].action) is DefineStep
    assert events[5].step_hash.env == {"X": None, "Y": ""}
    assert events[5].step_hash.extended
    assert not events[3].step_hash.extended
    assert events[6].step_hash is None


def test_round_trip_without_base(path):
    write_journal(path, None, EVENTS)
    assert read_journal(path, None) == EVENTS
    assert read_journal(path, "abc") == []


def test_finished_work_is_written_at_once(path):
    """An event of finished work reaches the file at once, with every event before it; the
    others wait for the next one (a crash loses nothing that a new run would not find again)."""
    events = [*EVENTS, Started("step:cat out.txt")]
    journal = Journal(path, "abc")
    written = 0
    for index, event in enumerate(events):
        journal.append(event)
        if not isinstance(event, BUFFERED):
            written = index + 1
        assert read_journal(path, "abc") == events[:written]
    assert written == len(events) - 1  # The last event is buffered ...
    journal.close()
    assert read_journal(path, "abc") == events  # ... until the journal is closed.


def test_flush_writes_buffered_events(path):
    journal = Journal(path, "abc")
    journal.append(EVENTS[0])
    assert read_journal(path, "abc") == []
    journal.flush()
    assert read_journal(path, "abc") == EVENTS[:1]
    journal.close()


def test_large_buffer_is_written(path):
    """Buffered events do not pile up without bound."""
    journal = Journal(path, "abc")
    started = Started("step:" + "x" * 1000)
    count = BUFFER_LIMIT // 1000 + 2
    for _ in range(count):
        journal.append(started)
    assert 0 < len(read_journal(path, "abc")) < count
    journal.close()
    assert len(read_journal(path, "abc")) == count


def test_restart_and_discard_drop_buffered_events(path):
    """After a dump the buffered events are in the dump: they must not reach the new journal."""
    journal = Journal(path, "abc")
    journal.append(EVENTS[0])
    journal.restart("def")
    journal.close()
    assert read_journal(path, "def") == []
    journal = Journal(path, "abc")
    journal.append(EVENTS[0])
    journal.discard()
    assert not os.path.exists(path)


def test_other_base(path):
    write_journal(path, "abc", EVENTS)
    assert read_journal(path, "def") == []
    assert read_journal(path, None) == []


def test_missing_file(path):
    assert read_journal(path, "abc") == []


def test_directory(tmp_path):
    assert read_journal(str(tmp_path), "abc") == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world\n",
        b"\xc1\xc1\xc1\xc1",
        b"\x00" * 100,
        msgpack.packb([1, 2, 3]),
        msgpack.packb({"format": "something-else", "version": 1, "base": "abc"}),
        msgpack.packb({"format": JOURNAL_FORMAT, "version": 1, "base": "abc"}),
        msgpack.packb({"format": JOURNAL_FORMAT, "base": "abc"}),
        msgpack.packb({"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "base": "abc"})[:-2],
    ],
    ids=[
        "empty",
        "text",
        "invalid",
        "zeros",
        "list",
        "format",
        "version",
        "no-version",
        "torn-header",
    ],
)
def test_foreign_file(path, data):
    with open(path, "wb") as fh:
        fh.write(data)
        fh.write(msgpack.packb({"event": "Started", "step": "step:./plan.py"}))
    assert read_journal(path, "abc") == []


def test_foreign_compressed_file(path, workflow):
    with open(path, "wb") as fh:
        fh.write(serialize(workflow, "abc"))
    assert read_journal(path, "abc") == []


def test_header_only(path):
    Journal(path, "abc").close()
    assert read_journal(path, "abc") == []


@pytest.mark.parametrize("cut", [1, 2, 5, "half", "all-but-one"])
def test_torn_last_record(path, cut):
    sizes = write_journal(path, "abc", EVENTS)
    last = sizes[-1] - sizes[-2]
    cut = {"half": last // 2, "all-but-one": last - 1}.get(cut, cut)
    os.truncate(path, sizes[-1] - cut)
    assert read_journal(path, "abc") == EVENTS[:-1]


def test_torn_big_record(path):
    sizes = write_journal(path, "abc", EVENTS[:6])
    os.truncate(path, sizes[-1] - 3)
    assert read_journal(path, "abc") == EVENTS[:5]


def test_damaged_record_keeps_what_came_before(path):
    journal = Journal(path, "abc")
    journal.append(EVENTS[0])
    journal.append(EVENTS[1])
    journal.flush()
    with open(path, "ab") as fh:
        fh.write(msgpack.packb({"event": "Bogus", "step": "x"}))
    journal.append(EVENTS[2])
    journal.close()
    assert read_journal(path, "abc") == EVENTS[:2]


@pytest.mark.parametrize(
    "record",
    [
        {"event": "Started"},
        {"event": "Started", "step": 1},
        {"event": "Finished", "step": "s", "success": 1, "hashes": {}},
        {"event": "Skipped", "step": "s", "hashes": {"a": {"digest": "text"}}},
        {"event": "Performed", "creator": "s", "action": {"action": "Nothing"}},
        "Started",
        None,
    ],
)
def test_wrong_record_types(path, record):
    journal = Journal(path, "abc")
    journal.append(EVENTS[0])
    journal.flush()
    with open(path, "ab") as fh:
        fh.write(msgpack.packb(record))
    journal.close()
    assert read_journal(path, "abc") == EVENTS[:1]


def test_new_journal_replaces_old(path):
    write_journal(path, "abc", EVENTS)
    Journal(path, "def").close()
    assert read_journal(path, "abc") == []
    assert read_journal(path, "def") == []
    write_journal(path, "def", EVENTS[:1])
    assert read_journal(path, "def") == EVENTS[:1]


def test_discard(path):
    journal = Journal(path, "abc")
    journal.append(EVENTS[0])
    journal.discard()
    assert not os.path.exists(path)
    assert read_journal(path, "abc") == []
    # Harmless when repeated, or when appending afterwards.
    journal.discard()
    journal.append(EVENTS[1])
    assert not os.path.exists(path)


def test_discard_after_close_and_removal(path):
    journal = Journal(path, "abc")
    journal.close()
    os.remove(path)
    journal.discard()
    assert not os.path.exists(path)


# Applying events


def workflow_copy(workflow: Workflow, kinds) -> Workflow:
    return deserialize(serialize(workflow), kinds)


def hash_of(step, hashes, extended=False):
    inputs = [node for node in step.suppliers if node.kind == "file"]
    outputs = [node for node in step.consumers if node.kind == "file"]

    def pairs(nodes):
        return [(node.path, hashes.get(node.path) or node.hash or FileHash()) for node in nodes]

    env = {name: None for name in step.env_vars}
    return compute_step_hash(step.key, pairs(inputs), env, pairs(outputs), extended=extended)


class Recorder:
    """Drives a workflow as the director does, and keeps the events it would journal."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.events = []

    def start(self, key):
        step = self.workflow.graph.get(key)
        self.workflow.start(step)
        self.events.append(Started(key))

    def perform(self, key, action):
        self.workflow.perform(self.workflow.graph.get(key), action)
        self.events.append(Performed(key, action))

    def finish(self, key, success, hashes, extended=False):
        step = self.workflow.graph.get(key)
        step_hash = hash_of(step, hashes, extended) if success else None
        self.workflow.finish(step, success, hashes, step_hash)
        self.events.append(Finished(key, success, hashes, step_hash))

    def skip(self, key, hashes):
        self.workflow.skip(self.workflow.graph.get(key), hashes)
        self.events.append(Skipped(key, hashes))

    def abort(self, key):
        self.workflow.abort(self.workflow.graph.get(key))
        self.events.append(Aborted(key))


def first_run(recorder: Recorder) -> None:
    recorder.start("step:./plan.py")
    for action in STATIC, COPY, CAT, FALSE, NESTED:
        recorder.perform("step:./plan.py", action)
    recorder.finish("step:./plan.py", True, {"plan.py": file_hash(1)}, extended=True)
    recorder.start("step:cp data.txt out.txt")
    recorder.start("step:false  # wd=src/")
    recorder.start("step:./sub.py")
    recorder.perform("step:./sub.py", DefineStep("touch gen/x", out=["gen/x"]))
    recorder.finish(
        "step:cp data.txt out.txt", True, {"data.txt": file_hash(2), "out.txt": file_hash(3)}
    )
    recorder.finish("step:false  # wd=src/", False, {})
    recorder.start("step:cat out.txt")
    recorder.finish("step:./sub.py", True, {"gen/": DIR})
    recorder.start("step:touch gen/x")
    recorder.abort("step:touch gen/x")
    recorder.finish("step:cat out.txt", True, {"out.txt": file_hash(3)})


def details(workflow: Workflow) -> list:
    """What the text export leaves out: hashes in full and recordings."""
    return [
        (node.key, getattr(node, "hash", None), getattr(node, "recording", None))
        for node in workflow.graph
    ]


def assert_same(live: Workflow, replayed: Workflow) -> None:
    assert format_graph(replayed.graph) == format_graph(live.graph)
    assert details(replayed) == details(live)


def replay(workflow: Workflow, events) -> None:
    for event in events:
        apply_event(workflow, event)


def test_apply_events_first_run(workflow, kinds):
    copy = workflow_copy(workflow, kinds)
    recorder = Recorder(workflow)
    first_run(recorder)
    assert workflow.step("cat out.txt").state == StepState.SUCCEEDED
    assert workflow.step("touch gen/x").state == StepState.PENDING
    replay(copy, recorder.events)
    assert_same(workflow, copy)


def test_apply_events_through_journal_file(workflow, kinds, path):
    copy = workflow_copy(workflow, kinds)
    recorder = Recorder(workflow)
    first_run(recorder)
    write_journal(path, "base", recorder.events)
    events = read_journal(path, "base")
    assert events == recorder.events
    replay(copy, events)
    assert_same(workflow, copy)


def test_apply_events_partial(workflow, kinds, path):
    """A crash in the middle: the events so far rebuild the state at that moment."""
    copy = workflow_copy(workflow, kinds)
    recorder = Recorder(workflow)
    recorder.start("step:./plan.py")
    recorder.perform("step:./plan.py", STATIC)
    recorder.perform("step:./plan.py", COPY)
    recorder.finish("step:./plan.py", True, {"plan.py": file_hash(1)})
    recorder.start("step:cp data.txt out.txt")
    write_journal(path, "base", recorder.events)
    replay(copy, read_journal(path, "base"))
    assert_same(workflow, copy)
    assert copy.step("cp data.txt out.txt").state == StepState.RUNNING


def test_apply_events_restart_with_skips(workflow, kinds):
    """After a restart, skipped steps replay their recordings in both workflows."""
    first = Recorder(workflow)
    first_run(first)
    workflow.dissolve()
    workflow.define_boot()
    copy = workflow_copy(workflow, kinds)
    recorder = Recorder(workflow)
    recorder.skip("step:./plan.py", {"plan.py": file_hash(1)})
    recorder.skip("step:cp data.txt out.txt", {"data.txt": file_hash(2), "out.txt": file_hash(3)})
    recorder.skip("step:./sub.py", {"gen/": DIR})
    recorder.skip("step:cat out.txt", {"out.txt": file_hash(3)})
    recorder.start("step:false  # wd=src/")
    recorder.finish("step:false  # wd=src/", True, {})
    recorder.start("step:touch gen/x")
    recorder.perform("step:touch gen/x", DeclareStatic(["extra.txt"]))
    recorder.finish("step:touch gen/x", True, {"gen/x": file_hash(4)})
    assert workflow.pending_steps() == []
    assert workflow.file("out.txt").state == FileState.BUILT
    replay(copy, recorder.events)
    assert_same(workflow, copy)
    assert copy.clean() == workflow.clean() == []


def test_apply_events_after_dump_of_dissolved_workflow(workflow, kinds, path):
    """The situation of a recovery: load the dump, dissolve, boot, replay the journal."""
    first_run(Recorder(workflow))
    workflow.dissolve()
    workflow.define_boot()
    data = serialize(workflow)
    recorder = Recorder(workflow)
    recorder.skip("step:./plan.py", {"plan.py": file_hash(1)})
    recorder.start("step:cp data.txt out.txt")
    recorder.finish(
        "step:cp data.txt out.txt", True, {"data.txt": file_hash(5), "out.txt": file_hash(6)}
    )
    write_journal(path, "base", recorder.events)
    loaded = deserialize(data, kinds)
    loaded.dissolve()
    loaded.define_boot()
    replay(loaded, read_journal(path, "base"))
    assert_same(workflow, loaded)


@pytest.mark.parametrize(
    "event",
    [
        Started("step:nope"),
        Performed("step:nope", STATIC),
        Finished("step:nope", True, {}),
        Skipped("step:nope", {}),
        Aborted("step:nope"),
        Started("file:plan.py"),
        Performed("root:", STATIC),
        Started("nope"),
    ],
)
def test_apply_event_unknown_step(workflow, event):
    before = format_graph(workflow.graph)
    with pytest.raises(GraphError, match="unknown step"):
        apply_event(workflow, event)
    assert format_graph(workflow.graph) == before


def test_apply_event_refused_action(workflow):
    apply_event(workflow, Started("step:./plan.py"))
    apply_event(workflow, Performed("step:./plan.py", STATIC))
    with pytest.raises(GraphError):
        apply_event(workflow, Performed("step:./plan.py", STATIC))


def test_round_trip_env_value_not_utf8(path):
    value = os.fsdecode(b"\xff")  # How os.environ shows a byte that is not UTF-8.
    step_hash = compute_step_hash("step:echo", [], {"MYVAR": value}, [], extended=True)
    event = Finished("step:echo", True, {}, step_hash)
    journal = Journal(path, "abc")
    journal.append(event)
    journal.close()
    assert read_journal(path, "abc") == [event]
