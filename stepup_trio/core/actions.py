"""What a running step asks of the workflow, kept as its recording for replay.

When a step succeeds, the actions it performed (defining sub-steps, declaring static files) are
stored with its hash. When the step is later skipped because nothing changed, the same actions
are replayed, so a skipped ``plan.py`` still defines all its steps.
"""

import attrs

__all__ = ["Action", "DeclareStatic", "DefineStep"]


@attrs.frozen
class DefineStep:
    """A step definition as the plan API sends it: paths relative to the root."""

    command: str
    workdir: str = "./"
    inp: list[str] = attrs.Factory(list)
    out: list[str] = attrs.Factory(list)
    env: list[str] = attrs.Factory(list)
    optional: bool = False
    pool: str | None = None
    block: bool = False


@attrs.frozen
class DeclareStatic:
    """Files and directories (trailing slash) that the user provides."""

    paths: list[str]


Action = DefineStep | DeclareStatic
