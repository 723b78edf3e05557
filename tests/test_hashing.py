"""File hashes: BLAKE2b digests, directories, missing paths and reuse by stat."""

import hashlib
import os

from stepup_trio.hashing import (
    DIR_DIGEST,
    UNKNOWN_DIGEST,
    FileHash,
    compute_file_hash,
    hash_file_contents,
)


def test_file(tmp_path):
    path = tmp_path / "a.txt"
    content = b"First line.\nSecond line.\n"
    path.write_bytes(content)
    result = compute_file_hash(str(path))
    assert len(result.digest) == 64
    assert result.digest == hashlib.blake2b(content).digest()
    assert result.known
    st = path.stat()
    assert result.size == len(content)
    assert result.mode == st.st_mode
    assert result.mtime == st.st_mtime
    assert result.inode == st.st_ino
    assert result.same_stat(st)


def test_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert compute_file_hash(str(path)).digest == hashlib.blake2b(b"").digest()


def test_large_file(tmp_path):
    """More than one chunk is read."""
    path = tmp_path / "large"
    content = os.urandom(1000) * 3000
    path.write_bytes(content)
    assert hash_file_contents(str(path)) == hashlib.blake2b(content).digest()
    assert compute_file_hash(str(path)).digest == hashlib.blake2b(content).digest()


def test_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    result = compute_file_hash(f"{tmp_path}/sub/")
    assert result == FileHash(DIR_DIGEST)
    assert result.digest == b"d"
    assert result.known


def test_directory_without_slash(tmp_path):
    (tmp_path / "sub").mkdir()
    assert compute_file_hash(f"{tmp_path}/sub") is None


def test_missing(tmp_path):
    assert compute_file_hash(str(tmp_path / "missing")) is None
    assert compute_file_hash(f"{tmp_path}/missing/") is None
    assert compute_file_hash(f"{tmp_path}/missing/deeper") is None


def test_file_with_trailing_slash(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"x")
    assert compute_file_hash(f"{path}/") is None
    # A path through a file is missing, not an error.
    assert compute_file_hash(f"{path}/b") is None


def test_unknown_hash():
    assert FileHash().digest == UNKNOWN_DIGEST
    assert not FileHash().known


def test_reuse_when_stat_matches(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"content")
    old = compute_file_hash(str(path))
    assert compute_file_hash(str(path), old) is old


def test_reuse_trusts_stat(tmp_path):
    """A matching stat is enough: the content is not read again."""
    path = tmp_path / "a.txt"
    path.write_bytes(b"content")
    st = path.stat()
    fake = FileHash(b"f" * 64, st.st_mode, st.st_mtime, st.st_size, st.st_ino)
    assert compute_file_hash(str(path), fake) is fake


def test_no_reuse_of_unknown_digest(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"content")
    st = path.stat()
    unknown = FileHash(UNKNOWN_DIGEST, st.st_mode, st.st_mtime, st.st_size, st.st_ino)
    result = compute_file_hash(str(path), unknown)
    assert result is not unknown
    assert result.digest == hashlib.blake2b(b"content").digest()


def test_rehash_when_content_changes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"before")
    old = compute_file_hash(str(path))
    st = path.stat()
    path.write_bytes(b"after!")  # same size
    # Make sure the mtime differs even on a coarse clock.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    new = compute_file_hash(str(path), old)
    assert new is not old
    assert new.digest == hashlib.blake2b(b"after!").digest()
    assert new.digest != old.digest
    assert new.mtime != old.mtime


def test_rehash_when_size_changes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"short")
    old = compute_file_hash(str(path))
    path.write_bytes(b"much longer content")
    new = compute_file_hash(str(path), old)
    assert new is not old
    assert new.size == len(b"much longer content")
    assert new.digest == hashlib.blake2b(b"much longer content").digest()


def test_rehash_when_mode_changes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"content")
    old = compute_file_hash(str(path))
    path.chmod(0o700)
    new = compute_file_hash(str(path), old)
    assert new is not old
    assert new.digest == old.digest
    assert new.mode != old.mode


def test_old_hash_of_directory_ignored(tmp_path):
    (tmp_path / "sub").mkdir()
    old = FileHash(b"x" * 64, 1, 2.0, 3, 4)
    assert compute_file_hash(f"{tmp_path}/sub/", old) == FileHash(DIR_DIGEST)
