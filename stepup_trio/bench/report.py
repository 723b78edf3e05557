"""Report benchmark results: a plain table for people, ``--json`` for machines.

Both are made from the same summary rows, so the JSON holds every number the table shows, plus
the raw times behind the medians.
"""

import itertools
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from stepup_trio import __version__
from stepup_trio.bench.e2e import E2EResult
from stepup_trio.bench.hashing import HashResult
from stepup_trio.bench.scheduling import SchedResult

__all__ = [
    "e2e_growth",
    "format_report",
    "metadata",
    "scheduling_growth",
    "summarize",
    "summarize_hashing",
    "summarize_scheduling",
    "to_json",
]

Row = dict[str, Any]


def metadata(**settings: Any) -> Row:
    """Where and how the numbers were measured: absolute times mean little without it."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "stepup_trio": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "nproc": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        **settings,
    }


def summarize(result: E2EResult) -> Row:
    """The derived numbers of one workload (seconds, and µs per step for the no-op time)."""
    noop = result.noop
    median = statistics.median(noop) if noop else None
    return {
        "tool": result.tool,
        "shape": result.shape,
        "steps": result.steps,
        "cold_s": result.cold,
        "noop_s": list(noop),
        "noop_median_s": median,
        "noop_min_s": min(noop) if noop else None,
        "noop_max_s": max(noop) if noop else None,
        "noop_per_step_us": None if median is None else median / result.steps * 1e6,
        "change_s": result.change,
        "change_started": result.change_started,
        "error": result.error,
    }


def _per_step_us(seconds: float | None, steps: int) -> float | None:
    return None if seconds is None else seconds / steps * 1e6


def summarize_scheduling(result: SchedResult) -> Row:
    """Rates and per-step costs: they stay flat with the graph's size when scaling is linear."""
    total = None
    if result.define_s is not None and result.run_s is not None:
        total = result.define_s + result.run_s
    return {
        "shape": result.shape,
        "steps": result.steps,
        "nodes": result.nodes,
        "define_s": result.define_s,
        "run_s": result.run_s,
        "steps_per_s": result.steps / result.run_s if result.run_s else None,
        "define_per_step_us": _per_step_us(result.define_s, result.steps),
        "run_per_step_us": _per_step_us(result.run_s, result.steps),
        "total_s": total,
        "dump_s": result.dump_s,
        "dump_bytes": result.dump_bytes,
        "peak_bytes": result.peak_bytes,
        "bytes_per_node": result.peak_bytes / result.nodes
        if result.peak_bytes and result.nodes
        else None,
        "error": result.error,
    }


def summarize_hashing(result: HashResult) -> Row:
    """One row: the hasher's speeds and its ratio to the raw hash function."""
    return {
        "large_mib": result.large_mib,
        "large_file_mbs": result.large_file_mbs,
        "raw_mbs": result.raw_mbs,
        "ratio": result.ratio,
        "small_files": result.small_files,
        "small_size": result.small_size,
        "small_files_per_s": result.small_files_per_s,
        "fast_path_files_per_s": result.fast_path_files_per_s,
        "error": result.error,
    }


def _ratio(large: float | None, small: float | None) -> float | None:
    return None if not large or not small else large / small


def scheduling_growth(rows: Iterable[Row]) -> list[Row]:
    """Ratios between successive sizes of one shape: define+run time, dump time, peak memory.

    Issue 5 wants at most 12x from 1,000 to 10,000 steps, in every shape.
    """
    groups: dict[str, list[Row]] = {}
    for row in rows:
        if row["error"] is None:
            groups.setdefault(row["shape"], []).append(row)
    growth = []
    for shape, group in groups.items():
        group.sort(key=lambda row: row["steps"])
        for small, large in itertools.pairwise(group):
            growth.append(
                {
                    "shape": shape,
                    "from_steps": small["steps"],
                    "to_steps": large["steps"],
                    "steps_ratio": large["steps"] / small["steps"],
                    "define_ratio": _ratio(large["define_s"], small["define_s"]),
                    "run_ratio": _ratio(large["run_s"], small["run_s"]),
                    "time_ratio": _ratio(large["total_s"], small["total_s"]),
                    "dump_ratio": _ratio(large["dump_s"], small["dump_s"]),
                    "memory_ratio": _ratio(large["peak_bytes"], small["peak_bytes"]),
                }
            )
    return growth


