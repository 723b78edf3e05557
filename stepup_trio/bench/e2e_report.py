"""The end-to-end part of the report: per-run rows, tool ratios, and growth with N.

Rows are plain dicts, so that the JSON and the table are made from the same numbers.
"""

import statistics
from collections.abc import Iterable

from stepup_trio.bench.e2e import E2EResult
from stepup_trio.bench.memory import CpuTimes, MemoryPeak
from stepup_trio.bench.tables import (
    Row,
    format_columns,
    megabytes,
    number,
    plain,
    ratio,
    seconds,
    span,
    status,
)
from stepup_trio.bench.tools import ToolKind

__all__ = ["cpu_summary", "e2e_compare", "e2e_growth", "e2e_notes", "e2e_section", "summarize"]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _spread(values: list[float], key: str) -> Row:
    """All times of one kind of run, their median and their range: ``key_s``, ``key_median_s``,
    ``key_min_s``, ``key_max_s``."""
    return {
        f"{key}_s": list(values),
        f"{key}_median_s": _median(values),
        f"{key}_min_s": min(values) if values else None,
        f"{key}_max_s": max(values) if values else None,
    }


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _per_step(value: float | None, steps: int, scale: float = 1.0) -> float | None:
    return None if value is None or not steps else value / steps * scale


def memory_row(memory: MemoryPeak | None) -> Row | None:
    """One run's memory: the largest process, what it was, and the whole tree's sum."""
    if memory is None:
        return None
    return {"rss_bytes": memory.rss, "process": memory.process, "tree_rss_bytes": memory.tree_rss}


def cpu_row(cpu: CpuTimes) -> Row:
    """One cold build's CPU seconds by role (``workers_s`` is None for tools without them)."""
    return {
        "tool_s": cpu.tool,
        "workers_s": cpu.workers,
        "steps_s": cpu.steps,
        "total_s": cpu.total,
        "tree_s": cpu.tree,
    }


def cpu_summary(runs: list[CpuTimes], steps: int) -> Row | None:
    """The median of each role over the cold builds, and per step: the tool's own overhead
    (director and workers) and the steps' commands."""
    if not runs:
        return None
    workers = [cpu.workers for cpu in runs if cpu.workers is not None]
    own = _median([cpu.own for cpu in runs])
    steps_s = _median([cpu.steps for cpu in runs])
    return {
        "tool_s": _median([cpu.tool for cpu in runs]),
        "workers_s": _median(workers),
        "steps_s": steps_s,
        "total_s": _median([cpu.total for cpu in runs]),
        "tree_s": _median([cpu.tree for cpu in runs]),
        "own_per_step_us": _per_step(own, steps, 1e6),
        "steps_per_step_us": _per_step(steps_s, steps, 1e6),
    }


def peak_memory(result: E2EResult) -> MemoryPeak:
    """The largest process of all runs, and the largest tree sum of all runs."""
    runs = [*result.cold_memory, *result.noop_memory, result.change_memory]
    sampled = [m for m in runs if m is not None and m.rss is not None]
    if not sampled:
        return MemoryPeak()
    top = max(sampled, key=lambda m: m.rss or 0)
    return MemoryPeak(top.rss, top.process, max(m.tree_rss or 0 for m in sampled))


def summarize(result: E2EResult) -> Row:
    """The derived numbers of one tool on one workload: seconds, bytes, and per step."""
    noop = _spread(result.noop, "noop")
    peak = peak_memory(result)
    return {
        "tool": result.tool,
        "kind": result.kind,
        "shape": result.shape,
        "steps": result.steps,
        "step_count": result.step_count,
        **_spread(result.cold, "cold"),
        **noop,
        "noop_per_step_us": _per_step(noop["noop_median_s"], result.step_count, 1e6),
        "noop_started": list(result.noop_started),
        "change_s": result.change,
        "change_started": result.change_started,
        "cold_memory": [memory_row(memory) for memory in result.cold_memory],
        "cold_cpu": [cpu_row(cpu) for cpu in result.cold_cpu],
        "cold_cpu_median": cpu_summary(result.cold_cpu, result.step_count),
        "noop_memory": [memory_row(memory) for memory in result.noop_memory],
        "change_memory": memory_row(result.change_memory),
        "peak_rss_bytes": peak.rss,
        "peak_rss_process": peak.process,
        "rss_per_step_bytes": _per_step(peak.rss, result.step_count),
        "peak_tree_rss_bytes": peak.tree_rss,
        "error": result.error,
    }


