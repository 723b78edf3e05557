"""Explanations of skip and rerun decisions: the exact lines of ``stepup -e`` (SPEC 7.5)."""

import stat

import pytest

from stepup_trio.core.explain import explain, short_digest
from stepup_trio.core.stephash import StepHash, compute_step_hash
from stepup_trio.hashing import DIR_DIGEST, UNKNOWN_DIGEST, FileHash


def digest(prefix: str) -> bytes:
    """A 64-byte digest whose hex form starts with ``prefix`` (8 hex digits)."""
    return bytes.fromhex(prefix) + bytes(range(60))


D1, D2, D3, D4 = digest("332f87af"), digest("09411aea"), digest("2af2bcf0"), digest("4a859afe")
RW = 0o100644
RW_OWNER = 0o100600
FILE_A = FileHash(digest("f60ce482"), RW, 1.0, 6, 10)
FILE_A2 = FileHash(digest("fec91c70"), RW_OWNER, 2.0, 12, 11)
FILE_B = FileHash(digest("0badcafe"), RW, 1.0, 3, 12)
CWD = FileHash(DIR_DIGEST)


def extended(digest_=D1, inp_digest=D3, inputs=None, env=None, outputs=None) -> StepHash:
    return StepHash(
        digest_,
        inp_digest,
        {} if inputs is None else inputs,
        {} if env is None else env,
        {} if outputs is None else outputs,
    )


def line(label: str, content: str) -> str:
    return f"{label:20s} {content}"


# short_digest


def test_short_digest():
    assert short_digest(D1) == "332f87af"
    assert short_digest(bytes.fromhex("00ff" * 32)) == "00ff00ff"
    assert short_digest(UNKNOWN_DIGEST) == "UNKNOWN"
    assert short_digest(b"u") == "UNKNOWN"
    assert short_digest(DIR_DIGEST) == "DIRECTORY"
    assert short_digest(b"d") == "DIRECTORY"


def test_line_format():
    old = extended(env={"MYVAR": "1"})
    new = extended(env={"MYVAR": "1"})
    _, same = explain(old, new)
    assert same[1] == "Same env var         MYVAR ='1'"
    assert same[1] == f"{'Same env var':20s} MYVAR ='1'"
    assert same[1][20] == " "
    # A label longer than 20 characters is not cut.
    assert line("x" * 25, "y") == "x" * 25 + " y"


# The step-hash line


def test_same_step_hash_extended():
    changed, same = explain(extended(), extended())
    assert changed == []
    assert same == ["Same step hash       extended, digest 332f87af, inp_digset 2af2bcf0"]


def test_same_step_hash_compact():
    old = StepHash(D1, D3)
    changed, same = explain(old, StepHash(D1, D3))
    assert changed == []
    assert same == ["Same step hash       compact, digest 332f87af, inp_digset 2af2bcf0"]


def test_modified_step_hash():
    changed, same = explain(extended(D1, D3), extended(D2, D4))
    assert changed == [
        "Modified step hash   extended, digest 332f87af ➜ 09411aea, inp_digset 2af2bcf0 ➜ 4a859afe"
    ]
    assert same == []


def test_modified_step_hash_same_inp_digest():
    changed, same = explain(extended(D1, D3), extended(D2, D3))
    assert changed == [
        "Modified step hash   extended, digest 332f87af ➜ 09411aea, inp_digset 2af2bcf0"
    ]
    assert same == []


def test_compact_old_hash_shows_only_the_step_line():
    old = StepHash(D1, D3)
    new = extended(
        D2,
        D4,
        inputs={"a.txt": FILE_A},
        env={"X": "1"},
        outputs={"b.txt": FILE_B},
    )
    changed, same = explain(old, new)
    assert changed == [
        "Modified step hash   compact ➜ extended, digest 332f87af ➜ 09411aea, "
        "inp_digset 2af2bcf0 ➜ 4a859afe"
    ]
    assert same == []
    # The same digests: still only the step line.
    changed, same = explain(old, extended(D1, D3, inputs={"a.txt": FILE_A}))
    assert changed == []
    assert same == ["Same step hash       compact ➜ extended, digest 332f87af, inp_digset 2af2bcf0"]


def test_extended_old_compact_new_shows_only_the_step_line():
    old = extended(D1, D3, inputs={"a.txt": FILE_A}, env={"X": "1"})
    changed, same = explain(old, StepHash(D1, D3))
    assert changed == []
    assert same == ["Same step hash       extended ➜ compact, digest 332f87af, inp_digset 2af2bcf0"]


# Inputs


