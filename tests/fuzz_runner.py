"""Drive a scenario of :mod:`fuzz_model` through a real ``stepup`` and check what it did.

Every session is an interactive ``stepup -w1`` (no ``-n``) in ``<case>/top/proj``, driven by
small scripts that use ``stepup.core.interact``. After every batch of edits: ``wait()``, then
``graph("fuzzgraph")``, and a snapshot of all files under ``<case>/``. A batch is applied in
watch mode (write the files, ``watch_update``/``watch_delete`` the paths the workflow tracks,
``run()``, ``wait()``) or across a restart (``join()``, write the files, start a new session,
``wait()``). At the end, one more restart without edits.

Checks on our tool after every batch (see :func:`check_ours`):

(a) the files equal those of a clean build of the same project state in a fresh folder;
(b) a step STARTs only if it is new, was not SUCCEEDED before, or (transitively, in the previous
    or new graph) depends on an edited path or a deleted output; steps that registered a glob
    may also rerun after a restart or when a path matching their pattern changed;
(c) the same non-orphan steps as in the clean build, and none left PENDING/FAILED that the
    clean build completes;
(d) no orphan is SUCCEEDED or BUILT after a run phase;
(e) the restart at the end gives the same graph.txt and files as the last batch;
(f) the clean build itself completes (no failed or pending step), since projects are valid;
plus: no traceback of stepup itself, no hang, no process left behind.

Differential mode (``--reference`` or ``$STEPUP_REFERENCE``, a venv with StepUp 1.3.1) runs
the same scenario through the reference and compares per batch: the files, graph.txt without
the steps' ``digest``/``inp_digest``/``extended hash`` lines, and the START/SKIP lines (a
difference of order only is reported apart from a difference of the multiset). A reference that
hangs, crashes or prints a traceback of its own makes the scenario *skipped*.

Commands (from the repository root)::

    .venv/bin/python tests/fuzz_runner.py run --count 40 --seed 1           # our tool only
    .venv/bin/python tests/fuzz_runner.py run --reference /tmp/ref --count 60 --seed 1
    .venv/bin/python tests/fuzz_runner.py show 7                            # print scenario 7
    .venv/bin/python tests/fuzz_runner.py replay /tmp/stepup-fuzz/seed-7/scenario.json \\
        [--reference /tmp/ref] [--keep DIR]

``run`` writes every failing scenario to ``--out`` (default ``/tmp/stepup-fuzz``), as
``seed-N/scenario.json`` plus ``project/`` (the rendered initial project), ``report.txt`` and
each tool's session output, graphs and files, then prints a summary. ``--shapes`` limits the
shapes (comma-separated, see :mod:`fuzz_model`; a leading ``-`` excludes them instead).
"""

import argparse
import ast
import collections
import concurrent.futures
import contextlib
import difflib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import attrs
import fuzz_model as fm
from helpers import BIN, OutputReader, clean_env, processes_in, wait_for

GRAPH = "fuzzgraph"
GRAPH_FILES = {f"{GRAPH}.txt", f"{GRAPH}_creator.dot", f"{GRAPH}_supplier.dot"}
REPORTER = re.compile(r"^ *([A-Z]+) │ (.*)$")
TITLE_RULE = re.compile(r"^─+ (.+) ─+$")
DRIVER_TIMEOUT = 60.0
REF_TIMEOUT = 60.0


