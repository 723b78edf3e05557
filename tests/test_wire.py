"""Messages between processes: msgpack envelopes, structured and validated by cattrs."""

import pytest

from stepup_trio import wire
from stepup_trio.core.actions import DeclareStatic, DefineStep
from stepup_trio.hashing import DIR_DIGEST, FileHash
from stepup_trio.wire import WireError, decode, encode, encode_reply, new_unpacker

MESSAGES = [
    wire.Perform("step:./plan.py", DefineStep("touch a")),
    wire.Perform(
        "step:./plan.py",
        DefineStep(
            command="cp a b",
            workdir="sub/",
            inp=["a", "c/"],
            out=["b"],
            env=["HOME", "X"],
            optional=True,
            pool="io",
            block=True,
        ),
    ),
    wire.Perform("step:./plan.py", DeclareStatic(["data/", "data/in.txt"])),
    wire.Perform("step:./plan.py", DeclareStatic([])),
    wire.WriteGraph("graph"),
    wire.RunJob(
        key="step:cp a b",
        command="cp a b",
        workdir="./",
        env={"HOME": "/home/me", "EMPTY": ""},
        inputs=["a"],
        outputs=["b"],
    ),
    wire.JobFinished(returncode=None),
    wire.JobFinished(
        returncode=1,
        stdout=b"out \xff\x00",
        stderr="é".encode(),
        hashes={
            "a": FileHash(bytes(range(64)), 0o100644, 1700000000.123456, 12, 99),
            "d/": FileHash(DIR_DIGEST),
        },
        invalid_inputs={"c": "Path does not exist"},
        missing_outputs=["b"],
        resources=[0.5, 1.25, 3.0],
    ),
    wire.Shutdown(),
]


def ids(message):
    return type(message).__name__


def unpack_one(data: bytes):
    unpacker = new_unpacker()
    unpacker.feed(data)
    [obj] = list(unpacker)
    return obj


@pytest.mark.parametrize("message", MESSAGES, ids=ids)
def test_round_trip(message):
    envelope = decode(unpack_one(encode(42, message)))
    assert envelope.call_id == 42
    assert envelope.name == type(message).__name__
    assert envelope.payload == message
    assert type(envelope.payload) is type(message)


def test_round_trip_types():
    message = MESSAGES[-2]
    payload = decode(unpack_one(encode(1, message))).payload
    assert isinstance(payload.stdout, bytes)
    assert isinstance(payload.hashes["a"], FileHash)
    assert payload.hashes["a"].mtime == 1700000000.123456
    assert not payload.success


def test_stream_of_envelopes():
    """msgpack is self-delimiting: envelopes can be cut anywhere in a stream."""
    data = b"".join(encode(index, message) for index, message in enumerate(MESSAGES))
    unpacker = new_unpacker()
    received = []
    for start in range(0, len(data), 7):
        unpacker.feed(data[start : start + 7])
        received.extend(decode(obj) for obj in unpacker)
    assert [envelope.call_id for envelope in received] == list(range(len(MESSAGES)))
    assert [envelope.payload for envelope in received] == MESSAGES


@pytest.mark.parametrize(
    ("ok", "payload"), [(True, None), (True, {"a": [1, 2]}), (False, {"message": "boom"})]
)
def test_reply(ok, payload):
    envelope = decode(unpack_one(encode_reply(7, ok, payload)))
    assert envelope.call_id == 7
    assert envelope.name == ("ok" if ok else "error")
    assert envelope.payload == payload


def test_encode_non_message():
    with pytest.raises(WireError, match="Not a message class: dict"):
        encode(1, {"command": "x"})


def test_job_finished_success():
    assert wire.JobFinished(0).success
    assert not wire.JobFinished(1).success
    assert not wire.JobFinished(None).success
    assert not wire.JobFinished(0, missing_outputs=["a"]).success
    assert not wire.JobFinished(0, invalid_inputs={"a": "gone"}).success


