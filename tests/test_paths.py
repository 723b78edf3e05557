"""Path conventions: normalized strings with a trailing slash for directories."""

import pytest

from stepup_trio.core.paths import is_always_static, normalize, parent_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # Files and directories: the trailing slash is kept, never added to a file.
        ("a", "a"),
        ("a/", "a/"),
        ("sub/foo.txt", "sub/foo.txt"),
        ("sub/dir/", "sub/dir/"),
        # The current and the parent directory always get a trailing slash.
        (".", "./"),
        ("./", "./"),
        ("..", "../"),
        ("../", "../"),
        ("../..", "../../"),
        ("a/.", "a/"),
        ("a/..", "./"),
        ("../x/..", "../"),
        ("x/../..", "../"),
        ("a/b/../", "a/"),
        # Redundant separators and dots disappear.
        ("a//b", "a/b"),
        ("a//b/", "a/b/"),
        ("./a", "a"),
        ("a/./b", "a/b"),
        # Absolute paths stay absolute.
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b/"),
        ("/a/../b", "/b"),
        ("/..", "/"),
        ("//a", "/a"),
        ("///a", "/a"),
    ],
)
def test_normalize(path, expected):
    assert normalize(path) == expected


def test_normalize_double_slash_root():
    assert normalize("//") == "/"


def test_normalize_is_idempotent():
    for path in ["a", "a/", "./", "../", "../../x/", "/a/b", "/", "sub/foo.txt"]:
        assert normalize(normalize(path)) == normalize(path)


def test_normalize_empty():
    with pytest.raises(ValueError, match="empty"):
        normalize("")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a", "./"),
        ("a/", "./"),
        ("a/b", "a/"),
        ("a/b/", "a/"),
        ("a/b/c.txt", "a/b/"),
        ("/a", "/"),
        ("/a/", "/"),
        ("/a/b", "/a/"),
        ("../a", "../"),
        ("../a/", "../"),
        ("../../a", "../../"),
        # The always-static directories have no parent node.
        ("./", None),
        ("/", None),
        ("../", "./"),
        ("../../", "../"),
    ],
)
def test_parent_path(path, expected):
    assert parent_path(path) == expected


@pytest.mark.parametrize("path", ["./", "/", "../", "../../", "../../../"])
def test_is_always_static(path):
    assert is_always_static(path)


@pytest.mark.parametrize(
    "path", ["", ".", "..", "a", "a/", "../a", "../a/", "/a", "/a/", ".//", "./../", "plan.py"]
)
def test_is_not_always_static(path):
    assert not is_always_static(path)