class ToolError(Exception):
    """Something went wrong while driving a tool: a hang, a crash, a driver error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


# Tools and sessions


@attrs.define
class Tool:
    name: str
    bin: Path
    timeout: float = DRIVER_TIMEOUT

    @property
    def stepup(self) -> str:
        return str(self.bin / "stepup")

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    def env(self, **extra: str) -> dict[str, str]:
        env = clean_env(**extra)
        env["PATH"] = f"{self.bin}{os.pathsep}{env['PATH']}"
        if self.bin != BIN:
            # PYTHONPATH may point our python at a copy of stepup_trio: not for the reference.
            env.pop("PYTHONPATH", None)
            env.pop("PYTHONHOME", None)
        return env


OURS = Tool("ours", BIN)


def reference(path: str | os.PathLike) -> Tool:
    return Tool("ref", Path(path) / "bin", REF_TIMEOUT)


class Session:
    """One interactive ``stepup`` in the root of a case, in its own process group."""

    def __init__(self, tool: Tool, root: Path, workers: int = 1) -> None:
        self.tool = tool
        self.root = root
        self.case = root.parent.parent
        log = root / ".stepup" / "director.log"
        log.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [tool.stepup, f"-w{workers}"],
            cwd=root,
            env=tool.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.reader = OutputReader(self.process)
        self.phases = 0
        self.stdout = self.stderr = ""
        self.returncode: int | None = None
        self.socket = ""
        found = wait_for(lambda: self._socket(log), timeout=30)
        if not found:
            self.kill()
            raise ToolError("start", f"no socket in {log}:\n{self.output()}")

    def _socket(self, log: Path) -> bool:
        if self.process.poll() is not None:
            return True
        try:
            first = log.read_text().splitlines()[0]
        except (OSError, IndexError):
            return False
        if first.startswith("SOCKET ") and os.path.exists(first[7:]):
            self.socket = first[7:]
            return True
        return False

    def output(self) -> str:
        """What the session printed so far (standard error after standard output)."""
        return "\n".join(self.reader.lines + self.reader.errors)

    def drive(self, code: str, timeout: float | None = None) -> str:
        """Run a driver script with the tool's python and interact API."""
        timeout = timeout or self.tool.timeout
        if not self.socket:
            raise ToolError("crash", f"stepup exited at start:\n{self.output()}")
        script = "from stepup.core.interact import *\n" + code
        try:
            result = subprocess.run(
                [self.tool.python, "-c", script],
                cwd=self.root,
                env=self.tool.env(STEPUP_DIRECTOR_SOCKET=self.socket),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise ToolError("hang", f"driver timed out after {timeout}s:\n{code}") from None
        if result.returncode != 0:
            kind = "crash" if self.process.poll() is not None else "driver"
            raise ToolError(kind, f"driver failed:\n{code}\n{result.stderr}")
        return result.stdout

    def probe(self, call: str, timeout: float = 8.0) -> bool:
        """Try one ``watch_update``/``watch_delete`` that may wait forever; False on timeout."""
        try:
            self.drive(call, timeout)
        except ToolError as exc:
            if exc.kind != "hang":
                raise
            return False
        return True

    def run_phase(self, code: str) -> list[str]:
        """Drive one run phase; return its lines, from its ``PHASE │ run`` to ``PHASE │ watch``."""
        self.drive(code)
        self.phases += 1
        count = self.phases
        if not self.reader.wait(lambda lines: _count(lines, "watch") >= count, timeout=30):
            raise ToolError("hang", f"no PHASE │ watch number {count}:\n{self.output()}")
        lines = list(self.reader.lines)
        starts = [i for i, line in enumerate(lines) if _phase(line) == "run"]
        ends = [i for i, line in enumerate(lines) if _phase(line) == "watch"]
        if len(starts) < count:
            raise ToolError("phases", f"missing PHASE │ run number {count}")
        return lines[starts[count - 1] : ends[count - 1] + 1]

    def close(self) -> None:
        """``join()``, wait for the exit and for every process in the case to be gone."""
        try:
            self.drive("join()")
            self.stdout, self.stderr = self.reader.finish(timeout=30)
            self.returncode = self.process.returncode
        finally:
            self.kill()
        left = processes_in(self.case)
        if left and not wait_for(lambda: not processes_in(self.case), timeout=10):
            _kill_all(processes_in(self.case))
            raise ToolError("leftover", f"processes left in {self.case}: {left}")

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if not self.stdout:
            self.stdout, self.stderr = self.reader.finish(timeout=10)
        _kill_all(processes_in(self.case))


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _phase(line: str) -> str | None:
    match = REPORTER.match(line)
    return match.group(2) if match and match.group(1) == "PHASE" else None


def _count(lines: list[str], phase: str) -> int:
    return sum(_phase(line) == phase for line in lines)


# Files on disk


def write_tree(root: Path, project: fm.Project) -> None:
    """Write a fresh project: dirs, files (``.py`` executable)."""
    case = root.parent.parent
    for sub in ("ext", "top/pub", "top/proj"):
        (case / sub).mkdir(parents=True, exist_ok=True)
    for d in fm.render_dirs(project):
        (root / d).mkdir(parents=True, exist_ok=True)
    for path, text in sorted(fm.render(project).items()):
        write_file(root, path, text)


def write_file(root: Path, path: str, text: str) -> None:
    target = Path(os.path.normpath(root / path))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(0o755 if path.endswith(".py") else 0o644)


def snapshot(case: Path) -> dict[str, str]:
    """All files (and dirs, as ``"<dir>"``) under the case, without ``.stepup`` and graphs."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(case):
        rel = os.path.relpath(dirpath, case)
        if rel == "top/proj":
            dirnames[:] = [d for d in dirnames if d != ".stepup"]
            filenames = [f for f in filenames if f not in GRAPH_FILES]
        for d in dirnames:
            result[os.path.normpath(os.path.join(rel, d)) + "/"] = "<dir>"
        for f in filenames:
            path = os.path.join(dirpath, f)
            try:
                result[os.path.normpath(os.path.join(rel, f))] = Path(path).read_text(
                    errors="replace"
                )
            except OSError as exc:
                result[os.path.normpath(os.path.join(rel, f))] = f"<unreadable: {exc}>"
    return dict(sorted(result.items()))


def tree_digest(project: fm.Project) -> str:
    data = json.dumps([fm.render(project), fm.render_dirs(project)], sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


# graph.txt


@attrs.define
class Node:
    key: str
    orphan: bool
    props: dict[str, list[str]] = attrs.Factory(dict)
    rels: list[tuple[str, str]] = attrs.Factory(list)

    @property
    def state(self) -> str | None:
        values = self.props.get("state")
        return values[0] if values else None

    def related(self, role: str) -> list[str]:
        return [other for r, other in self.rels if r == role]


def parse_graph(text: str) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        head = lines[0]
        orphan = head.startswith("(") and head.endswith(")")
        node = Node(head[1:-1] if orphan else head, orphan)
        last = None
        for line in lines[1:]:
            name, sep, value = line[:20].strip(), line[20:23], line[23:]
            if sep == " = ":
                if name:
                    last = name
                    node.props.setdefault(name, []).append(value)
                elif last is not None:
                    node.props[last].append(value)
            else:
                other = value.strip()
                if other.startswith("(") and other.endswith(")"):
                    other = other[1:-1]
                node.rels.append((name, other))
        nodes[node.key] = node
    return nodes


DROPPED = {"digest", "inp_digest", "extended hash"}


def normalize_graph(text: str) -> str:
    """graph.txt without the two-line ``digest``/``inp_digest`` and ``extended hash`` of steps."""
    out, step, dropping = [], False, False
    for line in text.splitlines():
        if not line.strip():
            step = dropping = False
            out.append(line)
            continue
        if not line.startswith(" "):
            step = line.lstrip("(").startswith("step:")
            dropping = False
            out.append(line)
            continue
        name, sep = line[:20].strip(), line[20:23]
        if step and sep == " = ":
            if name:
                dropping = name in DROPPED
            if dropping:
                continue
        else:
            dropping = False
        out.append(line)
    return "\n".join(out) + "\n"


def mask_orphan_states(text: str) -> str:
    """The graph text with the ``state`` (and ``mandatory``) of orphan nodes replaced by ``?``:
    they are recomputed when an orphan is defined again."""
    out, orphan = [], False
    for line in text.splitlines():
        if line and not line.startswith(" "):
            orphan = line.startswith("(")
        elif orphan and line[:20].strip() in ("state", "mandatory") and line[20:23] == " = ":
            line = line[:23] + "?"
        out.append(line)
    return "\n".join(out)


def mask_optional(text: str) -> str:
    """The graph text without optional steps that nothing needs (``mandatory = NO``), what
    they created, and the relations to them."""
    graph = parse_graph(text)
    hidden = {
        k for k, n in graph.items() if k.startswith("step:") and n.props.get("mandatory") == ["NO"]
    }
    hidden |= {other for key in list(hidden) for other in graph[key].related("creates")}
    blocks = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].strip("()") in hidden:
            continue
        blocks.append(
            "\n".join(line for line in lines if line[23:].strip().strip("()") not in hidden)
        )
    return "\n\n".join(blocks)


def ngm_patterns(node: Node) -> list[str]:
    patterns = []
    for value in node.props.get("ngm", []):
        with contextlib.suppress(ValueError, SyntaxError):
            patterns.extend(ast.literal_eval(value[: value.index("]") + 1]))
    return patterns


def relevant(graph: dict[str, Node], path: str) -> str | None:
    """Would the watcher record a change of ``path``?

    ``"sure"`` for a known, non-orphan, non-volatile file in a non-orphan directory, or an
    unknown path matching a glob pattern that a live step registered. ``"maybe"`` for a
    non-volatile file that is known only as an orphan, or whose directory is an orphan (the
    two tools disagree on those). None otherwise: ``watch_update`` would wait forever.
    """
    node = graph.get("file:" + path)
    if node is not None:
        if node.state == "VOLATILE":
            return None
        parents = [graph.get(other) for other in node.related("consumes")]
        parents = [p for p in parents if p is not None and p.key.endswith("/")]
        return "maybe" if node.orphan or any(p.orphan for p in parents) else "sure"
    for other in graph.values():
        if other.key.startswith("step:") and not other.orphan:
            for pattern in ngm_patterns(other):
                if fm.pattern_regex(pattern).fullmatch(path):
                    return "sure"
    return None


def closure(graph: dict[str, Node], key: str, role: str) -> set[str]:
    """The nodes reached from ``key`` through relations ``role``, transitively (not ``key``)."""
    seen: set[str] = set()
    todo = [key]
    while todo:
        node = graph.get(todo.pop())
        if node is None:
            continue
        for other in node.related(role):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def suppliers(graph: dict[str, Node], key: str) -> set[str]:
    """Transitive suppliers of a node (through ``consumes``), the node included."""
    return closure(graph, key, "consumes") | {key}


def live_steps(graph: dict[str, Node]) -> dict[str, str]:
    return {k: n.state for k, n in graph.items() if k.startswith("step:") and not n.orphan}


def actions(lines: list[str], kinds=("START", "SKIP")) -> list[tuple[str, str]]:
    found = []
    for line in lines:
        match = REPORTER.match(line)
        if match and match.group(1) in kinds:
            found.append((match.group(1), match.group(2)))
    return found


def own_tracebacks(text: str) -> list[str]:
    """Traceback lines that are not inside a step's Standard output/error box."""
    found, in_box = [], False
    for line in text.splitlines():
        title = TITLE_RULE.match(line)
        if title:
            in_box = title.group(1) in ("Standard error", "Standard output")
        elif REPORTER.match(line) or line == "─" * 80:
            in_box = False
        elif "Traceback" in line and not in_box:
            found.append(line)
    return found


# Running a scenario through one tool


@attrs.define
class BatchResult:
    index: int
    mode: str
    edited: list[str]
    calls: list[str]
    lines: list[str]
    graph: str
    files: dict[str, str]
    consistent: bool
    digest: str
    project: dict
    notes: list[str] = attrs.Factory(list)


@attrs.define
class ToolRun:
    tool: str
    batches: list[BatchResult] = attrs.Factory(list)
    sessions: list[str] = attrs.Factory(list)  # stdout (+ stderr) of every session
    error: ToolError | None = None
    director_logs: list[str] = attrs.Factory(list)
    seconds: float = 0.0


def apply_batch(root: Path, project: fm.Project, batch: fm.Batch) -> tuple[list, list]:
    """Apply the batch to the model and the disk; return (changed paths, deleted outputs)."""
    before = fm.render(project)
    effects = {"touch": [], "rm": []}
    for edit in batch.edits:
        for key, paths in fm.apply_edit(project, edit).items():
            effects[key].extend(paths)
    after = fm.render(project)
    changed = []
    # Plans last: the watcher then has seen every other change when it records the plan's.
    order = sorted(set(before) | set(after), key=lambda p: (p.endswith("plan.py"), p))
    for path in order:
        if path in after and before.get(path) != after[path]:
            write_file(root, path, after[path])
            changed.append(path)
        elif path not in after:
            target = Path(os.path.normpath(root / path))
            if target.exists():
                target.unlink()
                changed.append(path)
    for path in effects["touch"]:
        target = Path(os.path.normpath(root / path))
        if path not in changed and target.is_file():
            stat = target.stat()
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
            changed.append(path)
    removed = []
    for path in effects["rm"]:
        target = Path(os.path.normpath(root / path))
        if target.is_file():
            target.unlink()
            removed.append(path)
    return sorted(set(changed)), removed


def run_tool(scenario: fm.Scenario, tool: Tool, case: Path) -> ToolRun:
    """Run the whole scenario through one tool in ``case``; never raises for tool problems."""
    started = time.monotonic()
    run = ToolRun(tool.name)
    root = case / "top" / "proj"
    project = fm.clone(scenario.project)
    write_tree(root, project)
    session = None

    def finish_session() -> None:
        nonlocal session
        if session is not None:
            current, session = session, None
            try:
                current.close()
            finally:
                run.sessions.append(current.stdout + current.stderr)
                log = root / ".stepup" / "director.log"
                run.director_logs.append(log.read_text(errors="replace") if log.exists() else "")

    def record(index: int, mode: str, edited, calls, lines) -> None:
        graph = (root / f"{GRAPH}.txt").read_text()
        run.batches.append(
            BatchResult(
                index,
                mode,
                edited,
                calls,
                lines,
                graph,
                snapshot(case),
                fm.consistent(project),
                tree_digest(project),
                fm.CONVERTER.unstructure(project),
            )
        )

    try:
        session = Session(tool, root)
        record(0, "initial", [], [], session.run_phase(f"wait()\ngraph({GRAPH!r})\n"))
        batches = [*scenario.batches, fm.Batch("final")]
        for index, batch in enumerate(batches, start=1):
            if batch.mode == "watch":
                changed, removed = apply_batch(root, project, batch)
                graph = parse_graph(run.batches[-1].graph)
                calls, probes = [], {}
                for path in changed + removed:
                    exists = os.path.lexists(os.path.normpath(root / path))
                    call = f"watch_{'update' if exists else 'delete'}({path!r})"
                    kind = relevant(graph, path)
                    if kind == "sure":
                        calls.append(call)
                    elif kind == "maybe":
                        probes[path] = session.probe(call)
                code = "".join(f"{c}\n" for c in calls) + f"run()\nwait()\ngraph({GRAPH!r})\n"
                lines = session.run_phase(code)
                calls += [
                    f"{p} (probe: {'recorded' if ok else 'timed out'})" for p, ok in probes.items()
                ]
            else:
                finish_session()
                changed, removed = apply_batch(root, project, batch)
                calls = []
                session = Session(tool, root)
                lines = session.run_phase(f"wait()\ngraph({GRAPH!r})\n")
            record(index, batch.mode, changed + removed, calls, lines)
            run.batches[-1].notes.extend(f"deleted output {p}" for p in removed)
        finish_session()
    except ToolError as exc:
        run.error = exc
    except Exception:  # a bug of the harness: report it, do not lose the other scenarios
        run.error = ToolError("harness", traceback.format_exc())
    finally:
        if session is not None:
            session.kill()
            run.sessions.append(session.stdout + session.stderr)
        _kill_all(processes_in(case))
    run.seconds = time.monotonic() - started
    return run


@attrs.define
class CleanBuild:
    files: dict[str, str]
    graph: str
    output: str


class CleanBuilds:
    """Clean builds of project states in fresh folders, cached by the rendered tree.

    ``prefetch`` starts them in background threads (each is a separate ``stepup``), so they
    overlap with each other and with the reference's run.
    """

    def __init__(self, tmp: Path, threads: int = 2) -> None:
        self.tmp = tmp
        self.pool = concurrent.futures.ThreadPoolExecutor(threads)
        self.futures: dict[str, concurrent.futures.Future] = {}

    def prefetch(self, project_data: dict, digest: str) -> None:
        if digest not in self.futures:
            project = fm.CONVERTER.structure(project_data, fm.Project)
            self.futures[digest] = self.pool.submit(self._build, project, digest)

    def get(self, project_data: dict, digest: str) -> CleanBuild:
        self.prefetch(project_data, digest)
        result = self.futures[digest].result()
        if isinstance(result, ToolError):
            raise result
        return result

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _build(self, project: fm.Project, digest: str) -> CleanBuild | ToolError:
        case = self.tmp / f"clean-{digest}"
        root = case / "top" / "proj"
        write_tree(root, project)
        session = None
        try:
            session = Session(OURS, root, workers=2)
            session.run_phase(f"wait()\ngraph({GRAPH!r})\n")
            graph = (root / f"{GRAPH}.txt").read_text()
            session.close()
            return CleanBuild(snapshot(case), graph, session.stdout + session.stderr)
        except ToolError as exc:
            return exc
        finally:
            if session is not None:
                session.kill()
            shutil.rmtree(case, ignore_errors=True)


# Checks


@attrs.define
class Failure:
    kind: str
    batch: int | str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] batch {self.batch}: {self.message}"