@pytest.mark.parametrize(
    "obj",
    [
        None,
        "DefineStep",
        42,
        {"call_id": 1, "name": "WriteGraph", "payload": {"prefix": "g"}},
        [],
        [1, "WriteGraph"],
        [1, "WriteGraph", {"prefix": "g"}, "extra"],
        ["1", "WriteGraph", {"prefix": "g"}],
        [1.0, "WriteGraph", {"prefix": "g"}],
        [None, "WriteGraph", {"prefix": "g"}],
        [1, 2, {"prefix": "g"}],
        [1, b"WriteGraph", {"prefix": "g"}],
    ],
)
def test_malformed_envelope(obj):
    with pytest.raises(WireError, match=r"^A message must be a list \[call_id, name, payload\]\.$"):
        decode(obj)


@pytest.mark.parametrize("name", ["Bogus", "definestep", "Envelope", "WireError", ""])
def test_unknown_name(name):
    with pytest.raises(WireError, match=f"^Unknown message: {name}$"):
        decode([1, name, {}])


@pytest.mark.parametrize(
    ("name", "payload", "detail"),
    [
        (
            "Perform",
            {"creator": "x", "action": {"command": 123, "action": "DefineStep"}},
            "command",
        ),
        ("Perform", {"creator": 3, "action": {"command": None, "action": "DefineStep"}}, "creator"),
        (
            "Perform",
            {"creator": "x", "action": {"action": "DefineStep"}},
            "required field missing @ $.action.command",
        ),
        (
            "Perform",
            {"creator": "x", "action": {"command": "c", "optional": "no", "action": "DefineStep"}},
            "optional",
        ),
        (
            "Perform",
            {"creator": "x", "action": {"command": "c", "block": 1, "action": "DefineStep"}},
            "block",
        ),
        (
            "Perform",
            {"creator": "x", "action": {"command": "c", "pool": 5, "action": "DefineStep"}},
            "pool",
        ),
        (
            "Perform",
            {"creator": "x", "action": {"command": "c", "inp": [1], "action": "DefineStep"}},
            "inp",
        ),
        (
            "Perform",
            {"creator": "x", "action": {"command": "c", "inp": None, "action": "DefineStep"}},
            "inp",
        ),
        ("Perform", None, ""),
        (
            "Perform",
            {"creator": "x", "action": {"action": "DeclareStatic", "paths": None}},
            "paths",
        ),
        ("Perform", {"creator": "x", "action": {"action": "Nothing"}}, "action"),
        ("WriteGraph", {"prefix": ["g"]}, "prefix"),
        ("WriteGraph", {}, "prefix"),
        ("JobFinished", {"returncode": "0"}, "returncode"),
        ("JobFinished", {"returncode": 1.5}, "returncode"),
        ("JobFinished", {"returncode": True}, "returncode"),
        ("JobFinished", {"returncode": 0, "stdout": "text"}, "stdout"),
        ("JobFinished", {"returncode": 0, "resources": ["1"]}, "resources"),
        ("JobFinished", {"returncode": 0, "hashes": {"a": {"digest": "hex"}}}, "digest"),
        ("JobFinished", {"returncode": 0, "hashes": {"a": {"mtime": "now"}}}, "mtime"),
        (
            "RunJob",
            {"key": "k", "command": "c", "workdir": "./", "env": [], "inputs": [], "outputs": []},
            "env",
        ),
        (
            "RunJob",
            {"key": "k", "command": "c", "workdir": "./", "env": {"A": 1}},
            "env",
        ),
    ],
)
def test_wrong_payload(name, payload, detail):
    with pytest.raises(WireError) as excinfo:
        decode([1, name, payload])
    message = str(excinfo.value)
    assert message.startswith(f"Invalid {name} message: ")
    assert detail in message


def test_string_for_list_field():
    with pytest.raises(WireError, match="inp"):
        decode(
            [
                1,
                "Perform",
                {"creator": "x", "action": {"command": "c", "inp": "abc", "action": "DefineStep"}},
            ]
        )


def test_dict_for_list_field():
    with pytest.raises(WireError, match="out"):
        decode(
            [
                1,
                "Perform",
                {
                    "creator": "x",
                    "action": {"command": "c", "out": {"a": 1}, "action": "DefineStep"},
                },
            ]
        )


def test_int_for_bytes_field():
    with pytest.raises(WireError, match="stdout"):
        decode([1, "JobFinished", {"returncode": 0, "stdout": 5}])
