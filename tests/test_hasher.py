"""The director's file hasher: stat-only fast path, rehashing in threads, directories."""

import hashlib
import os
import threading
import time

import pytest
import trio

import stepup_trio.hashing
import stepup_trio.services.hasher
from stepup_trio.core.states import FileState
from stepup_trio.hashing import DIR_DIGEST, FileHash, compute_file_hash
from stepup_trio.kinds.file import FileNode
from stepup_trio.services.hasher import FileHasher


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Work in a temporary folder, with relative paths as the director uses them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path, data: bytes, mtime: float | None = None) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def blake(data: bytes) -> bytes:
    return hashlib.blake2b(data).digest()


async def test_hash_new_file(here):
    write("a.txt", b"hello", 1000.0)
    result = await FileHasher().hash("a.txt")
    st = os.stat("a.txt")
    assert result == FileHash(blake(b"hello"), st.st_mode, 1000.0, 5, st.st_ino)
    assert len(result.digest) == 64
    assert result.known


async def test_same_stat_returns_old_object(here):
    write("a.txt", b"hello", 1000.0)
    hasher = FileHasher()
    old = await hasher.hash("a.txt")
    again = await hasher.hash("a.txt", old)
    assert again is old


async def test_same_stat_does_not_read(here, monkeypatch):
    write("a.txt", b"hello", 1000.0)
    old = compute_file_hash("a.txt")

    def fail(*args, **kwargs):
        raise AssertionError("the file was hashed again")

    monkeypatch.setattr(stepup_trio.services.hasher, "compute_file_hash", fail)
    monkeypatch.setattr(stepup_trio.hashing, "hash_file_contents", fail)
    assert await FileHasher().hash("a.txt", old) is old


async def test_same_stat_trusts_the_old_digest(here):
    # Only the stat fields are compared: a fake digest with the right stat is kept.
    write("a.txt", b"hello", 1000.0)
    st = os.stat("a.txt")
    old = FileHash(b"\1" * 64, st.st_mode, st.st_mtime, st.st_size, st.st_ino)
    assert await FileHasher().hash("a.txt", old) is old


@pytest.mark.parametrize(
    "data, mtime",
    [(b"HELLO", 2000.0), (b"hello, world", 1000.0), (b"hello, world", 2000.0)],
    ids=["same-size", "same-mtime", "both"],
)
async def test_rehash_when_content_changes(here, data, mtime):
    write("a.txt", b"hello", 1000.0)
    hasher = FileHasher()
    old = await hasher.hash("a.txt")
    write("a.txt", data, mtime)
    new = await hasher.hash("a.txt", old)
    assert new is not old
    assert new.digest == blake(data)
    assert new.size == len(data)
    assert new.mtime == mtime


async def test_touch_rehashes_but_digest_is_same(here):
    write("a.txt", b"hello", 1000.0)
    hasher = FileHasher()
    old = await hasher.hash("a.txt")
    os.utime("a.txt", (3000.0, 3000.0))
    new = await hasher.hash("a.txt", old)
    assert new is not old
    assert new.digest == old.digest
    assert new.mtime == 3000.0
    assert (new.digest, new.mode, new.size) == (old.digest, old.mode, old.size)


async def test_mode_change(here):
    write("a.txt", b"hello", 1000.0)
    os.chmod("a.txt", 0o644)
    hasher = FileHasher()
    old = await hasher.hash("a.txt")
    os.chmod("a.txt", 0o600)
    new = await hasher.hash("a.txt", old)
    assert new is not old
    assert new.mode & 0o777 == 0o600
    assert new.digest == old.digest


async def test_replaced_file_new_inode(here):
    write("a.txt", b"hello", 1000.0)
    hasher = FileHasher()
    old = await hasher.hash("a.txt")
    write("b.txt", b"hello", 1000.0)  # Both exist at once: another inode.
    os.replace("b.txt", "a.txt")
    new = await hasher.hash("a.txt", old)
    assert new.inode != old.inode
    assert new is not old
    assert new.digest == old.digest


async def test_unknown_old_hash_is_not_trusted(here):
    write("a.txt", b"hello", 1000.0)
    st = os.stat("a.txt")
    hasher = FileHasher()
    for old in None, FileHash(), FileHash(b"u", st.st_mode, st.st_mtime, st.st_size, st.st_ino):
        result = await hasher.hash("a.txt", old)
        assert result is not old
        assert result.digest == blake(b"hello")


async def test_empty_file(here):
    write("empty", b"")
    result = await FileHasher().hash("empty")
    assert result.digest == blake(b"")
    assert result.size == 0


async def test_missing(here):
    hasher = FileHasher()
    assert await hasher.hash("missing.txt") is None
    assert await hasher.hash("missing/") is None
    assert await hasher.hash("missing/inner.txt") is None
    assert await hasher.hash("missing.txt", FileHash(blake(b"x"), 0o100644, 1.0, 1, 1)) is None