def diff_files(left: dict[str, str], right: dict[str, str], names=("got", "want")) -> list[str]:
    problems = []
    for path in sorted(set(left) | set(right)):
        if path not in right:
            problems.append(f"only in {names[0]}: {path}")
        elif path not in left:
            problems.append(f"only in {names[1]}: {path}")
        elif left[path] != right[path]:
            problems.append(f"differs: {path}: {left[path]!r} vs {right[path]!r}")
    return problems


def check_rerun(prev: BatchResult, new: BatchResult) -> list[str]:
    """(b): the START lines of ``new`` that no edit explains.

    A step may start when it is new (not a SUCCEEDED non-orphan step in the previous graph),
    or when its transitive suppliers, in the previous or in the new graph, include an edited
    path, a deleted output (its own outputs count) or a new step. Steps that registered a glob
    may rerun after a restart (as in StepUp 1.3.1) or when a path matching it changed.
    """
    old_graph, new_graph = parse_graph(prev.graph), parse_graph(new.graph)

    def is_new(key: str) -> bool:
        old = old_graph.get(key)
        return old is None or old.orphan or old.state != "SUCCEEDED"

    roots = {"file:" + p for p in new.edited}
    roots |= {k for k, n in new_graph.items() if k.startswith("step:") and is_new(k)}
    # What a step that ran created went to the vacuum and came back: its consumers forgot what
    # they amended (as in StepUp 1.3.1), so those with amended information rerun.
    for _, description in actions(new.lines, ("START",)):
        for graph in (old_graph, new_graph):
            roots |= closure(graph, "step:" + description, "creates")
    problems = []
    for _, description in actions(new.lines, ("START",)):
        key = "step:" + description
        if is_new(key):
            continue
        reach = set()
        for graph in (old_graph, new_graph):
            reach |= suppliers(graph, key) - {key}
            if key in graph:
                reach |= set(graph[key].related("supplies"))
        if reach & roots:
            continue
        globbing = [ngm_patterns(g[key]) for g in (old_graph, new_graph) if key in g]
        patterns = [p for group in globbing for p in group]
        if patterns and new.mode in ("restart", "final"):
            continue  # StepUp 1.3.1 always reruns steps that used glob() after a restart
        if any(fm.pattern_regex(p).fullmatch(path) for p in patterns for path in new.edited):
            continue
        problems.append(description)
    return problems


