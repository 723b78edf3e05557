"""Named glob patterns ("nglob"): glob patterns whose wildcards can be named and matched jointly.

A plan script calls ``glob("data/${*name}.txt", "out/${*name}.csv")`` to find the pairs of files
that belong together: the same name must capture the same text in every pattern. This module
translates such patterns to regular expressions, keeps the matching paths per pattern, and
combines them into *consistent* matches. It is pure: only :meth:`NGlobMulti.glob` looks at the
file system, so the director can update a glob from watch events without scanning anything.

Paths are plain strings, as in the graph: directories end with ``/``.

Pattern syntax (see SPEC 3.3):

- ``*`` matches any text without ``/``; ``?`` one character other than ``/``;
  ``[abc]``, ``[a-z]`` and ``[!abc]`` are character classes (a negated class never matches ``/``).
- ``**`` as a whole path component (``data/**``, ``data/**/x.txt``) may cross ``/``.
- ``${*name}`` is a named wildcard: it captures text, by default like ``*``, or like the glob
  pattern ``subs[name]`` (e.g. ``[0-9]`` or ``??``).

Quirks kept from StepUp 1.3.1 (SPEC 3.3 and 14.7):

- A wildcard that is a whole path component must match at least one character, so
  ``data/**/x.txt`` does *not* match ``data/x.txt``.
- A pattern that ends in ``*`` also matches a directory: ``data/*`` matches ``data/sub/``.
- ``data/**`` matches ``data/`` itself.

Deliberate differences from StepUp 1.3.1, for paths that a normalized relative glob should not
match anyway: a negated class ``[!ab]`` does not match ``/``; the start of a pattern counts as a
separator (``*/x`` and ``**/x`` do not match the absolute ``/x``); a named wildcard with the
default sub-pattern that forms a whole component is not empty either (``d/${*n}`` does not match
``d/``). Also, :meth:`NGlobMulti.files` and iteration give only paths of consistent matches
(StepUp gives every per-pattern match; :meth:`NGlobMulti.per_pattern_paths` has those), and
:meth:`NGlobMulti.single` returns an NGlobMatch when there are named wildcards.
"""

import glob as _glob
import os
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import attrs

from stepup_trio.errors import StepUpError
from stepup_trio.pathstr import Path

__all__ = [
    "NGlobMatch",
    "NGlobMulti",
    "convert_nglob",
    "convert_nglob_to_glob",
    "has_anonymous_wildcards",
    "has_wildcards",
    "wildcard_names",
]

# A named wildcard. Names are identifiers, as in step commands, so they are valid group names
# in a regular expression and valid attribute names of NGlobMatch.
_RE_NAMED = re.compile(r"\$\{\*([_a-zA-Z][_a-zA-Z0-9]*)\}")


# Tokens of a parsed pattern. Named wildcards are flattened into group markers around the tokens
# of their sub-pattern, so the rule "a whole path component matches at least one character"
# sees through them.


@attrs.frozen
class _Literal:
    text: str


@attrs.frozen
class _Star:
    """``*``: any text within one path component."""


@attrs.frozen
class _Recursive:
    """``**`` as a whole path component: any text, separators included."""


@attrs.frozen
class _Question:
    """``?``: one character other than ``/``."""


@attrs.frozen
class _Class:
    """``[...]``: ``glob`` is the original text, ``regex`` its translation."""

    glob: str
    regex: str


@attrs.frozen
class _Open:
    """Start of the sub-pattern of the first occurrence of a named wildcard."""

    name: str


@attrs.frozen
class _Close:
    name: str


@attrs.frozen
class _Backref:
    """A repeated named wildcard: it must capture the same text as the first occurrence.

    ``glob`` is the shell glob of its sub-pattern, for :func:`convert_nglob_to_glob`.
    """

    name: str
    glob: str


_Token = _Literal | _Star | _Recursive | _Question | _Class | _Open | _Close | _Backref
_WILDCARDS = (_Star, _Recursive, _Question, _Class)