def _marginal(large: Row, small: Row, key: str, scale: float = 1.0) -> float | None:
    """(difference of ``key``) / (difference of step counts): one more step's cost."""
    extra = large["step_count"] - small["step_count"]
    if not extra or large[key] is None or small[key] is None:
        return None
    return (large[key] - small[key]) / extra * scale


def _ratios(row: Row, base: Row) -> Row:
    """``row / base`` of the cold build, the no-op median, the one change and the peak RSS."""
    return {
        "cold_ratio": ratio(row["cold_median_s"], base["cold_median_s"]),
        "noop_ratio": ratio(row["noop_median_s"], base["noop_median_s"]),
        "change_ratio": ratio(row["change_s"], base["change_s"]),
        "memory_ratio": ratio(row["peak_rss_bytes"], base["peak_rss_bytes"]),
    }


def growth_row(small: Row, large: Row) -> Row:
    """Ratios from the smallest to the largest N of one tool and shape."""
    return {
        "tool": small["tool"],
        "shape": small["shape"],
        "from_steps": small["steps"],
        "to_steps": large["steps"],
        "steps_ratio": ratio(large["step_count"], small["step_count"]),
        **_ratios(large, small),
        # Free of the fixed start-up cost and the interpreter's baseline memory.
        "noop_marginal_us": _marginal(large, small, "noop_median_s", 1e6),
        "memory_marginal_bytes": _marginal(large, small, "peak_rss_bytes"),
    }


def e2e_growth(rows: Iterable[Row]) -> list[Row]:
    """For every tool and shape: how time and memory grow from the smallest to the largest N.

    Linear scaling gives ratios at or below ``steps_ratio``; issue 5 wants at most 12 from
    1,000 to 10,000 steps. Failed rows are left out.
    """
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row["error"] is None:
            groups.setdefault((row["tool"], row["shape"]), []).append(row)
    growth = []
    for group in groups.values():
        small = min(group, key=lambda row: row["steps"])
        large = max(group, key=lambda row: row["steps"])
        if large["steps"] > small["steps"]:
            growth.append(growth_row(small, large))
    return growth


def e2e_compare(rows: Iterable[Row]) -> list[Row]:
    """For every workload and compared tool: other / stepup of the medians and the peak RSS."""
    rows = list(rows)
    ours = {(r["shape"], r["steps"]): r for r in rows if r["kind"] == ToolKind.STEPUP}
    compare = []
    for row in rows:
        base = ours.get((row["shape"], row["steps"]))
        if row["kind"] == ToolKind.STEPUP or base is None:
            continue
        compare.append(
            {
                "tool": row["tool"],
                "shape": row["shape"],
                "steps": row["steps"],
                **_ratios(row, base),
            }
        )
    return compare


def e2e_notes(rows: Iterable[Row]) -> list[str]:
    """Compared stepup-like tools are not failed for START lines in a no-op; say so instead."""
    return [
        f"note: {row['tool']} started {max(row['noop_started'])} step(s) in a no-op rebuild "
        f"of {row['shape']} {row['steps']}"
        for row in rows
        if row["kind"] == ToolKind.STEPUP_LIKE and any(row["noop_started"])
    ]


def with_tool_column(headers: list[str], table: list[list[str]], rows: list[Row]) -> int:
    """Insert the tool column when tools are compared; return the number of text columns."""
    if len({row["tool"] for row in rows}) <= 1:
        return 0
    headers.insert(0, "tool")
    for cells, row in zip(table, rows, strict=True):
        cells.insert(0, row["tool"])
    return 1


def e2e_table(rows: list[Row]) -> list[str]:
    """Times: one line per tool and workload. The cold range shows with several cold builds."""
    cold_range = any(len(row["cold_s"]) > 1 for row in rows)
    headers = ["shape", "N", "steps", "cold [s]"]
    headers += ["cold min-max [s]"] if cold_range else []
    headers += ["no-op [s]", "no-op min-max [s]", "no-op/step [µs]", "change [s]", "started"]
    headers.append("status")
    table = [
        [
            row["shape"],
            str(row["steps"]),
            str(row["step_count"]),
            seconds(row["cold_median_s"]),
            *([span(row["cold_min_s"], row["cold_max_s"])] if cold_range else []),
            seconds(row["noop_median_s"]),
            span(row["noop_min_s"], row["noop_max_s"]),
            number(row["noop_per_step_us"]),
            seconds(row["change_s"]),
            plain(row["change_started"]),
            status(row),
        ]
        for row in rows
    ]
    text_columns = 1 + with_tool_column(headers, table, rows)
    return format_columns(headers, table, text_columns)