def orphans_done(graph: dict[str, Node]) -> list[str]:
    return [
        f"({k}) {n.state}"
        for k, n in graph.items()
        if n.orphan
        and (
            (k.startswith("step:") and n.state == "SUCCEEDED")
            or (k.startswith("file:") and n.state == "BUILT")
        )
    ]


def stuck_failed(prev: BatchResult, new: BatchResult) -> list[str]:
    """Steps FAILED before and after a batch that did not touch their suppliers.

    In watch mode a FAILED step only reruns when its inputs change, in StepUp 1.3.1 too: a plan
    that failed on a missing static file stays FAILED after the file is restored (the file is
    its product, not its input). A clean build would complete, so (a), (c) and (e) do not apply.
    """
    old_graph, new_graph = parse_graph(prev.graph), parse_graph(new.graph)
    edited = {"file:" + p for p in new.edited}
    found = []
    for key, node in new_graph.items():
        old = old_graph.get(key)
        if (
            key.startswith("step:")
            and not node.orphan
            and node.state == "FAILED"
            and old is not None
            and not old.orphan
            and old.state == "FAILED"
            and not suppliers(new_graph, key) & edited
        ):
            found.append(key)
    return found


def check_ours(run: ToolRun, cleans: CleanBuilds) -> list[Failure]:
    failures = []
    for extra in run.sessions:
        for line in own_tracebacks(extra):
            failures.append(Failure("traceback", "-", line))
            break
    for log in run.director_logs:
        if "Traceback" in log:
            failures.append(Failure("traceback", "-", "Traceback in .stepup/director.log"))
            break
    if run.error is not None:
        index = len(run.batches)
        failures.append(Failure(run.error.kind, index, run.error.message[-3000:]))
    for i, batch in enumerate(run.batches):
        graph = parse_graph(batch.graph)
        if i > 0:
            bad = check_rerun(run.batches[i - 1], batch)
            if bad:
                failures.append(Failure("b-rerun", batch.index, f"steps rerun needlessly: {bad}"))
        bad = orphans_done(graph)
        if bad:
            failures.append(Failure("d-orphan-done", batch.index, f"orphans still done: {bad}"))
        stuck = stuck_failed(run.batches[i - 1], batch) if i > 0 else []
        if stuck:
            batch.notes.append(f"still FAILED, as in StepUp 1.3.1: {stuck}")
        if not batch.consistent or stuck:
            continue
        try:
            clean = cleans.get(batch.project, batch.digest)
        except ToolError as exc:
            failures.append(Failure("clean-" + exc.kind, batch.index, exc.message[-2000:]))
            continue
        clean_graph = parse_graph(clean.graph)
        clean_steps = live_steps(clean_graph)
        unfinished = {k: s for k, s in clean_steps.items() if s != "SUCCEEDED"}
        if unfinished:
            failures.append(
                Failure("f-clean-incomplete", batch.index, f"clean build left {unfinished}")
            )
        problems = diff_files(batch.files, clean.files, ("incremental", "clean"))
        if problems:
            failures.append(Failure("a-files", batch.index, "; ".join(problems)))
        steps = live_steps(graph)
        left = {
            k: s for k, s in steps.items() if s != "SUCCEEDED" and clean_steps.get(k) == "SUCCEEDED"
        }
        if left:
            failures.append(Failure("c-pending", batch.index, f"left unfinished: {left}"))
        extra = sorted(set(steps) - set(clean_steps))
        missing = sorted(set(clean_steps) - set(steps))
        if extra or missing:
            failures.append(
                Failure(
                    "c-steps", batch.index, f"steps not in clean build {extra}, missing {missing}"
                )
            )
    if len(run.batches) >= 2 and run.batches[-1].mode == "final":
        last, final = run.batches[-2], run.batches[-1]
        if last.consistent and not any("still FAILED" in n for n in last.notes):
            failures.extend(check_final(last, final))
    return failures