def _parse_class(pattern: str, start: int) -> tuple[_Class | None, int]:
    """Parse ``[...]`` at ``pattern[start]``, as fnmatch does; None if it is not closed.

    A ``]`` right after ``[`` or ``[!`` belongs to the class, so ``[]]`` matches ``]``.
    """
    pos = start + 1
    negated = pos < len(pattern) and pattern[pos] == "!"
    if negated:
        pos += 1
    if pos < len(pattern) and pattern[pos] == "]":
        pos += 1
    end = pattern.find("]", pos)
    if end < 0:
        return None, start
    content = pattern[start + 1 + negated : end]
    # Escape what a regex set treats specially; "-" stays, so ranges keep working.
    escaped = "".join("\\" + char if char in "\\^[]&~|" else char for char in content)
    # Glob works per path component, so a negated class must not match a separator either.
    regex = f"[^{escaped}/]" if negated else f"[{escaped}]"
    return _Class(pattern[start : end + 1], regex), end + 1


def _parse_anonymous(pattern: str) -> list[_Token]:
    """Tokens of a pattern without named wildcards (or whose named wildcards are ignored).

    ``**`` is recursive only as a whole component (between separators or the ends of the
    pattern); elsewhere any run of stars means ``*``, as in Python's glob.
    """
    tokens: list[_Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append(_Literal("".join(literal)))
            literal.clear()

    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "*":
            end = pos
            while end < len(pattern) and pattern[end] == "*":
                end += 1
            whole = (pos == 0 or pattern[pos - 1] == "/") and (
                end == len(pattern) or pattern[end] == "/"
            )
            flush()
            tokens.append(_Recursive() if whole and end - pos == 2 else _Star())
            pos = end
        elif char == "?":
            flush()
            tokens.append(_Question())
            pos += 1
        elif char == "[":
            token, end = _parse_class(pattern, pos)
            if token is None:
                literal.append(char)
                pos += 1
            else:
                flush()
                tokens.append(token)
                pos = end
        else:
            literal.append(char)
            pos += 1
    flush()
    return tokens


def _to_glob(tokens: Iterable[_Token]) -> str:
    """Render tokens as a shell glob for ``glob.iglob``, which must match a superset."""
    parts: list[str] = []
    for token in tokens:
        text = ""
        match token:
            case _Literal(text=literal):
                text = _glob.escape(literal)
            case _Star():
                # Adjacent wildcards (``${*a}${*b}``) must not become a recursive ``**``.
                text = "" if parts and parts[-1].endswith("*") else "*"
            case _Recursive():
                if parts and parts[-1].endswith("*"):
                    parts[-1] = parts[-1].rstrip("*")
                text = "**"
            case _Question():
                text = "?"
            case _Class(glob=glob_text):
                text = glob_text
            case _Backref(glob=glob_text):
                text = glob_text
        if text:
            parts.append(text)
    return "".join(parts)


def _check_sub(name: str, sub: Any) -> str:
    """A sub-pattern must be a plain glob pattern: no named wildcards inside named wildcards."""
    if not isinstance(sub, str):
        raise TypeError(f"The sub-pattern of {name} must be a string, got {sub!r}")
    if _RE_NAMED.search(sub):
        raise ValueError(f"Named wildcards are not allowed in the sub-pattern of {name}: {sub}")
    return sub


def _tokenize(pattern: str, subs: Mapping[str, str], named: bool) -> list[_Token]:
    """Parse a pattern; named wildcards become group markers around their sub-pattern."""
    if not named:
        return _parse_anonymous(pattern)
    tokens: list[_Token] = []
    seen: set[str] = set()
    pos = 0
    for match in _RE_NAMED.finditer(pattern):
        tokens.extend(_parse_anonymous(pattern[pos : match.start()]))
        name = match.group(1)
        sub_tokens = _parse_anonymous(_check_sub(name, subs.get(name, "*")))
        if name in seen:
            tokens.append(_Backref(name, _to_glob(sub_tokens)))
        else:
            seen.add(name)
            tokens.extend([_Open(name), *sub_tokens, _Close(name)])
        pos = match.end()
    tokens.extend(_parse_anonymous(pattern[pos:]))
    return tokens


def _neighbour(tokens: list[_Token], index: int, step: int) -> _Token | None:
    """The nearest token before (step=-1) or after (step=1) ``index`` that is not a marker."""
    index += step
    while 0 <= index < len(tokens):
        if not isinstance(tokens[index], _Open | _Close):
            return tokens[index]
        index += step
    return None


def _is_boundary(token: _Token | None, side: int) -> bool:
    """Is there a separator (or the end of the pattern) on this side of a wildcard?"""
    if token is None:
        return True
    if isinstance(token, _Literal):
        return token.text.endswith("/") if side < 0 else token.text.startswith("/")
    return False


def convert_nglob(pattern: str, subs: Mapping[str, str], named: bool) -> str:
    """Translate one pattern into a regular expression, to be used with ``re.fullmatch``.

    With ``named=True``, the first occurrence of ``${*name}`` becomes the group ``(?P<name>...)``
    and later ones a backreference, so a pattern cannot capture two different texts for one
    name. With ``named=False``, named wildcards are not special: ``${*name}`` is the literal
    ``${`` followed by ``*`` and ``name}``; this is how StepUp reads patterns that may not use
    names (sub-patterns).
    """
    tokens = _tokenize(pattern, subs, named)
    parts: list[str] = []
    for index, token in enumerate(tokens):
        match token:
            case _Literal(text=text):
                parts.append(re.escape(text))
            case _Star():
                # Quirk: a whole path component must not be empty (SPEC 3.3).
                before = _is_boundary(_neighbour(tokens, index, -1), -1)
                after = _is_boundary(_neighbour(tokens, index, 1), 1)
                parts.append("[^/]+" if before and after else "[^/]*")
            case _Recursive():
                # Followed by a separator: at least one character (data/**/x.txt needs a
                # subdirectory). At the end: anything, so data/** also matches data/ itself.
                after = _neighbour(tokens, index, 1)
                parts.append(".*" if after is None else ".+")
            case _Question():
                parts.append("[^/]")
            case _Class(regex=regex):
                parts.append(regex)
            case _Open(name=name):
                parts.append(f"(?P<{name}>")
            case _Close():
                parts.append(")")
            case _Backref(name=name):
                parts.append(f"(?P={name})")
    if tokens and isinstance(tokens[-1], _Star):
        # Quirk: a pattern that ends in an anonymous * also matches directories.
        parts.append("/?")
    return "".join(parts)


def convert_nglob_to_glob(pattern: str, subs: Mapping[str, str]) -> str:
    """The shell glob that finds candidates for ``pattern`` on disk.

    Named wildcards become their sub-pattern (``*`` by default). The result matches a superset:
    :meth:`NGlobMulti.extend` filters the candidates with the regular expression.
    """
    return _to_glob(_tokenize(pattern, subs, True))


def wildcard_names(pattern: str) -> tuple[str, ...]:
    """The sorted, unique names of the named wildcards in a pattern."""
    return tuple(sorted({match.group(1) for match in _RE_NAMED.finditer(pattern)}))


def has_anonymous_wildcards(pattern: str) -> bool:
    """Does the pattern contain ``*``, ``?``, ``[..]`` or ``**`` outside named wildcards?

    Such a pattern can match several paths for one set of names, so NGlobMatch gives a list.
    """
    anonymous = _RE_NAMED.sub("", pattern)
    return any(isinstance(token, _WILDCARDS) for token in _parse_anonymous(anonymous))


def has_wildcards(pattern: str) -> bool:
    """Is this a pattern rather than a plain path (named or anonymous wildcards)?"""
    return _RE_NAMED.search(pattern) is not None or has_anonymous_wildcards(pattern)


class GlobError(StepUpError, ValueError):
    """A glob result was used in a way its matches do not allow (e.g. single())."""


@attrs.frozen
class NGlobMatch:
    """One consistent combination: a path (or paths) per pattern and the captured names.

    ``files[i]`` is a path if pattern ``i`` has only named wildcards (or none), because the
    names then fix the path. If it has anonymous wildcards, it is a sorted list of paths.
    Captured names are attributes (``m.name``), unless they collide with one of the
    attributes below; ``m.mapping[name]`` always works.
    """

    mapping: dict[str, str]
    files: tuple[str | list[str], ...]

    def __getattr__(self, name: str) -> str:
        # Only called when normal lookup fails. Avoid recursion while attrs or copy inspect
        # a half-built object (no mapping yet).
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            mapping = object.__getattribute__(self, "mapping")
        except AttributeError:
            raise AttributeError(name) from None
        if name in mapping:
            return mapping[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getitem__(self, index: int) -> str | list[str]:
        return self.files[index]

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[str | list[str]]:
        return iter(self.files)

    @property
    def single(self) -> str:
        """The only file of this match, for a single pattern that matched a single path."""
        paths = [
            path for entry in self.files for path in (entry if isinstance(entry, list) else [entry])
        ]
        if len(paths) != 1:
            raise GlobError(f"Multiple files matched: {len(paths)}, not just one.")
        return paths[0]


@attrs.define(eq=False)
class _Single:
    """Compiled state of one pattern: its regex and its matches, grouped by captured names."""

    pattern: str
    names: tuple[str, ...]
    anonymous: bool
    regex: re.Pattern[str]
    glob_pattern: str
    groups: dict[tuple[str, ...], set[str]] = attrs.Factory(dict)

    def key(self, path: str) -> tuple[str, ...] | None:
        """The captured values, in the order of ``names``, or None if the path does not match."""
        match = self.regex.fullmatch(path)
        return None if match is None else tuple(match.group(name) for name in self.names)

    def add(self, path: str) -> bool:
        key = self.key(path)
        if key is None:
            return False
        self.groups.setdefault(key, set()).add(path)
        return True

    def discard(self, path: str) -> None:
        key = self.key(path)
        group = self.groups.get(key) if key is not None else None
        if group is not None:
            group.discard(path)
            if not group:
                del self.groups[key]


def _check_paths(paths: Iterable[str], what: str) -> list[str]:
    """Reject a lone string: iterating it would feed single characters as paths."""
    if isinstance(paths, str):
        raise TypeError(f"{what} must be an iterable of strings, not a string: {paths!r}")
    result = list(paths)
    for path in result:
        if not isinstance(path, str):
            raise TypeError(f"{what} must contain strings, got {path!r}")
    return result


@attrs.define(eq=True)
class NGlobMulti:
    """Several nglob patterns, their matching paths, and the consistent combinations of them.

    Only ``patterns``, ``subs`` and ``results`` (per pattern, the sorted matching paths) are
    data; everything else is derived in ``__attrs_post_init__``, so cattrs round-trips it and
    the director can store it in the workflow dump.
    """

    patterns: tuple[str, ...] = attrs.field(converter=tuple)
    subs: dict[str, str] = attrs.field(factory=dict)
    results: list[list[str]] = attrs.field(factory=list)
    names: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    _singles: tuple[_Single, ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.patterns:
            raise ValueError("An NGlobMulti needs at least one pattern.")
        for pattern in self.patterns:
            if not isinstance(pattern, str):
                raise TypeError(f"A pattern must be a string, got {pattern!r}")
        self.names = tuple(sorted({n for p in self.patterns for n in wildcard_names(p)}))
        for name, sub in self.subs.items():
            if not isinstance(name, str) or name.startswith("_"):
                raise ValueError(
                    f"Names of named wildcards cannot start with an underscore: {name}"
                )
            if name not in self.names:
                raise ValueError(
                    f"The sub-pattern for {name} is not used: no pattern contains "
                    f"${{*{name}}}. Patterns: {', '.join(self.patterns)}"
                )
            _check_sub(name, sub)
        self._singles = tuple(
            _Single(
                pattern,
                wildcard_names(pattern),
                has_anonymous_wildcards(pattern),
                re.compile(convert_nglob(pattern, self.subs, True)),
                convert_nglob_to_glob(pattern, self.subs),
            )
            for pattern in self.patterns
        )
        results = self.results or [[] for _ in self.patterns]
        if len(results) != len(self.patterns):
            raise ValueError(
                f"Expected results for {len(self.patterns)} patterns, got {len(results)}"
            )
        for single, paths in zip(self._singles, results, strict=True):
            for path in _check_paths(paths, "Results"):
                if not single.add(path):
                    raise ValueError(f"Path {path} does not match pattern {single.pattern}")
        self._update_results()

    @classmethod
    def from_patterns(
        cls, patterns: Iterable[str], subs: Mapping[str, str] | None = None
    ) -> "NGlobMulti":
        """An NGlobMulti without matches yet; feed it with :meth:`extend` or :meth:`glob`."""
        return cls(tuple(_check_paths(patterns, "Patterns")), dict(subs or {}))

    def _update_results(self) -> None:
        """Keep the serialized field in step with the groups, sorted so equality is stable."""
        self.results = [
            sorted(path for group in single.groups.values() for path in group)
            for single in self._singles
        ]

    # Feeding paths

    def extend(self, paths: Iterable[str]) -> None:
        """Add the candidate paths that match one or more patterns; ignore the others."""
        changed = False
        for path in _check_paths(paths, "Paths"):
            for single in self._singles:
                changed |= single.add(path)
        if changed:
            self._update_results()

    def reduce(self, paths: Iterable[str]) -> None:
        """Forget paths (e.g. deleted files)."""
        for path in _check_paths(paths, "Paths"):
            for single in self._singles:
                single.discard(path)
        self._update_results()

    def may_match(self, path: str) -> bool:
        """Does the path match at least one pattern? (Watch mode: is a new path relevant?)"""
        return any(single.key(path) is not None for single in self._singles)

    def may_change(self, deleted: Collection[str], added: Collection[str]) -> bool:
        """A cheap test: could these changes affect any per-pattern result?

        True if a known match is deleted or a new path matches a pattern. The consistent
        matches may still stay the same; :meth:`will_change` tells for sure.
        """
        known = {path for paths in self.results for path in paths}
        return any(path in known for path in deleted) or any(
            path not in known and self.may_match(path) for path in added
        )

    def will_change(self, deleted: Collection[str], added: Collection[str]) -> bool:
        """Would removing ``deleted`` and then adding ``added`` change the consistent matches?

        Watch mode reruns a step only then: a new file that matches just one pattern of a
        multi-pattern glob, without a partner, does not change what the step saw.
        """
        if not self.may_change(deleted, added):
            return False
        other = NGlobMulti(self.patterns, self.subs, [list(paths) for paths in self.results])
        other.reduce(deleted)
        other.extend(added)
        return list(other.matches()) != list(self.matches())

    def glob(self) -> None:
        """Scan the file system (relative to the cwd) and extend with what matches.

        Hidden files count, as in StepUp. Directories get a trailing slash.
        """
        for single in self._singles:
            found = []
            for path in _glob.iglob(single.glob_pattern, recursive=True, include_hidden=True):
                if os.path.isdir(path) and not path.endswith("/"):
                    path += "/"
                found.append(path)
            self.extend(found)

    # Consistent matches

    def _combinations(self) -> list[tuple[dict[str, str], tuple[tuple[str, ...], ...]]]:
        """All consistent combinations: (mapping, key per pattern), sorted by the values.

        A hash join, one pattern at a time, on the names it shares with earlier patterns.
        """
        partial: list[tuple[dict[str, str], tuple[tuple[str, ...], ...]]] = [({}, ())]
        bound: set[str] = set()
        for single in self._singles:
            shared = [name for name in single.names if name in bound]
            index: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
            for key in single.groups:
                values = dict(zip(single.names, key, strict=True))
                index[tuple(values[name] for name in shared)].append(key)
            extended = []
            for mapping, keys in partial:
                for key in index.get(tuple(mapping[name] for name in shared), ()):
                    new_mapping = mapping | dict(zip(single.names, key, strict=True))
                    extended.append((new_mapping, (*keys, key)))
            partial = extended
            bound.update(single.names)
            if not partial:
                break
        partial.sort(key=lambda item: tuple(item[0][name] for name in self.names))
        return partial

    def matches(self) -> Iterator[NGlobMatch]:
        """The consistent matches, sorted by the values of the named wildcards."""
        for mapping, keys in self._combinations():
            files: list[str | list[str]] = []
            for single, key in zip(self._singles, keys, strict=True):
                paths = [Path(path) for path in sorted(single.groups[key])]
                files.append(paths if single.anonymous else paths[0])
            yield NGlobMatch(mapping, tuple(files))

    def files(self) -> tuple[str, ...]:
        """All paths that match any one of the patterns, sorted and unique.

        As in StepUp, this includes paths without a consistent match across patterns; use
        :meth:`matches` for those only.
        """
        return tuple(Path(p) for p in sorted({path for paths in self.results for path in paths}))

    def consistent_files(self) -> tuple[str, ...]:
        """All paths that take part in a consistent match, sorted and unique."""
        paths = {
            path
            for _, keys in self._combinations()
            for single, key in zip(self._singles, keys, strict=True)
            for path in single.groups[key]
        }
        return tuple(Path(path) for path in sorted(paths))

    def per_pattern_paths(self) -> tuple[tuple[str, ...], ...]:
        """For each pattern, the sorted paths that match it, consistent or not.

        StepUp declares all of these static (SPEC 14.7), even without a consistent match.
        """
        return tuple(tuple(paths) for paths in self.results)

    def __iter__(self) -> Iterator[NGlobMatch] | Iterator[str]:
        """NGlobMatch objects if there are named wildcards, else the sorted unique paths."""
        return self.matches() if self.names else iter(self.consistent_files())

    def __bool__(self) -> bool:
        return bool(self._combinations())

    def single(self) -> str:
        """The only file that matched, as in StepUp; an error for zero or several."""
        paths = self.files()
        if len(paths) != 1:
            raise GlobError(f"There are {len(paths)} matching files, not just one.")
        return paths[0]