def test_modified_input_all_parts():
    old = extended(D1, D3, inputs={"a.txt": FILE_A})
    new = extended(D2, D4, inputs={"a.txt": FILE_A2})
    changed, same = explain(old, new)
    assert changed[1:] == [
        "Modified inp hash    a.txt (digest f60ce482 ➜ fec91c70, size 6 ➜ 12, "
        "mode -rw-r--r-- ➜ -rw-------)"
    ]
    assert same == []
    assert stat.filemode(RW) == "-rw-r--r--"
    assert stat.filemode(RW_OWNER) == "-rw-------"


@pytest.mark.parametrize(
    ("after", "parts"),
    [
        (FileHash(digest("fec91c70"), RW, 1.0, 6, 10), "digest f60ce482 ➜ fec91c70"),
        (FileHash(digest("f60ce482"), RW, 1.0, 15, 10), "size 6 ➜ 15"),
        (FileHash(digest("f60ce482"), 0o100755, 1.0, 6, 10), "mode -rw-r--r-- ➜ -rwxr-xr-x"),
        (
            FileHash(UNKNOWN_DIGEST),
            "digest f60ce482 ➜ UNKNOWN, size 6 ➜ 0, mode -rw-r--r-- ➜ ?---------",
        ),
    ],
    ids=["digest", "size", "mode", "unknown"],
)
def test_modified_input_some_parts(after, parts):
    old = extended(D1, D3, inputs={"a.txt": FILE_A})
    new = extended(D2, D4, inputs={"a.txt": after})
    changed, same = explain(old, new)
    assert changed[1:] == [line("Modified inp hash", f"a.txt ({parts})")]
    assert same == []


def test_mode_from_unknown():
    # SPEC 7.5 example: an input whose old hash was unknown.
    old = extended(D1, D3, inputs={"a.txt": FileHash()})
    new = extended(D2, D4, inputs={"a.txt": FileHash(digest("aaaaaaaa"), RW, 1.0, 15, 1)})
    changed, _ = explain(old, new)
    assert changed[1] == (
        "Modified inp hash    a.txt (digest UNKNOWN ➜ aaaaaaaa, size 0 ➜ 15, "
        "mode ?--------- ➜ -rw-r--r--)"
    )


def test_touched_input_is_same():
    # Only mtime and inode differ: the input counts as the same.
    touched = FileHash(FILE_A.digest, FILE_A.mode, 99.0, FILE_A.size, 999)
    old = extended(D1, D3, inputs={"a.txt": FILE_A})
    new = extended(D1, D3, inputs={"a.txt": touched})
    changed, same = explain(old, new)
    assert changed == []
    assert same == [
        "Same step hash       extended, digest 332f87af, inp_digset 2af2bcf0",
        "Same inp hash        a.txt",
    ]


def test_directory_input():
    old = extended(D1, D3, inputs={"./": CWD, "sub/": FileHash()})
    new = extended(D1, D3, inputs={"./": CWD, "sub/": CWD})
    changed, same = explain(old, new)
    # The step line follows the digests only: here they are equal (made-up hashes).
    assert changed == ["Modified inp hash    sub/ (digest UNKNOWN ➜ DIRECTORY)"]
    assert same == [
        "Same step hash       extended, digest 332f87af, inp_digset 2af2bcf0",
        "Same inp hash        ./",
    ]


def test_added_and_deleted_inputs():
    old = extended(D1, D3, inputs={"a.txt": FILE_A, "gone.txt": FILE_B})
    new = extended(D2, D4, inputs={"a.txt": FILE_A, "new.txt": FILE_B})
    changed, same = explain(old, new)
    assert changed == [
        "Modified step hash   extended, digest 332f87af ➜ 09411aea, inp_digset 2af2bcf0 ➜ 4a859afe",
        "Deleted inp hash     gone.txt",
        "Added inp hash       new.txt",
    ]
    assert same == ["Same inp hash        a.txt"]


# Environment variables


def test_modified_env_var():
    changed, same = explain(extended(env={"MYVAR": "1"}), extended(env={"MYVAR": "2"}))
    assert changed == ["Modified env var     MYVAR ='1' ➜ ='2'"]
    assert same == ["Same step hash       extended, digest 332f87af, inp_digset 2af2bcf0"]


def test_env_var_set_and_unset():
    old = extended(env={"A": None, "B": "BBBB", "C": "", "D": None})
    new = extended(env={"A": "DDDD", "B": "CCCC", "C": None, "D": None})
    changed, same = explain(old, new)
    assert changed == [
        "Modified env var     A (unset) ➜ ='DDDD'",
        "Modified env var     B ='BBBB' ➜ ='CCCC'",
        "Modified env var     C ='' ➜ (unset)",
    ]
    assert same[1:] == ["Same env var         D (unset)"]


def test_same_env_var():
    _, same = explain(extended(env={"NAME": "val"}), extended(env={"NAME": "val"}))
    assert same[1:] == ["Same env var         NAME ='val'"]


