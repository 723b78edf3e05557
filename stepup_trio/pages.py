"""The boxes ("pages") that follow a status line: step results, pending steps, explanations.

Pure formatting: the director decides what to report, these functions decide how it reads.
"""

from collections.abc import Callable, Iterable

from stepup_trio import wire

__all__ = ["LABEL_WIDTH", "blocked_page", "line_pages", "pending_page", "result_pages"]

#: Width of the labels in the Step info and PENDING Step boxes.
LABEL_WIDTH = 22

Page = tuple[str, str]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="ignore").rstrip()


def result_pages(
    step,
    result: wire.JobFinished,
    show_perf: bool,
    state_of: Callable[[str], str],
    rescheduled: list[str] = (),
) -> list[Page]:
    """Step info (on failure), performance, problems with files, and captured output.

    A rescheduled step lists the amended inputs it waits for instead of the missing outputs.
    """
    pages = []
    if not result.success:
        lines = [f"{'Command':{LABEL_WIDTH}s}{step.command}"]
        if step.workdir != "./":
            lines.append(f"{'Working directory':{LABEL_WIDTH}s}{step.workdir}")
        if result.returncode is not None:
            lines.append(f"{'Return code':{LABEL_WIDTH}s}{result.returncode}")
        pages.append(("Step info", "\n".join(lines)))
    if show_perf and result.resources is not None:
        user, system, wall = result.resources
        pages.append(
            (
                "Performance details",
                f"User CPU time [s]:   {user:9.4f}\n"
                f"System CPU time [s]: {system:9.4f}\n"
                f"Total CPU time [s]:  {user + system:9.4f}\n"
                f"Wall time [s]:       {wall:9.4f}",
            )
        )
    if rescheduled:
        pages.append(("Rescheduling due to unavailable amended inputs", "\n".join(rescheduled)))
    elif result.invalid_inputs:
        lines = [
            f"{state_of(path)} {problem}: {path}"
            for path, problem in sorted(result.invalid_inputs.items())
        ]
        pages.append(("Invalid inputs", "\n".join(lines)))
    if result.missing_outputs and not rescheduled:
        pages.append(("Expected outputs not created", "\n".join(result.missing_outputs)))
    for title, data in (("Standard output", result.stdout), ("Standard error", result.stderr)):
        text = _decode(data)
        if text:
            pages.append((title, text))
    return pages


def _file_lines(label: str, nodes: Iterable) -> list[str]:
    lines = []
    for index, node in enumerate(sorted(nodes, key=lambda node: node.path)):
        path = f"({node.path})" if node.orphan else node.path
        lines.append(f"{label if index == 0 else '':12s}{node.state.name:>8s}  {path}")
    return lines


def line_pages(*pages: tuple[str, list[str]]) -> list[Page]:
    """Pages from (title, lines), leaving out those without lines (the -e explanations)."""
    return [(title, "\n".join(lines)) for title, lines in pages if lines]


def blocked_page(steps: Iterable) -> Page:
    return "Blocked steps", "\n".join(step.key for step in steps)


def pending_page(step, inputs: Iterable, outputs: Iterable, pools: Iterable[str] = ()) -> Page:
    """Why a step could not run: its inputs and outputs with their states.

    The working directory is always shown, also ``./``, as StepUp does. A pool that was never
    defined is named too.
    """
    lines = [
        f"{'Command':{LABEL_WIDTH}s}{step.command}",
        f"{'Working directory':{LABEL_WIDTH}s}{step.workdir}",
        *_file_lines("Inputs", inputs),
        *_file_lines("Outputs", outputs),
    ]
    if step.pool is not None and step.pool not in pools:
        lines.append(
            f"{'Pool':{LABEL_WIDTH}s}{step.pool} (never defined: call pool({step.pool!r}, size))"
        )
    return "PENDING Step", "\n".join(lines)