def check_final(last: BatchResult, final: BatchResult) -> list[Failure]:
    """(e): a restart without edits changes neither graph.txt nor the files."""
    failures = []
    if final.graph != last.graph:
        diff = difflib.unified_diff(
            last.graph.splitlines(), final.graph.splitlines(), "before", "restart", lineterm=""
        )
        failures.append(Failure("e-restart-graph", "final", "\n" + "\n".join(list(diff)[:80])))
    problems = diff_files(final.files, last.files, ("restart", "before"))
    if problems:
        failures.append(Failure("e-restart-files", "final", "; ".join(problems)))
    return failures


def reference_skip(run: ToolRun) -> str | None:
    """Why the reference's run cannot be compared (hang, crash, its own traceback), if so."""
    if run.error is not None:
        return f"ref-{run.error.kind}"
    for text in run.sessions:
        if own_tracebacks(text) or "     ERROR │" in text:
            return "ref-traceback"
    if any("Traceback" in log for log in run.director_logs):
        return "ref-traceback"
    return None


def _probes(batch: BatchResult) -> dict[str, bool]:
    """The probed paths of a batch and whether the watcher recorded them."""
    found = {}
    for call in batch.calls:
        if "(probe: " in call:
            path, _, result = call.partition(" (probe: ")
            found[path] = result.startswith("recorded")
    return found