def test_env_var_quoting():
    _, same = explain(extended(env={"Q": "it's"}), extended(env={"Q": "it's"}))
    assert same[1:] == ['Same env var         Q ="it\'s"']


def test_added_and_deleted_env_vars():
    old = extended(env={"OLD": "x", "UNSET_OLD": None})
    new = extended(env={"NEW": "y", "UNSET_NEW": None})
    changed, same = explain(old, new)
    assert changed == [
        "Added env var        NEW ='y'",
        "Deleted env var      OLD ='x'",
        "Added env var        UNSET_NEW (unset)",
        "Deleted env var      UNSET_OLD (unset)",
    ]
    assert same == ["Same step hash       extended, digest 332f87af, inp_digset 2af2bcf0"]


# Outputs


def test_outputs():
    old = extended(D1, D3, outputs={"a.out": FILE_A, "gone.out": FILE_B, "same.out": FILE_B})
    new = extended(D2, D3, outputs={"a.out": FILE_A2, "new.out": FILE_A, "same.out": FILE_B})
    changed, same = explain(old, new)
    assert changed == [
        "Modified step hash   extended, digest 332f87af ➜ 09411aea, inp_digset 2af2bcf0",
        "Modified out hash    a.out (digest f60ce482 ➜ fec91c70, size 6 ➜ 12, "
        "mode -rw-r--r-- ➜ -rw-------)",
        "Deleted out hash     gone.out",
        "Added out hash       new.out",
    ]
    assert same == ["Same out hash        same.out"]


# Ordering


def test_order():
    inputs_old = {"z.txt": FILE_A, "./": CWD, "m.txt": FILE_A, "b.txt": FILE_A}
    inputs_new = {"b.txt": FILE_A2, "./": CWD, "m.txt": FILE_A, "z.txt": FILE_A2}
    env_old = {"ZZ": "1", "AA": "1", "MM": "1"}
    env_new = {"MM": "1", "ZZ": "2", "AA": "2"}
    outputs_old = {"y.out": FILE_B, "c.out": FILE_B, "k.out": FILE_B}
    outputs_new = {"k.out": FILE_B, "y.out": FILE_A, "c.out": FILE_A}
    old = extended(D1, D3, inputs_old, env_old, outputs_old)
    new = extended(D2, D4, inputs_new, env_new, outputs_new)
    changed, same = explain(old, new)
    assert [entry[:20].strip() + " " + entry[21:].split(" ")[0] for entry in changed] == [
        "Modified step hash extended,",
        "Modified inp hash b.txt",
        "Modified inp hash z.txt",
        "Modified env var AA",
        "Modified env var ZZ",
        "Modified out hash c.out",
        "Modified out hash y.out",
    ]
    assert same == [
        "Same inp hash        ./",
        "Same inp hash        m.txt",
        "Same env var         MM ='1'",
        "Same out hash        k.out",
    ]


def test_order_added_deleted_mixed():
    old = extended(inputs={"b": FILE_A, "d": FILE_A}, outputs={"x": FILE_B})
    new = extended(inputs={"a": FILE_A, "c": FILE_A, "d": FILE_B}, outputs={"w": FILE_B})
    changed, _ = explain(old, new)
    assert changed == [
        "Added inp hash       a",
        "Deleted inp hash     b",
        "Added inp hash       c",
        "Modified inp hash    d (digest f60ce482 ➜ 0badcafe, size 6 ➜ 3)",
        "Added out hash       w",
        "Deleted out hash     x",
    ]


# With real step hashes


def test_explain_computed_hashes():
    key = "step:cat a.txt"
    old = compute_step_hash(
        key, [("a.txt", FILE_A), ("./", CWD)], {"MYVAR": "1"}, [("b.txt", FILE_B)], extended=True
    )
    new = compute_step_hash(
        key, [("a.txt", FILE_A2), ("./", CWD)], {"MYVAR": "1"}, [("b.txt", FILE_B)], extended=True
    )
    changed, same = explain(old, new)
    d_old, d_new = old.digest.hex()[:8], new.digest.hex()[:8]
    i_old, i_new = old.inp_digest.hex()[:8], new.inp_digest.hex()[:8]
    assert changed == [
        f"Modified step hash   extended, digest {d_old} ➜ {d_new}, inp_digset {i_old} ➜ {i_new}",
        "Modified inp hash    a.txt (digest f60ce482 ➜ fec91c70, size 6 ➜ 12, "
        "mode -rw-r--r-- ➜ -rw-------)",
    ]
    assert same == [
        "Same inp hash        ./",
        "Same env var         MYVAR ='1'",
        "Same out hash        b.txt",
    ]
    changed, same = explain(new, new)
    assert changed == []
    assert same[0] == f"Same step hash       extended, digest {d_new}, inp_digset {i_new}"
    assert len(same) == 5