def e2e_growth(rows: Iterable[Row]) -> list[Row]:
    """Ratio of the median no-op times between successive sizes of one tool and shape.

    Linear scaling gives a ratio close to the ratio of the step counts; more means that
    something in the rebuild grows faster than the graph.
    """
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row["noop_median_s"]:
            groups.setdefault((row["tool"], row["shape"]), []).append(row)
    growth = []
    for (tool, shape), group in groups.items():
        group.sort(key=lambda row: row["steps"])
        for small, large in itertools.pairwise(group):
            growth.append(
                {
                    "tool": tool,
                    "shape": shape,
                    "from_steps": small["steps"],
                    "to_steps": large["steps"],
                    "steps_ratio": large["steps"] / small["steps"],
                    "noop_ratio": large["noop_median_s"] / small["noop_median_s"],
                    # The cost of one more step, free of the fixed startup cost.
                    "noop_marginal_us": (large["noop_median_s"] - small["noop_median_s"])
                    / (large["steps"] - small["steps"])
                    * 1e6,
                }
            )
    return growth


def to_json(
    meta: Row,
    rows: list[Row] | None,
    scheduling: list[Row] | None = None,
    hashing: list[Row] | None = None,
) -> str:
    """The whole report as one JSON document; a group that did not run has no keys."""
    document: Row = {"meta": meta}
    if rows is not None:
        document |= {"e2e": rows, "e2e_growth": e2e_growth(rows)}
    if scheduling is not None:
        document |= {"scheduling": scheduling, "scheduling_growth": scheduling_growth(scheduling)}
    if hashing is not None:
        document["hashing"] = hashing
    return json.dumps(document, indent=2, ensure_ascii=False)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _range(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"{low:.3f}-{high:.3f}"


def _plain(value: Any) -> str:
    return "-" if value is None else str(value)


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _status(row: Row) -> str:
    return "ERROR" if row["error"] else "ok"


def format_columns(headers: list[str], table: list[list[str]], text_columns: int) -> list[str]:
    """Left-align the first ``text_columns`` columns (names), right-align the rest (numbers)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *table, strict=True)]
    lines = []
    for cells in [headers, *table]:
        parts = [
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return lines


def e2e_table(rows: list[Row]) -> list[str]:
    """One line per workload; the tool column only when tools are compared."""
    with_tool = len({row["tool"] for row in rows}) > 1
    headers = ["shape", "steps", "cold [s]", "no-op median [s]", "no-op min-max [s]"]
    headers += ["no-op/step [µs]", "one change [s]", "started", "status"]
    table = []
    for row in rows:
        per_step = row["noop_per_step_us"]
        table.append(
            [
                row["shape"],
                str(row["steps"]),
                _seconds(row["cold_s"]),
                _seconds(row["noop_median_s"]),
                _range(row["noop_min_s"], row["noop_max_s"]),
                "-" if per_step is None else f"{per_step:.0f}",
                _seconds(row["change_s"]),
                _plain(row["change_started"]),
                "ERROR" if row["error"] else "ok",
            ]
        )
    if with_tool:
        headers.insert(0, "tool")
        for cells, row in zip(table, rows, strict=True):
            cells.insert(0, row["tool"])
    return format_columns(headers, table, 2 if with_tool else 1)


def growth_table(growth: list[Row]) -> list[str]:
    """How the no-op time grows with the size of the graph."""
    headers = ["tool", "shape", "steps", "steps x", "no-op x", "no-op/extra step [µs]"]
    table = [
        [
            row["tool"],
            row["shape"],
            f"{row['from_steps']} -> {row['to_steps']}",
            f"{row['steps_ratio']:.1f}",
            f"{row['noop_ratio']:.2f}",
            f"{row['noop_marginal_us']:.0f}",
        ]
        for row in growth
    ]
    return format_columns(headers, table, 3)


def scheduling_table(rows: list[Row]) -> list[str]:
    """One line per shape and size of the in-process scheduling benchmark."""
    headers = ["shape", "steps", "nodes", "steps/s", "define/step [µs]", "run/step [µs]"]
    headers += ["dump round trip [s]", "dump [kB]", "memory/node [B]", "status"]
    table = [
        [
            row["shape"],
            str(row["steps"]),
            str(row["nodes"]),
            _number(row["steps_per_s"]),
            _number(row["define_per_step_us"], 1),
            _number(row["run_per_step_us"], 1),
            _seconds(row["dump_s"]),
            _number(None if row["dump_bytes"] is None else row["dump_bytes"] / 1000),
            _number(row["bytes_per_node"]),
            _status(row),
        ]
        for row in rows
    ]
    return format_columns(headers, table, 1)


def scheduling_growth_table(growth: list[Row]) -> list[str]:
    """How time and memory grow with the graph: linear stays at or below ``steps x``."""
    headers = ["shape", "steps", "steps x", "define x", "run x", "define+run x", "dump x"]
    headers.append("memory x")
    table = [
        [
            row["shape"],
            f"{row['from_steps']} -> {row['to_steps']}",
            f"{row['steps_ratio']:.1f}",
            _number(row["define_ratio"], 2),
            _number(row["run_ratio"], 2),
            _number(row["time_ratio"], 2),
            _number(row["dump_ratio"], 2),
            _number(row["memory_ratio"], 2),
        ]
        for row in growth
    ]
    return format_columns(headers, table, 2)


def hashing_table(rows: list[Row]) -> list[str]:
    """The file hasher against the raw hash function, and the per-file costs."""
    headers = ["large [MiB]", "hasher [MB/s]", "raw blake2b [MB/s]", "ratio"]
    headers += ["small files", "small [files/s]", "stat-only [files/s]", "status"]
    table = [
        [
            str(row["large_mib"]),
            _number(row["large_file_mbs"]),
            _number(row["raw_mbs"]),
            _number(row["ratio"], 2),
            f"{row['small_files']} x {row['small_size']} B",
            _number(row["small_files_per_s"]),
            _number(row["fast_path_files_per_s"]),
            _status(row),
        ]
        for row in rows
    ]
    return format_columns(headers, table, 0)


def e2e_section(meta: Row, rows: list[Row]) -> list[str]:
    lines = [
        f"End to end (wall time of the stepup command, {meta['workers']} workers, "
        f"{meta['repeat']} no-op repetition(s))",
        *e2e_table(rows),
    ]
    growth = e2e_growth(rows)
    if growth:
        lines += ["", "Growth of the no-op rebuild time", *growth_table(growth)]
    return lines


def scheduling_section(rows: list[Row]) -> list[str]:
    lines = ["Scheduling (in process, fake runner)", *scheduling_table(rows)]
    growth = scheduling_growth(rows)
    if growth:
        lines += ["", "Growth of scheduling time and memory", *scheduling_growth_table(growth)]
    return lines


def error_lines(section: str, rows: list[Row], label: Callable[[Row], str]) -> list[str]:
    return [f"ERROR {section} {label(row)}: {row['error']}" for row in rows if row["error"]]


def format_report(
    meta: Row,
    rows: list[Row] | None,
    scheduling: list[Row] | None = None,
    hashing: list[Row] | None = None,
) -> str:
    """The plain-text report: settings, then each group that ran, then any errors."""
    sections = []
    errors = []
    if rows is not None:
        sections.append(e2e_section(meta, rows))
        errors += error_lines("e2e", rows, lambda row: f"{row['shape']} {row['steps']}")
    if scheduling is not None:
        sections.append(scheduling_section(scheduling))
        errors += error_lines("scheduling", scheduling, lambda r: f"{r['shape']} {r['steps']}")
    if hashing is not None:
        sections.append(["Hashing (page-cached files)", *hashing_table(hashing)])
        errors += error_lines("hashing", hashing, lambda row: f"{row['large_mib']} MiB")
    lines = [
        f"stepup-trio {meta['stepup_trio']}, Python {meta['python']}, {meta['nproc']} cores",
    ]
    for section in sections:
        lines += ["", *section]
    if errors:
        lines += ["", *errors]
    return "\n".join(lines)