def _states_against_disk(batch: BatchResult) -> list[str]:
    """Static files that graph.txt shows STATIC while they are gone, or MISSING while they are
    there (defined nodes only)."""
    found = []
    for key, node in parse_graph(batch.graph).items():
        if not key.startswith("file:") or node.orphan or node.state not in ("STATIC", "MISSING"):
            continue
        path = key[5:]
        if path.startswith("/") or re.fullmatch(r"\./|(\.\./)+", path):
            continue  # Always there.
        where = os.path.normpath(os.path.join("top/proj", path)) + (
            "/" if path.endswith("/") else ""
        )
        if where.startswith(".."):
            continue  # Outside the case: the root's parents.
        exists = where in batch.files
        if exists != (node.state == "STATIC"):
            found.append(f"{path} {node.state}")
    return found


def compare(ours: ToolRun, ref: ToolRun, ref_wrong: dict[int, str]) -> list[Failure]:
    """The differences between the two tools, batch by batch.

    Kinds that start with ``ref-`` are faults of the reference (see :func:`classify`): the
    comparison stops at the first one, since the runs diverge from there. ``known-`` kinds are
    deliberate differences (docs/migrating.md); the others are failures.
    """
    failures = []
    for mine, theirs in zip(ours.batches, ref.batches, strict=False):
        if mine.index in ref_wrong:
            failures.append(Failure("ref-wrong-build", mine.index, ref_wrong[mine.index]))
            break
        stale = _states_against_disk(theirs)
        if stale and not _states_against_disk(mine):
            # docs/migrating.md, "A skipped plan declares its static files as they are on
            # disk": the runs diverge from here, as they should.
            failures.append(Failure("known-static-state", mine.index, f"ref: {stale}"))
            break
        hung = [p for p, ok in _probes(theirs).items() if not ok and _probes(mine).get(p)]
        if hung:
            # A watch_update that waits forever: a path that the reference does not track.
            failures.append(Failure("ref-hang-watch", mine.index, f"not recorded: {hung}"))
            break
        if _probes(mine) != _probes(theirs):
            failures.append(
                Failure("diff-watch-orphan", mine.index, f"ours {mine.calls}, ref {theirs.calls}")
            )
        problems = diff_files(mine.files, theirs.files, ("ours", "ref"))
        if problems:
            failures.append(Failure("diff-files", mine.index, "; ".join(problems)))
        a, b = normalize_graph(mine.graph), normalize_graph(theirs.graph)
        if a != b:
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "ours", "ref", lineterm="")
            # docs/migrating.md, "No orphan looks done": a deliberate difference, kept apart.
            masked = mask_orphan_states(mask_optional(a)), mask_orphan_states(mask_optional(b))
            if mask_orphan_states(a) == mask_orphan_states(b):
                kind = "known-orphan-state"
            elif masked[0] == masked[1]:
                # docs/migrating.md, "Optional steps of a skipped plan survive a restart".
                kind = "known-optional-kept"
            else:
                kind = "diff-graph"
            failures.append(Failure(kind, mine.index, "\n" + "\n".join(list(diff)[:120])))
        left, right = actions(mine.lines), actions(theirs.lines)
        if collections.Counter(left) != collections.Counter(right):
            only_ours = collections.Counter(left) - collections.Counter(right)
            only_ref = collections.Counter(right) - collections.Counter(left)
            failures.append(
                Failure(
                    "diff-start-skip",
                    mine.index,
                    f"only ours: {sorted(only_ours.elements())}; "
                    f"only ref: {sorted(only_ref.elements())}",
                )
            )
        elif left != right:
            failures.append(
                Failure("diff-start-skip-order", mine.index, f"ours {left}\nref  {right}")
            )
    return failures


