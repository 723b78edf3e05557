"""Step nodes: a shell command run in a working directory."""

from collections.abc import Iterator

import attrs

from stepup_trio.core.actions import Action
from stepup_trio.core.states import Mandatory, StepState
from stepup_trio.core.stephash import StepHash
from stepup_trio.kinds.format import digest_lines
from stepup_trio.plugin_api import Node

__all__ = ["StepNode", "step_key"]


def step_key(command: str, workdir: str) -> str:
    """The local key of a step: the command, plus its working directory when not the root."""
    return command if workdir == "./" else f"{command}  # wd={workdir}"


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
    hash: StepHash | None = None
    recording: list[Action] | None = None

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
        for index, name in enumerate(self.env_vars):
            yield ("env_var" if index == 0 else ""), name
        if self.hash is not None:
            yield from digest_lines("digest", self.hash.digest)
            yield from digest_lines("inp_digest", self.hash.inp_digest)
            if self.hash.extended:
                yield "extended hash", "yes"

    def on_recycled(self, graph, fresh: Node) -> None:
        assert isinstance(fresh, StepNode)
        self.state = StepState.PENDING
        self.mandatory = fresh.mandatory
        self.pool = fresh.pool
        self.block = fresh.block
        self.env_vars = fresh.env_vars