def memory_table(rows: list[Row]) -> list[str]:
    """Memory: the largest process over all runs (the director), and the whole tree."""
    headers = ["shape", "N", "steps", "peak RSS [MB]", "process", "RSS/step [kB]"]
    headers.append("tree RSS [MB]")
    table = [
        [
            row["shape"],
            str(row["steps"]),
            str(row["step_count"]),
            megabytes(row["peak_rss_bytes"]),
            plain(row["peak_rss_process"]),
            number(_scaled(row["rss_per_step_bytes"], 1e-3), 1),
            megabytes(row["peak_tree_rss_bytes"]),
        ]
        for row in rows
    ]
    text_columns = 1 + with_tool_column(headers, table, rows)
    return format_columns(headers, table, text_columns, text=["process"])


def cpu_table(rows: list[Row]) -> list[str]:
    """CPU of the cold build by role: the tool's own processes, and the steps it ran.

    The exact total (read once the tool exited) shows how much the sampled roles missed.
    """
    headers = ["shape", "N", "steps", "director/tool [s]", "workers [s]", "steps [s]"]
    headers += ["total [s]", "exact total [s]", "own/step [µs]", "steps/step [µs]"]
    table = []
    for row in rows:
        cpu = row["cold_cpu_median"] or {}
        table.append(
            [
                row["shape"],
                str(row["steps"]),
                str(row["step_count"]),
                seconds(cpu.get("tool_s")),
                seconds(cpu.get("workers_s")),
                seconds(cpu.get("steps_s")),
                seconds(cpu.get("total_s")),
                seconds(cpu.get("tree_s")),
                number(cpu.get("own_per_step_us")),
                number(cpu.get("steps_per_step_us")),
            ]
        )
    text_columns = 1 + with_tool_column(headers, table, rows)
    return format_columns(headers, table, text_columns)


def compare_table(compare: list[Row]) -> list[str]:
    """Other tool / stepup per workload: above 1 means that stepup is faster or smaller."""
    headers = ["tool", "shape", "N", "cold x", "no-op x", "change x", "peak RSS x"]
    table = [
        [
            row["tool"],
            row["shape"],
            str(row["steps"]),
            number(row["cold_ratio"], 2),
            number(row["noop_ratio"], 2),
            number(row["change_ratio"], 2),
            number(row["memory_ratio"], 2),
        ]
        for row in compare
    ]
    return format_columns(headers, table, 2)


def growth_table(growth: list[Row]) -> list[str]:
    """How time and memory grow with the graph: linear stays at or below ``steps x``."""
    headers = ["tool", "shape", "N", "steps x", "cold x", "no-op x", "change x", "peak RSS x"]
    headers += ["no-op/extra step [µs]", "RSS/extra step [kB]"]
    table = [
        [
            row["tool"],
            row["shape"],
            f"{row['from_steps']} -> {row['to_steps']}",
            number(row["steps_ratio"], 1),
            number(row["cold_ratio"], 2),
            number(row["noop_ratio"], 2),
            number(row["change_ratio"], 2),
            number(row["memory_ratio"], 2),
            number(row["noop_marginal_us"]),
            number(_scaled(row["memory_marginal_bytes"], 1e-3), 1),
        ]
        for row in growth
    ]
    return format_columns(headers, table, 3)


def tool_lines(meta: Row) -> list[str]:
    """Which command each tool name stands for."""
    return [f"  {tool['name']}: {' '.join(tool['argv'])}" for tool in meta["tools"]]


def e2e_section(meta: Row, rows: list[Row]) -> list[str]:
    """The e2e table, then the ratios to compared tools and the growth with N, if any."""
    compared = len(meta["tools"]) > 1
    lines = [
        f"End to end (wall time of each command, {meta['workers']} workers, "
        f"{meta['cold_repeat']} cold build(s), {meta['repeat']} no-op repetition(s)"
        + (", tools run alternately, each in its own copy of the workload)" if compared else ")"),
    ]
    if compared:
        lines += tool_lines(meta)
    lines += [*e2e_table(rows), "", "Memory (sampled from /proc)", *memory_table(rows)]
    lines += ["", "CPU of the cold build (sampled from /proc, median over cold runs)"]
    lines += cpu_table(rows)
    compare = e2e_compare(rows)
    if compare:
        lines += ["", "Compared tools: other / stepup (medians; above 1: stepup is faster)"]
        lines += compare_table(compare)
    growth = e2e_growth(rows)
    if growth:
        lines += ["", "Growth from the smallest to the largest N", *growth_table(growth)]
    notes = e2e_notes(rows)
    if notes:
        lines += ["", *notes]
    return lines