async def test_missing_after_hash(here):
    write("a.txt", b"hello", 1000.0)
    hasher = FileHasher()
    old = await hasher.hash("a.txt")
    os.remove("a.txt")
    assert await hasher.hash("a.txt", old) is None


async def test_directory(here):
    os.mkdir("sub")
    hasher = FileHasher()
    result = await hasher.hash("sub/")
    assert result == FileHash(DIR_DIGEST)
    assert result.digest == b"d"
    assert (result.mode, result.mtime, result.size, result.inode) == (0, 0.0, 0, 0)
    assert await hasher.hash("sub/", result) == FileHash(DIR_DIGEST)
    assert await hasher.hash("./") == FileHash(DIR_DIGEST)


async def test_wrong_type(here):
    os.mkdir("sub")
    write("a.txt", b"hello")
    hasher = FileHasher()
    assert await hasher.hash("sub") is None
    assert await hasher.hash("a.txt/") is None
    assert await hasher.hash("a.txt/inner") is None


async def test_file_replaced_by_directory(here):
    write("x", b"hello", 1000.0)
    hasher = FileHasher()
    old = await hasher.hash("x")
    os.remove("x")
    os.mkdir("x")
    assert await hasher.hash("x", old) is None
    assert await hasher.hash("x/") == FileHash(DIR_DIGEST)


async def test_symlink_followed(here):
    write("target.txt", b"hello", 1000.0)
    os.symlink("target.txt", "link.txt")
    result = await FileHasher().hash("link.txt")
    assert result.digest == blake(b"hello")
    os.symlink("nowhere.txt", "broken.txt")
    assert await FileHasher().hash("broken.txt") is None


async def test_large_file(here):
    data = os.urandom(3 * stepup_trio.hashing.CHUNK_SIZE + 17)
    write("big.bin", data)
    result = await FileHasher().hash("big.bin")
    assert result.digest == blake(data)
    assert result.size == len(data)


async def test_capacity(here, monkeypatch):
    lock = threading.Lock()
    running = 0
    most = 0

    def slow_hash(path, old=None, check=None):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return FileHash(blake(path.encode()), 0o100644, 1.0, 1, 1)

    monkeypatch.setattr(stepup_trio.services.hasher, "compute_file_hash", slow_hash)
    for index in range(8):
        write(f"f{index}", b"x")
    hasher = FileHasher(capacity=2)
    results = {}

    async def one(path):
        results[path] = await hasher.hash(path)

    async with trio.open_nursery() as nursery:
        for index in range(8):
            nursery.start_soon(one, f"f{index}")
    assert len(results) == 8
    assert most == 2


async def test_cancel_stops_between_chunks(here, monkeypatch):
    monkeypatch.setattr(stepup_trio.hashing, "CHUNK_SIZE", 1)
    write("slow.bin", b"x" * 10000)
    original = stepup_trio.hashing.hash_file_contents
    checks = 0
    outcome = []

    def counting(path, check=None):
        def slow_check():
            nonlocal checks
            checks += 1
            time.sleep(0.001)
            check()

        try:
            return original(path, slow_check)
        except BaseException as exc:
            outcome.append(type(exc))
            raise

    monkeypatch.setattr(stepup_trio.hashing, "hash_file_contents", counting)
    with trio.move_on_after(0.05) as scope:
        await FileHasher().hash("slow.bin")
    assert scope.cancelled_caught
    assert outcome == [trio.Cancelled]
    assert 0 < checks < 10000


# hash_nodes


async def test_hash_nodes(here):
    write("a.txt", b"hello", 1000.0)
    write("b.txt", b"world", 1000.0)
    os.mkdir("sub")
    a_hash = compute_file_hash("a.txt")
    nodes = [
        FileNode(path="a.txt", state=FileState.STATIC, hash=a_hash),
        FileNode(path="b.txt", state=FileState.BUILT),
        FileNode(path="sub/", state=FileState.STATIC, hash=FileHash(DIR_DIGEST)),
        FileNode(path="missing.txt", state=FileState.PENDING, hash=a_hash),
        FileNode(path="./", state=FileState.STATIC),
    ]
    result = await FileHasher().hash_nodes(nodes)
    assert list(result) == ["a.txt", "b.txt", "sub/", "missing.txt", "./"]
    assert result["a.txt"] is a_hash
    assert result["b.txt"].digest == blake(b"world")
    assert result["sub/"] == FileHash(DIR_DIGEST)
    assert result["missing.txt"] is None
    assert result["./"] == FileHash(DIR_DIGEST)
    # The nodes themselves are not changed.
    assert nodes[1].hash is None
    assert nodes[3].hash is a_hash


async def test_hash_nodes_rehashes_changed(here):
    write("a.txt", b"hello", 1000.0)
    node = FileNode(path="a.txt", state=FileState.STATIC, hash=compute_file_hash("a.txt"))
    write("a.txt", b"changed", 2000.0)
    result = await FileHasher().hash_nodes([node])
    assert result["a.txt"].digest == blake(b"changed")
    assert result["a.txt"] is not node.hash


async def test_hash_nodes_empty():
    assert await FileHasher().hash_nodes([]) == {}