def wrong_builds(ours: list[Failure], ref: list[Failure]) -> dict[int, str]:
    """Batches where the reference's files differ from a clean build's, and ours do not."""
    mine = {f.batch for f in ours if f.kind == "a-files"}
    return {f.batch: f.message for f in ref if f.kind == "a-files" and f.batch not in mine}


def classify(failures: list[Failure], skip: str | None) -> tuple[str, str | None]:
    """The status of a scenario (passed, failed, skipped) and why the reference was skipped."""
    real = [f for f in failures if not f.kind.startswith(("ref-", "known-"))]
    if real:
        return "failed", skip
    faults = [f.kind for f in failures if f.kind.startswith("ref-")]
    if skip or faults:
        return "skipped", skip or faults[0]
    return "passed", None


# One scenario, many scenarios


@attrs.define
class Outcome:
    seed: int
    status: str  # passed, failed, skipped
    failures: list[Failure]
    skip: str | None
    ours: ToolRun
    ref: ToolRun | None
    ref_notes: list[Failure] = attrs.Factory(list)


def run_scenario(
    scenario: fm.Scenario, ref_tool: Tool | None = None, keep: Path | None = None
) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="stepup-fuzz-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cleans = CleanBuilds(work)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            later = pool.submit(run_tool, scenario, ref_tool, work / "ref") if ref_tool else None
            ours = run_tool(scenario, OURS, work / "ours")
            for batch in ours.batches:
                if batch.consistent:
                    cleans.prefetch(batch.project, batch.digest)
            failures = check_ours(ours, cleans)
            ref = later.result() if later else None
        skip, notes = None, []
        if ref is not None:
            skip = reference_skip(ref)
            # What the reference does on our own invariants: context for the report, and
            # the batches where it builds wrong files.
            on_ref = check_ours(ref, cleans)
            notes = [f for f in on_ref if f.kind[:2] in ("a-", "b-", "d-", "e-")]
            if skip is None or ref.error is not None:
                # The batches before one that hung or crashed are still comparable.
                failures.extend(compare(ours, ref, wrong_builds(failures, on_ref)))
        cleans.close()
    status, skip = classify(failures, skip)
    return Outcome(scenario.seed, status, failures, skip, ours, ref, notes)


def describe(scenario: fm.Scenario, outcome: Outcome | None = None) -> str:
    """Everything needed to reproduce a scenario by hand."""
    parts = [f"seed {scenario.seed}, shapes {','.join(scenario.shapes)}"]
    for path, text in sorted(fm.render(scenario.project).items()):
        parts.append(f"--- {path}\n{text.rstrip()}")
    for number, batch in enumerate(scenario.batches, start=1):
        parts.append(f"=== batch {number} ({batch.mode})")
        parts.extend(f"  {json.dumps(edit)}" for edit in batch.edits)
    if outcome is not None:
        parts.append("=== failures")
        parts.extend(str(f) for f in outcome.failures)
        if outcome.ref_notes:
            parts.append("=== the reference on the same invariants")
            parts.extend(str(f) for f in outcome.ref_notes)
        for run in filter(None, (outcome.ours, outcome.ref)):
            for batch in run.batches:
                parts.append(
                    f"=== {run.tool} batch {batch.index} ({batch.mode}) edited {batch.edited} "
                    f"calls {batch.calls}"
                )
                parts.extend(batch.lines)
    return "\n".join(parts)


