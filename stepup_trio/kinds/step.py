"""Step nodes: a shell command run in a working directory."""

from collections.abc import Iterator

import attrs

from stepup_trio.core.actions import Action, RegisterGlob, step_key
from stepup_trio.core.states import Mandatory, StepState
from stepup_trio.core.stephash import StepHash
from stepup_trio.kinds.format import digest_lines
from stepup_trio.plugin_api import Node

__all__ = ["StepNode", "step_key"]


def _lines(name: str, values) -> Iterator[tuple[str, str]]:
    """One line per value; continuation lines have an empty label, as in StepUp."""
    for index, value in enumerate(values):
        yield (name if index == 0 else ""), value


@attrs.define(eq=False, repr=False)
class StepNode(Node):
    kind = "step"

    command: str
    workdir: str = "./"
    state: StepState = StepState.PENDING
    mandatory: Mandatory = Mandatory.YES
    pool: str | None = None
    block: bool = False
    env_vars: tuple[str, ...] = ()
    # The paths given when the step was defined (relative to the root).
    inp: tuple[str, ...] = ()
    out: tuple[str, ...] = ()
    vol: tuple[str, ...] = ()
    # Keys of the source nodes the step needs (see stepup_trio.plugin_api.SourceNode).
    needs: tuple[str, ...] = ()
    # What the step added with amend() while it ran.
    amended_inp: tuple[str, ...] = ()
    amended_out: tuple[str, ...] = ()
    amended_vol: tuple[str, ...] = ()
    amended_env: tuple[str, ...] = ()
    globs: list[RegisterGlob] = attrs.Factory(list)
    pools: dict[str, int] = attrs.Factory(dict)
    hash: StepHash | None = None
    recording: list[Action] | None = None

    @property
    def definition(self) -> tuple:
        """What must be equal for a recycled step to keep its amended dependencies."""
        return (self.inp, self.out, self.vol, self.env_vars, self.needs)

    def drop_amended(self) -> None:
        self.amended_inp = self.amended_out = self.amended_vol = self.amended_env = ()

    @property
    def local_key(self) -> str:
        return step_key(self.command, self.workdir)

    @property
    def description(self) -> str:
        """How the reporter names the step."""
        return self.local_key

    def properties(self) -> Iterator[tuple[str, str]]:
        yield "workdir", self.workdir
        yield "command", self.command
        yield "state", self.state.name
        if self.mandatory != Mandatory.YES:
            yield "mandatory", self.mandatory.name
        if self.pool is not None:
            yield "pool", self.pool
        if self.block:
            yield "block", "True"
        yield from _lines("env_var", self.env_vars)
        yield from _lines("consumes (amended)", [f"file:{p}" for p in self.amended_inp])
        amended_products = self.amended_out + self.amended_vol
        yield from _lines("supplies (amended)", [f"file:{p}" for p in sorted(amended_products)])
        yield from _lines("env_var (amended)", self.amended_env)
        for glob in self.globs:
            yield "ngm", f"{glob.patterns!r} {glob.subs!r}"
        for name, size in self.pools.items():
            yield "defined pool", f"{name}={size}"
        if self.hash is not None:
            yield from digest_lines("digest", self.hash.digest)
            yield from digest_lines("inp_digest", self.hash.inp_digest)
            if self.hash.extended:
                yield "extended hash", "yes"

    def on_recycled(self, graph, fresh: Node) -> None:
        assert isinstance(fresh, StepNode)
        if self.definition != fresh.definition:
            # Another definition: what the old one recorded does not apply.
            self.hash = None
            self.recording = None
        self.state = StepState.PENDING
        for name in ("mandatory", "pool", "block", "env_vars", "inp", "out", "vol", "needs"):
            setattr(self, name, getattr(fresh, name))
        self.drop_amended()
        self.globs = []
        self.pools = {}
