"""``--compare ninja``: the same graph as a build.ninja file, with the same shell commands.

ninja is the usual yardstick for the overhead of a build tool: it reads one file, compares
mtimes and runs commands, with no hashing and no plan to run. The rules are made from the
command templates of the workload's steps (``${inp}`` becomes ``$in``, ``${out}`` ``$out``).
"""

from pathlib import Path

from stepup_trio.bench.workloads import StepSpec, Workload

__all__ = ["build_ninja_text", "ninja_escape", "write_build_ninja"]


def ninja_escape(path: str) -> str:
    """Escape what ninja reads as syntax in a path: ``$``, space and colon."""
    return path.replace("$", "$$").replace(" ", "$ ").replace(":", "$:")


def rule_names(steps: list[StepSpec]) -> dict[str, str]:
    """One rule per distinct command template, named after its program (cp, cat, cat2, ...)."""
    names: dict[str, str] = {}
    for command, _, _ in steps:
        if command not in names:
            base = "".join(c for c in command.split()[0] if c.isalnum()) or "rule"
            name, count = base, 1
            while name in names.values():
                count += 1
                name = f"{base}{count}"
            names[command] = name
    return names


def build_ninja_text(workload: Workload) -> str:
    """The rules, then one build edge per step, in the plan's order."""
    names = rule_names(workload.steps)
    lines = ["# Written by python -m stepup_trio.bench: the graph of plan.py.", ""]
    for command, name in names.items():
        ninja_command = command.replace("${inp}", "$in").replace("${out}", "$out")
        lines += [f"rule {name}", f"  command = {ninja_command}", ""]
    for command, inputs, output in workload.steps:
        inputs_text = " ".join(ninja_escape(path) for path in inputs)
        lines.append(f"build {ninja_escape(output)}: {names[command]} {inputs_text}")
    lines.append("")
    return "\n".join(lines)


def write_build_ninja(workload: Workload) -> Path:
    """Write build.ninja into the workload's folder (ninja makes the out/ folder itself)."""
    path = workload.path("build.ninja")
    path.write_text(build_ninja_text(workload))
    return path
