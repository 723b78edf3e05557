"""The rules of a StepUp workflow: what steps declare, and what may run.

Everything here is synchronous and free of I/O. The director asks the workflow what can run,
hands steps to workers, and tells the workflow what happened. The rules for running, skipping
and cleaning live in :mod:`stepup_trio.core.execution`; this module holds the declarations.
"""

from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from stepup_trio.core.actions import (
    Action,
    Amend,
    DeclareStatic,
    DeferGlob,
    DefinePool,
    DefineStep,
    RegisterGlob,
)
from stepup_trio.core.changes import Changes
from stepup_trio.core.execution import Execution
from stepup_trio.core.graph import Graph
from stepup_trio.core.paths import is_always_static, parent_path
from stepup_trio.core.states import FileState, Mandatory, StepState
from stepup_trio.core.vacuum import Vacuum
from stepup_trio.errors import CyclicError, GraphError
from stepup_trio.plugin_api import Node, SourceNode

__all__ = ["Workflow", "required_dirs"]

# The nodes of the built-in kinds are accessed through their attributes only, so that this
# module depends on the plugin API and not on the kind modules.
FileNode = Any
StepNode = Any


def required_dirs(workdir: str | None, out_paths: list[str], vol_paths: list[str]) -> list[str]:
    """The directories a step needs: its working directory and those of its outputs."""
    dirs = {parent_path(path) or "./" for path in out_paths + vol_paths}
    if workdir is not None:
        dirs.add(workdir)
    return sorted(dirs - set(out_paths))


