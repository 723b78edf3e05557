"""Report benchmark results: a plain table for people, ``--json`` for machines.

Both are made from the same summary rows, so the JSON holds every number the table shows, plus
the raw times behind the medians.
"""

import itertools
import json
import os
import platform
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from stepup_trio import __version__
from stepup_trio.bench.e2e_report import e2e_compare, e2e_growth, e2e_section
from stepup_trio.bench.hashing import HashResult
from stepup_trio.bench.scheduling import SchedResult
from stepup_trio.bench.tables import Row, format_columns, number, ratio, seconds, status

__all__ = [
    "format_report",
    "metadata",
    "scheduling_growth",
    "summarize_hashing",
    "summarize_scheduling",
    "to_json",
]


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
                    "define_ratio": ratio(large["define_s"], small["define_s"]),
                    "run_ratio": ratio(large["run_s"], small["run_s"]),
                    "time_ratio": ratio(large["total_s"], small["total_s"]),
                    "dump_ratio": ratio(large["dump_s"], small["dump_s"]),
                    "memory_ratio": ratio(large["peak_bytes"], small["peak_bytes"]),
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
        document |= {
            "e2e": rows,
            "e2e_compare": e2e_compare(rows),
            "e2e_growth": e2e_growth(rows),
        }
    if scheduling is not None:
        document |= {"scheduling": scheduling, "scheduling_growth": scheduling_growth(scheduling)}
    if hashing is not None:
        document["hashing"] = hashing
    return json.dumps(document, indent=2, ensure_ascii=False)


def scheduling_table(rows: list[Row]) -> list[str]:
    """One line per shape and size of the in-process scheduling benchmark."""
    headers = ["shape", "steps", "nodes", "steps/s", "define/step [µs]", "run/step [µs]"]
    headers += ["dump round trip [s]", "dump [kB]", "memory/node [B]", "status"]
    table = [
        [
            row["shape"],
            str(row["steps"]),
            str(row["nodes"]),
            number(row["steps_per_s"]),
            number(row["define_per_step_us"], 1),
            number(row["run_per_step_us"], 1),
            seconds(row["dump_s"]),
            number(None if row["dump_bytes"] is None else row["dump_bytes"] / 1000),
            number(row["bytes_per_node"]),
            status(row),
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
            number(row["define_ratio"], 2),
            number(row["run_ratio"], 2),
            number(row["time_ratio"], 2),
            number(row["dump_ratio"], 2),
            number(row["memory_ratio"], 2),
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
            number(row["large_file_mbs"]),
            number(row["raw_mbs"]),
            number(row["ratio"], 2),
            f"{row['small_files']} x {row['small_size']} B",
            number(row["small_files_per_s"]),
            number(row["fast_path_files_per_s"]),
            status(row),
        ]
        for row in rows
    ]
    return format_columns(headers, table, 0)


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
        errors += error_lines("e2e", rows, lambda r: f"{r['tool']} {r['shape']} {r['steps']}")
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
