"""What a running step asks of the workflow, kept as its recording for replay.

When a step succeeds, the actions it performed (defining sub-steps, declaring static files,
amending itself, defining pools, registering globs) are stored with its hash. When the step is
later skipped because nothing changed, the same actions are replayed, so a skipped ``plan.py``
still defines all its steps.
"""

import attrs

__all__ = [
    "Action",
    "Amend",
    "DeclareStatic",
    "DeferGlob",
    "DefinePool",
    "DefineStep",
    "RegisterGlob",
    "replay_order",
    "step_key",
]


def step_key(command: str, workdir: str) -> str:
    """The local key of a step: the command, plus its working directory when not the root."""
    return command if workdir == "./" else f"{command}  # wd={workdir}"


@attrs.frozen
class DefineStep:
    """A step definition as the plan API sends it: paths relative to the root."""

    command: str
    workdir: str = "./"
    inp: list[str] = attrs.Factory(list)
    out: list[str] = attrs.Factory(list)
    vol: list[str] = attrs.Factory(list)
    env: list[str] = attrs.Factory(list)
    optional: bool = False
    pool: str | None = None
    block: bool = False
    # Keys of source nodes (plugin kinds) whose state the step depends on.
    needs: list[str] = attrs.Factory(list)


@attrs.frozen
class DeclareStatic:
    """Files and directories (trailing slash) that the user provides."""

    paths: list[str]


@attrs.frozen
class Amend:
    """Dependencies a running step discovered: more inputs, variables, outputs."""

    inp: list[str] = attrs.Factory(list)
    env: list[str] = attrs.Factory(list)
    out: list[str] = attrs.Factory(list)
    vol: list[str] = attrs.Factory(list)


@attrs.frozen
class DefinePool:
    """At most ``size`` steps of pool ``name`` run at the same time."""

    name: str
    size: int


@attrs.frozen
class RegisterGlob:
    """A glob a step used: watch mode reruns the step when its matches change."""

    patterns: list[str]
    subs: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class DeferGlob:
    """Paths matching these patterns become static as soon as a step needs them."""

    patterns: list[str]


Action = DefineStep | DeclareStatic | Amend | DefinePool | RegisterGlob | DeferGlob


def replay_order(recording: list[Action]) -> list[Action]:
    """The actions of a recording in the order in which a skipped step replays them.

    As in StepUp: what the step amended comes first, then the pools it defined, then all the
    paths it declared static (in one declaration), the steps it defined (sorted by key), and
    the globs it registered or deferred.
    """
    amends = [action for action in recording if isinstance(action, Amend)]
    pools = [action for action in recording if isinstance(action, DefinePool)]
    paths = sorted(
        {path for action in recording if isinstance(action, DeclareStatic) for path in action.paths}
    )
    steps = sorted(
        (action for action in recording if isinstance(action, DefineStep)),
        key=lambda action: step_key(action.command, action.workdir),
    )
    globs = [action for action in recording if isinstance(action, RegisterGlob | DeferGlob)]
    statics = [DeclareStatic(paths)] if paths else []
    return [*amends, *pools, *statics, *steps, *globs]
