"""Step hashes: what enters the digest and the input digest, and what does not."""

import attrs
import pytest

from stepup_trio.core.stephash import StepHash, compute_step_hash
from stepup_trio.hashing import DIR_DIGEST, FileHash

KEY = "step:cp a.txt b.txt"
HASH_A = FileHash(bytes(range(64)), 0o100644, 1.5, 12, 101)
HASH_B = FileHash(bytes(range(64, 128)), 0o100644, 2.5, 13, 102)
HASH_OUT = FileHash(bytes(range(128, 192)), 0o100600, 3.5, 14, 103)
INPUTS = [("./", FileHash(DIR_DIGEST)), ("a.txt", HASH_A), ("b.txt", HASH_B)]
ENV = {"HOME": "/home/me", "EMPTY": "", "UNSET": None}
OUTPUTS = [("c.txt", HASH_OUT)]


def step_hash(key=KEY, inputs=INPUTS, env=ENV, outputs=OUTPUTS, extended=False) -> StepHash:
    return compute_step_hash(key, inputs, env, outputs, extended=extended)


def with_input(path: str, **changes) -> list[tuple[str, FileHash]]:
    """INPUTS with some fields of one input's hash changed."""
    return [(p, attrs.evolve(h, **changes) if p == path else h) for p, h in INPUTS]


def test_deterministic():
    first = step_hash()
    second = step_hash()
    assert first == second
    assert first.digest == second.digest
    assert first.inp_digest == second.inp_digest


def test_digest_sizes():
    result = step_hash()
    assert isinstance(result.digest, bytes)
    assert isinstance(result.inp_digest, bytes)
    assert len(result.digest) == 64
    assert len(result.inp_digest) == 64
    assert result.digest != result.inp_digest


def test_without_outputs_digest_is_inp_digest():
    result = step_hash(outputs=[])
    assert result.digest == result.inp_digest
    empty = compute_step_hash("step:true", [], {}, [])
    assert empty.digest == empty.inp_digest
    assert len(empty.digest) == 64


def test_inp_digest_independent_of_outputs():
    with_outputs = step_hash()
    without_outputs = step_hash(outputs=[])
    other_outputs = step_hash(outputs=[("d.txt", HASH_A), ("e.txt", HASH_B)])
    assert with_outputs.inp_digest == without_outputs.inp_digest == other_outputs.inp_digest
    assert len({with_outputs.digest, without_outputs.digest, other_outputs.digest}) == 3
    assert without_outputs.digest == with_outputs.inp_digest


def test_key_matters():
    base = step_hash()
    other = step_hash(key="step:cp a.txt b.txt  # wd=sub/")
    assert other.digest != base.digest
    assert other.inp_digest != base.inp_digest


@pytest.mark.parametrize(
    "inputs",
    [
        [("./", FileHash(DIR_DIGEST)), ("a2.txt", HASH_A), ("b.txt", HASH_B)],
        with_input("a.txt", mode=0o100755),
        with_input("a.txt", size=13),
        with_input("a.txt", digest=bytes(range(1, 65))),
        with_input("./", digest=b"u"),
        INPUTS[:2],
        [*INPUTS, ("z.txt", HASH_A)],
    ],
    ids=["path", "mode", "size", "digest", "dir-digest", "removed", "added"],
)
def test_input_changes(inputs):
    base = step_hash()
    other = step_hash(inputs=inputs)
    assert other.digest != base.digest
    assert other.inp_digest != base.inp_digest


@pytest.mark.parametrize(
    "env",
    [
        {**ENV, "HOME": "/home/you"},
        {**ENV, "EMPTY": None},
        {**ENV, "UNSET": ""},
        {**ENV, "NEW": "1"},
        {"HOME": "/home/me", "EMPTY": ""},
        {**ENV, "home": "/home/me"},
    ],
    ids=["value", "empty-to-unset", "unset-to-empty", "added", "removed", "name"],
)
def test_env_changes(env):
    base = step_hash()
    other = step_hash(env=env)
    assert other.digest != base.digest
    assert other.inp_digest != base.inp_digest


def test_unset_and_empty_differ():
    unset = compute_step_hash(KEY, [], {"X": None}, [])
    empty = compute_step_hash(KEY, [], {"X": ""}, [])
    absent = compute_step_hash(KEY, [], {}, [])
    assert len({unset.digest, empty.digest, absent.digest}) == 3