def save(outcome: Outcome, scenario: fm.Scenario, out: Path) -> Path:
    folder = out / f"seed-{scenario.seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "scenario.json").write_text(json.dumps(fm.to_json(scenario), indent=1) + "\n")
    write_tree(folder / "project" / "top" / "proj", scenario.project)
    (folder / "report.txt").write_text(describe(scenario, outcome) + "\n")
    kinds = {
        "failures": [attrs.asdict(f) for f in outcome.failures],
        "reference_notes": [attrs.asdict(f) for f in outcome.ref_notes],
        "skip": outcome.skip,
    }
    (folder / "failures.json").write_text(json.dumps(kinds, indent=1) + "\n")
    for run in filter(None, (outcome.ours, outcome.ref)):
        sub = folder / run.tool
        sub.mkdir()
        for number, text in enumerate(run.sessions):
            (sub / f"session{number}.txt").write_text(text)
        for number, text in enumerate(run.director_logs):
            (sub / f"director{number}.log").write_text(text)
        for batch in run.batches:
            (sub / f"graph{batch.index}.txt").write_text(batch.graph)
            (sub / f"files{batch.index}.json").write_text(json.dumps(batch.files, indent=1))
        if run.error is not None:
            (sub / "error.txt").write_text(str(run.error))
    return folder


def parse_shapes(text: str | None) -> set[str] | None:
    if not text:
        return None
    names = {name.strip() for name in text.split(",") if name.strip()}
    if all(name.startswith("-") for name in names):
        return set(fm.ALL_SHAPES) - {name[1:] for name in names}
    return names


def run_many(
    seeds, ref_tool: Tool | None, out: Path, shapes=None, log=print, **options
) -> list[Outcome]:
    outcomes = []
    for seed in seeds:
        scenario = fm.generate(seed, shapes, **options)
        outcome = run_scenario(scenario, ref_tool)
        outcomes.append(outcome)
        where = ""
        if outcome.status == "failed":
            where = f" -> {save(outcome, scenario, out)}"
        kinds = sorted({f.kind for f in outcome.failures})
        timing = f"ours {outcome.ours.seconds:.1f}s"
        if outcome.ref is not None:
            timing += f", ref {outcome.ref.seconds:.1f}s"
        skip = f" ({outcome.skip})" if outcome.skip else ""
        log(f"seed {seed}: {outcome.status}{skip} {kinds or ''} [{timing}]{where}")
    log(summary(outcomes))
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    status = collections.Counter(o.status for o in outcomes)
    kinds = collections.Counter(
        k for o in outcomes for k in {f.kind for f in o.failures} if not k.startswith("known-")
    )
    known = collections.Counter(
        k for o in outcomes for k in {f.kind for f in o.failures} if k.startswith("known-")
    )
    skips = collections.Counter(o.skip for o in outcomes if o.skip)
    ours = [o.ours.seconds for o in outcomes]
    refs = [o.ref.seconds for o in outcomes if o.ref is not None]
    lines = [
        f"{len(outcomes)} scenarios: {status['passed']} passed, {status['failed']} failed, "
        f"{status['skipped']} skipped (failed scenarios with a skipped reference count as failed)",
        "kinds (scenarios): " + (", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) or "-"),
        "reference skipped by reason: "
        + (", ".join(f"{k}={n}" for k, n in sorted(skips.items())) or "-"),
        "deliberate differences seen (docs/migrating.md): "
        + (", ".join(f"{k}={n}" for k, n in sorted(known.items())) or "-"),
    ]
    if ours:
        lines.append(f"time per scenario: ours {sum(ours) / len(ours):.1f}s")
    if refs:
        lines[-1] += f", reference {sum(refs) / len(refs):.1f}s"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "replay", "show"):
        cmd = sub.add_parser(name)
        if name == "run":
            cmd.add_argument("--count", type=int, default=20)
            cmd.add_argument("--seed", type=int, default=0, help="first seed")
            cmd.add_argument("--out", type=Path, default=Path("/tmp/stepup-fuzz"))
        elif name == "replay":
            cmd.add_argument("scenario", type=Path, help="a scenario.json")
            cmd.add_argument("--keep", type=Path, help="run in this folder and keep it")
        else:
            cmd.add_argument("seed", type=int)
        if name != "replay":
            cmd.add_argument("--shapes", help="e.g. cat,sub,amend or -rout,-pub")
            cmd.add_argument("--max-steps", type=int, default=12)
            cmd.add_argument("--max-batches", type=int, default=4)
        if name != "show":
            cmd.add_argument("--reference", default=os.environ.get("STEPUP_REFERENCE"))
    args = parser.parse_args(argv)
    ref_tool = reference(args.reference) if getattr(args, "reference", None) else None
    if args.command == "show":
        scenario = fm.generate(
            args.seed, parse_shapes(args.shapes), args.max_steps, args.max_batches
        )
        print(describe(scenario))
        print(json.dumps(fm.to_json(scenario), indent=1))
        return 0
    if args.command == "replay":
        scenario = fm.from_json(json.loads(args.scenario.read_text()))
        outcome = run_scenario(scenario, ref_tool, keep=args.keep)
        print(describe(scenario, outcome))
        print(f"\n{outcome.status}" + (f" ({outcome.skip})" if outcome.skip else ""))
        return outcome.status == "failed"
    outcomes = run_many(
        range(args.seed, args.seed + args.count),
        ref_tool,
        args.out,
        parse_shapes(args.shapes),
        max_steps=args.max_steps,
        max_batches=args.max_batches,
    )
    return any(o.status == "failed" for o in outcomes)


if __name__ == "__main__":
    sys.exit(main())