class Workflow(Execution, Changes, Vacuum):
    """A graph, the steps' declarations, and (from :class:`Execution`) what may run."""

    def __init__(self, kinds: Mapping[str, type[Node]], graph: Graph | None = None) -> None:
        self.kinds = kinds
        self.queue: deque[StepNode] = deque()
        # What each running step has done so far: its recording once it succeeds.
        self._recordings: dict[StepNode, list[Action]] = {}
        # Amended inputs that were not available when a running step asked for them.
        self._reschedule: dict[StepNode, set[str]] = {}
        # Steps waiting for a check of their amended inputs (see Execution.try_queue).
        self.to_validate: set[StepNode] = set()
        # Steps whose amended inputs may be outdated: just redefined, or an input changed.
        self.may_validate: set[StepNode] = set()
        # Queued steps whose hash was found changed: they run without another check.
        self.must_run: set[StepNode] = set()
        # Nodes waiting to be handed to the vacuum (see Vacuum.orphan).
        self._to_orphan: deque[Node] = deque()
        self._orphaning = False
        if graph is None:
            graph = Graph()
            graph.add_root(kinds["root"](), kinds["vacuum"]())
        self.graph = graph
        self.pools: dict[str, int] = {}
        self.pool_running: dict[str, int] = {}
        self.pool_parked: dict[str, deque[StepNode]] = {}
        # Deferred globs by key, to match the inputs of new steps against them.
        self.deferred: dict[str, Node] = {}
        for node in self.graph:
            if node.kind == "step" and not node.orphan:
                self.pools.update(node.pools)
            elif node.kind == "dg":
                self.deferred[node.key] = node

    @classmethod
    def boot(cls, kinds: Mapping[str, type[Node]], plan: str = "plan.py") -> "Workflow":
        """A fresh workflow whose only step runs the top-level plan script."""
        workflow = cls(kinds)
        workflow.define_boot(plan)
        return workflow

    def define_boot(self, plan: str = "plan.py") -> StepNode:
        """Declare the plan script and the step that runs it, both created by the root."""
        root = self.graph.root
        self.declare_static(root, [plan])
        return self.define_step(root, f"./{plan}", inp=[plan])

    def restart(
        self, plan: str = "plan.py", from_scratch: bool = False, loaded: bool = False
    ) -> StepNode:
        """Dissolve and boot again: replaying the plan takes back whatever is still defined.

        After loading a dump (``loaded``), only the steps that had succeeded keep their
        recordings, as in StepUp, whose dump holds no recordings: it derives them from the
        graph of the steps that succeeded. The others run again rather than replay.
        """
        if loaded:
            for step in self.steps():
                if step.state != StepState.SUCCEEDED:
                    step.recording = None
        self.dissolve(from_scratch)
        return self.define_boot(plan)

    def dissolve(self, from_scratch: bool = False) -> None:
        """Hand every node to the vacuum and drop the relations of steps.

        Used after loading a dump: replaying the boot step takes back, one by one, the nodes
        that are still defined, with their hashes, so unchanged steps are skipped. From scratch,
        the hashes are dropped too, so that every step runs again.
        """
        for node in list(self.graph):
            if node.kind in ("root", "vacuum"):
                continue
            self.graph.orphan(node)
            if node.kind == "step":
                self.graph.clear_suppliers(node)
                for consumer in list(node.consumers):
                    self.graph.remove_supplier(node, consumer)
                # Nothing is known to be done until the replay says so (see Vacuum).
                node.state = StepState.PENDING
                if node.globs or from_scratch:
                    # Globs see new files that the graph cannot know of: such steps rerun.
                    node.hash = None
                    node.recording = None
                node.drop_amended()
                node.globs = []
            elif node.kind == "file" and node.state == FileState.BUILT:
                node.state = FileState.PENDING
        self.queue.clear()
        self._recordings.clear()
        self._reschedule.clear()
        self.to_validate.clear()
        self.may_validate.clear()
        self.must_run.clear()
        self.pools.clear()
        self.pool_running.clear()
        self.pool_parked.clear()

    # Lookup

    def file(self, path: str) -> FileNode | None:
        return self.graph.get(f"file:{path}")

    def step(self, local_key: str) -> StepNode | None:
        return self.graph.get(f"step:{local_key}")

    def steps(self) -> Iterator[StepNode]:
        return (node for node in self.graph if node.kind == "step")

    @staticmethod
    def inputs(step: StepNode) -> list[FileNode]:
        return [node for node in step.suppliers if node.kind == "file"]

    @staticmethod
    def outputs(step: StepNode) -> list[FileNode]:
        return [node for node in step.consumers if node.kind == "file"]

    # Files

    def _new_file(self, path: str, state: FileState) -> FileNode:
        return self.kinds["file"](path=path, state=state)

    def _supplier_file(self, path: str) -> FileNode:
        """The node for a path something depends on; unknown paths become orphan placeholders."""
        node = self.file(path)
        if is_always_static(path):
            # ./, / and ../ always exist: the root takes them back when they were orphaned.
            if node is None or node.orphan:
                node = self.graph.add(self._new_file(path, FileState.STATIC), self.graph.root)
                self.graph.clear_suppliers(node)
                self._link_parent(node)
        elif node is None:
            node = self.graph.add_orphan(self._new_file(path, FileState.PENDING))
            self._link_parent(node)
        elif node.orphan:
            # An orphan starts afresh as a placeholder (keeping its hash): what made it before
            # no longer does, until it is defined again. A file of the user stays one (StepUp
            # makes it pending, and a cleanup may then remove it).
            if node.state not in (FileState.STATIC, FileState.MISSING):
                node.state = FileState.PENDING
            self.graph.clear_suppliers(node)
            self._link_parent(node)
        return node

    def _link_parent(self, node: FileNode) -> None:
        parent = parent_path(node.path)
        if parent is not None:
            self.graph.add_supplier(self._supplier_file(parent), node)

    def _add_product_file(self, creator: Node, path: str, state: FileState) -> FileNode:
        node = self.graph.add(self._new_file(path, state), creator)
        self.graph.clear_suppliers(node)
        self._link_parent(node)
        return node

    def declare_static(
        self, creator: Node, paths: Iterable[str], missing: Collection[str] = ()
    ) -> list[FileNode]:
        """Declare files and directories (trailing slash) that the user provides.

        A skipped step declares again what it declared when it ran; those of ``missing`` are
        gone from the disk since: they are declared ``MISSING``, and wait to be restored.
        """
        paths = sorted(set(paths))
        declared = set(paths)
        for path in paths:
            existing = self.file(path)
            if existing is not None and not existing.orphan:
                raise GraphError(f"Static path already exists: {path}")
            if creator.kind != "dg" and self.deferred_glob_for(path) is not None:
                raise GraphError(f"Cannot manually add a file that matches a deferred glob: {path}")
            parent = parent_path(path)
            if parent is None or is_always_static(parent) or parent in declared:
                continue
            parent_node = self.file(parent)
            if parent_node is None or parent_node.orphan:
                raise GraphError(f"Static path has no parent path node: {path}")
            if parent_node.state != FileState.STATIC and not (
                path in missing and parent_node.state == FileState.MISSING
            ):
                raise GraphError(f"Static path has no static parent path node: {path}")
        nodes = [
            self._add_product_file(
                creator, path, FileState.MISSING if path in missing else FileState.STATIC
            )
            for path in paths
        ]
        for node in nodes:
            self._queue_consumers([node])
        return nodes

    # Actions of running steps

    def perform(self, creator: Node, action: Action) -> Any:
        """Carry out an action for ``creator`` and add it to the creator's recording."""
        if isinstance(action, DefineStep):
            result = self.define_step(
                creator,
                action.command,
                workdir=action.workdir,
                inp=action.inp,
                out=action.out,
                vol=action.vol,
                env=action.env,
                optional=action.optional,
                pool=action.pool,
                block=action.block,
                needs=action.needs,
            )
        elif isinstance(action, DeclareStatic):
            result = self.declare_static(creator, action.paths)
        elif isinstance(action, Amend):
            result = self.amend(
                creator, inp=action.inp, env=action.env, out=action.out, vol=action.vol
            )
        elif isinstance(action, DefinePool):
            result = self.define_pool(creator, action.name, action.size)
        elif isinstance(action, RegisterGlob):
            creator.globs = [*creator.globs, action]
            result = None
        elif isinstance(action, DeferGlob):
            result = self.defer_glob(creator, action.patterns)
        else:
            raise GraphError(f"Unknown action: {type(action).__name__}")
        recording = self._recordings.get(creator)
        if recording is not None:
            recording.append(action)
        return result

    def define_pool(self, creator: StepNode, name: str, size: int) -> None:
        """Define or resize a pool; steps of a pool wait while it is full."""
        if size <= 0:
            raise GraphError(f"The size of pool {name!r} must be positive, got {size}.")
        self.pools[name] = size
        creator.pools = {**creator.pools, name: size}
        # Steps of this pool that were waiting for it may run now.
        for step in self.steps():
            if step.pool == name:
                self.try_queue(step)

    def define_step(
        self,
        creator: Node,
        command: str,
        *,
        workdir: str = "./",
        inp: Iterable[str] = (),
        out: Iterable[str] = (),
        vol: Iterable[str] = (),
        env: Iterable[str] = (),
        optional: bool = False,
        pool: str | None = None,
        block: bool = False,
        needs: Iterable[str] = (),
    ) -> StepNode:
        """Add a step, or take back its orphan, and queue it if it can run.

        Every check comes before the first change, so a refused step leaves no trace.
        """
        inp_paths, out_paths, vol_paths = sorted(set(inp)), sorted(set(out)), sorted(set(vol))
        sources = self._sources(needs)
        fresh = self.kinds["step"](
            command=command,
            workdir=workdir,
            mandatory=Mandatory.NO if optional else Mandatory.YES,
            pool=pool,
            block=block,
            env_vars=tuple(sorted(set(env))),
            inp=tuple(inp_paths),
            out=tuple(out_paths),
            vol=tuple(vol_paths),
            needs=tuple(node.key for node in sources),
        )
        existing = self.graph.get(fresh.key)
        if existing is not None and not existing.orphan:
            raise GraphError(f"Cannot define a step twice: {existing.key}")
        if creator.orphan:
            raise GraphError(f"An orphan cannot define steps: {creator.key}")
        required = self._check_links(fresh.key, existing, inp_paths, out_paths, vol_paths, workdir)
        self._adopt_deferred(required + inp_paths)
        step = self.graph.add(fresh, creator)
        self._link_step(step, required + inp_paths, out_paths, vol_paths)
        for source in sources:
            self.graph.add_supplier(self._source(source), step)
        if step.recording is not None:
            # A recycled step with the same definition: it knows its amended dependencies
            # before it runs, so it waits for them and can be skipped.
            for action in step.recording:
                if isinstance(action, Amend):
                    self.amend(step, inp=action.inp, env=action.env, out=action.out, vol=action.vol)
                    self.may_validate.add(step)
        if step.mandatory == Mandatory.NO and any(
            consumer.kind == "step" and not consumer.orphan and consumer.mandatory != Mandatory.NO
            for node in self.outputs(step)
            for consumer in node.consumers
        ):
            # A needed step already waits for one of its outputs.
            step.mandatory = Mandatory.IMPLIED
        self._imply(step)
        self.try_queue(step)
        return step

    def _sources(self, keys: Iterable[str]) -> list[SourceNode]:
        """Fresh source nodes for the keys in ``needs``, checked before anything changes."""
        sources = {}
        for key in keys:
            kind, sep, local_key = key.partition(":")
            cls = self.kinds.get(kind)
            if not sep or cls is None or not issubclass(cls, SourceNode):
                known = sorted(n for n, c in self.kinds.items() if issubclass(c, SourceNode))
                raise GraphError(
                    f"Unknown source {key!r} in needs: a source is named 'kind:key' with an "
                    f"installed source kind ({', '.join(known) or 'none is installed'}). "
                    "Source kinds come from plugins; see stepup --list-plugins."
                )
            try:
                node = cls.from_local_key(local_key)
            except ValueError as exc:
                raise GraphError(f"Invalid source {key!r} in needs: {exc}") from None
            sources[node.key] = node
        return [sources[key] for key in sorted(sources)]

    def _source(self, fresh: SourceNode) -> SourceNode:
        """The source node in the graph: sources belong to the root, as long as a step needs
        them (Execution.clean removes the others)."""
        existing = self.graph.get(fresh.key)
        if existing is not None and not existing.orphan:
            return existing
        return self.graph.add(fresh, self.graph.root)

    def amend(
        self,
        step: StepNode,
        *,
        inp: Iterable[str] = (),
        env: Iterable[str] = (),
        out: Iterable[str] = (),
        vol: Iterable[str] = (),
    ) -> bool:
        """Add dependencies that a step discovered while running.

        Returns False when an amended input is not available yet: the running step should stop,
        and it is rescheduled once the input has been built.
        """
        known = {node.path for node in step.suppliers if node.kind == "file"}
        inp_paths = sorted(set(inp) - known)
        owned = set(step.out) | set(step.vol) | set(step.amended_out) | set(step.amended_vol)
        out_paths = sorted(set(out) - owned)
        vol_paths = sorted(set(vol) - owned)
        required = self._check_links(
            step.key, step, inp_paths, out_paths, vol_paths, None, owned=owned
        )
        required = [path for path in required if path not in known]
        new_env = sorted(set(env) - set(step.env_vars) - set(step.amended_env))
        self._adopt_deferred(required + inp_paths)
        self._link_step(step, required + inp_paths, out_paths, vol_paths)
        step.amended_inp = tuple(sorted({*step.amended_inp, *required, *inp_paths}))
        step.amended_out = tuple(sorted({*step.amended_out, *out_paths}))
        step.amended_vol = tuple(sorted({*step.amended_vol, *vol_paths}))
        step.amended_env = tuple(sorted({*step.amended_env, *new_env}))
        self._imply(step)
        missing = {
            path
            for path in required + inp_paths
            if not ((node := self.file(path)).is_available() and not node.orphan)
        }
        if missing and step.state == StepState.RUNNING:
            self._reschedule.setdefault(step, set()).update(missing)
        return not missing

    def _check_links(
        self,
        key: str,
        existing: StepNode | None,
        inp_paths: list[str],
        out_paths: list[str],
        vol_paths: list[str],
        workdir: str | None,
        owned: set[str] = frozenset(),
    ) -> list[str]:
        """Check new inputs and outputs of a step; return the directories it also needs.

        ``owned`` are the outputs the step already has: an output inside one of its own
        output directories does not need that directory as an input.
        """
        for path in inp_paths:
            node = self.file(path)
            if node is not None and not node.orphan and node.state == FileState.VOLATILE:
                raise GraphError(f"Input is volatile: {path}")
            if path in out_paths or path in vol_paths:
                raise GraphError(f"A step cannot use its own output as input: {path}")
        for path in out_paths + vol_paths:
            if self.deferred_glob_for(path) is not None:
                raise GraphError(f"Cannot manually add a file that matches a deferred glob: {path}")
        for path in out_paths:
            node = self.file(path)
            if node is not None and not node.orphan:
                raise GraphError(f"Output is already created: {path}")
        for path in vol_paths:
            if path.endswith("/"):
                raise GraphError(f"A volatile output cannot be a directory: {path}")
            node = self.file(path)
            if node is not None and not node.orphan:
                raise GraphError(f"Volatile output is already created: {path}")
            if node is not None and any(c.kind == "step" for c in node.consumers):
                raise GraphError(f"An input to an existing step cannot be volatile: {path}")
        required = [
            path for path in required_dirs(workdir, out_paths, vol_paths) if path not in owned
        ]
        self._check_new_step_acyclic(key, existing, required + inp_paths, out_paths + vol_paths)
        self.deferred_candidates(required + inp_paths)  # Two matching globs are an error.
        return required

    def _link_step(
        self, step: StepNode, supplier_paths: list[str], out_paths: list[str], vol_paths: list[str]
    ) -> None:
        for path in supplier_paths:
            self.graph.add_supplier(self._supplier_file(path), step)
        for paths, state in ((out_paths, FileState.PENDING), (vol_paths, FileState.VOLATILE)):
            for path in paths:
                node = self._add_product_file(step, path, state)
                self.graph.add_supplier(step, node)

    def _check_new_step_acyclic(
        self,
        key: str,
        existing: StepNode | None,
        supplier_paths: list[str],
        out_paths: list[str],
    ) -> None:
        """Refuse a step whose new relations would close a cycle, before anything changes.

        New supplier paths get placeholder nodes and parent links up to the first known
        ancestor, so a cycle can run through a path that does not exist yet: an input inside a
        directory that the step itself makes, or the step's own output.
        """
        outputs = set(out_paths)
        targets = []
        for path in supplier_paths:
            chain = [path]
            while (node := self.file(chain[-1])) is None:
                if chain[-1] in outputs:
                    keys = [key, *(f"file:{p}" for p in reversed(chain)), key]
                    cycle = "".join(f"\n  {item}" for item in keys)
                    raise CyclicError(f"New relation introduces cyclic dependency:{cycle}")
                parent = parent_path(chain[-1])
                if parent is None:
                    break
                chain.append(parent)
            else:
                targets.append(node)
        out_nodes = [node for path in out_paths if (node := self.file(path)) is not None]
        starts = out_nodes + (list(existing.consumers) if existing is not None else [])
        self.graph.check_acyclic(targets, starts, via=key)

    # Deferred globs

    def defer_glob(self, creator: Node, patterns: Iterable[str]) -> Node:
        """Define a deferred glob; known orphan files that match become static under it."""
        fresh = self.kinds["dg"](patterns=tuple(patterns))
        existing = self.graph.get(fresh.key)
        if existing is not None and not existing.orphan:
            raise GraphError(f"Cannot define a deferred nglob twice: {existing.key}")
        for node in self.graph:
            if node.kind == "file" and not node.orphan and fresh.matches(node.path):
                if node.path == "./" or node.creator is self.graph.root:
                    continue
                raise GraphError(f"Static path already exists: {node.path}")
        dg = self.graph.add(fresh, creator)
        self.deferred[dg.key] = dg
        adopted = [
            self._add_product_file(dg, node.path, FileState.STATIC)
            for node in list(self.graph)
            if node.kind == "file" and node.orphan and dg.matches(node.path)
        ]
        self._queue_consumers(adopted)
        return dg

    def _adopt_deferred(self, paths: list[str]) -> None:
        for path, dg in self.deferred_candidates(paths):
            self._queue_consumers([self._add_product_file(dg, path, FileState.STATIC)])

    def deferred_glob_for(self, path: str) -> Node | None:
        """The deferred glob that matches a path, if any; two are an error."""
        found = [dg for dg in self.deferred.values() if not dg.orphan and dg.matches(path)]
        if len(found) > 1:
            raise GraphError(f"Multiple deferred globs match: {path}")
        return found[0] if found else None

    def deferred_candidates(self, paths: Iterable[str]) -> list[tuple[str, Node]]:
        """Unknown paths (and their unknown directories, top down) that a deferred glob claims.

        The director checks that they exist before a step that needs them is defined.
        """
        result: list[tuple[str, Node]] = []
        seen: set[str] = set()
        if not any(not dg.orphan for dg in self.deferred.values()):
            return result
        for path in paths:
            chain = []
            current: str | None = path
            while current is not None and current not in seen:
                node = self.file(current)
                if node is not None and not node.orphan:
                    break
                chain.append(current)
                current = parent_path(current)
            for candidate in reversed(chain):
                seen.add(candidate)
                dg = self.deferred_glob_for(candidate)
                if dg is None:
                    continue
                parent = parent_path(candidate)
                parent_node = None if parent is None else self.file(parent)
                if not (
                    parent is None
                    or is_always_static(parent)
                    or any(parent == path for path, _ in result)
                    or (
                        parent_node is not None
                        and not parent_node.orphan
                        and parent_node.state in (FileState.STATIC, FileState.MISSING)
                    )
                ):
                    raise GraphError(
                        "Missing path does not have a static or missing parent path node: "
                        f"{candidate}. Declare its directory static, or widen the deferred glob."
                    )
                result.append((candidate, dg))
        return result

    def _imply(self, step: StepNode) -> None:
        """A needed step makes the optional steps that make its inputs needed too."""
        if step.mandatory == Mandatory.NO:
            return
        todo = [step]
        while todo:
            consumer = todo.pop()
            for node in self.inputs(consumer):
                creator = node.creator
                if (
                    creator is not None
                    and creator.kind == "step"
                    and not creator.orphan
                    and creator.mandatory == Mandatory.NO
                ):
                    creator.mandatory = Mandatory.IMPLIED
                    self.try_queue(creator)
                    todo.append(creator)