@pytest.mark.parametrize(
    "outputs",
    [
        [("c2.txt", HASH_OUT)],
        [("c.txt", attrs.evolve(HASH_OUT, mode=0o100644))],
        [("c.txt", attrs.evolve(HASH_OUT, size=15))],
        [("c.txt", attrs.evolve(HASH_OUT, digest=bytes(64)))],
        [("c.txt", FileHash())],
        [],
        [*OUTPUTS, ("d.txt", HASH_A)],
    ],
    ids=["path", "mode", "size", "digest", "unknown", "removed", "added"],
)
def test_output_changes_only_digest(outputs):
    base = step_hash()
    other = step_hash(outputs=outputs)
    assert other.digest != base.digest
    assert other.inp_digest == base.inp_digest


def test_mtime_and_inode_ignored():
    base = step_hash()
    inputs = [(p, attrs.evolve(h, mtime=h.mtime + 100, inode=h.inode + 7)) for p, h in INPUTS]
    outputs = [(p, attrs.evolve(h, mtime=0.0, inode=0)) for p, h in OUTPUTS]
    other = step_hash(inputs=inputs, outputs=outputs)
    assert other.digest == base.digest
    assert other.inp_digest == base.inp_digest


def test_order_ignored():
    base = step_hash(outputs=[("c.txt", HASH_OUT), ("d.txt", HASH_A)])
    inputs = list(reversed(INPUTS))
    env = dict(reversed(list(ENV.items())))
    other = compute_step_hash(
        KEY, iter(inputs), env, iter([("d.txt", HASH_A), ("c.txt", HASH_OUT)])
    )
    assert other.digest == base.digest
    assert other.inp_digest == base.inp_digest


def test_compact():
    result = step_hash()
    assert not result.extended
    assert result.inputs is None
    assert result.env is None
    assert result.outputs is None


def test_extended():
    compact = step_hash()
    extended = step_hash(
        inputs=list(reversed(INPUTS)), env=dict(reversed(list(ENV.items()))), extended=True
    )
    assert extended.extended
    assert extended.digest == compact.digest
    assert extended.inp_digest == compact.inp_digest
    assert extended.inputs == dict(INPUTS)
    assert extended.env == ENV
    assert extended.outputs == dict(OUTPUTS)
    # Copies: later changes by the caller do not alter the stored hash.
    env = dict(ENV)
    again = step_hash(env=env, extended=True)
    env["HOME"] = "/elsewhere"
    assert again.env == ENV


def test_extended_without_anything():
    result = compute_step_hash("step:true", [], {}, [], extended=True)
    assert result.extended
    assert result.inputs == {}
    assert result.env == {}
    assert result.outputs == {}
    assert result.digest == compute_step_hash("step:true", [], {}, []).digest


def test_frozen():
    result = step_hash()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.digest = b"x"


# Distinct data must give distinct hashes: the words are typed and length-prefixed.


def digests(*args) -> tuple[bytes, bytes]:
    result = compute_step_hash(*args)
    return result.digest, result.inp_digest


def test_no_ambiguity_env():
    assert digests(KEY, [], {"ab": "c"}, []) != digests(KEY, [], {"a": "bc"}, [])
    assert digests(KEY, [], {"a": "b", "c": "d"}, []) != digests(KEY, [], {"a": "bcd"}, [])
    assert digests(KEY, [], {"a": ""}, []) != digests(KEY, [], {"a": None}, [])


def test_no_ambiguity_key_and_paths():
    assert digests("ab", [("c", HASH_A)], {}, []) != digests("a", [("bc", HASH_A)], {}, [])
    assert digests(KEY, [("ab", HASH_A)], {}, []) != digests(KEY, [("a", HASH_A)], {"b": ""}, [])


def test_no_ambiguity_between_sections():
    # The same file as input or as output.
    assert digests(KEY, [("a.txt", HASH_A)], {}, []) != digests(KEY, [], {}, [("a.txt", HASH_A)])
    # Names that look like the section markers.
    assert digests(KEY, [("__env_vars__", HASH_A)], {}, []) != digests(
        KEY, [], {"__env_vars__": None}, []
    )
    assert digests(KEY, [], {"__out_paths__": "x"}, []) != digests(KEY, [], {}, [("x", HASH_A)])


def test_env_value_not_utf8():
    # os.environ shows bytes that are not UTF-8 as lone surrogates.
    first = compute_step_hash(KEY, [], {"X": "\udcff"}, [], extended=True)
    second = compute_step_hash(KEY, [], {"X": "\udcfe"}, [])
    assert first.digest != second.digest
    assert first.env == {"X": "\udcff"}
