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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from stepup_trio import __version__
from stepup_trio.bench.e2e import E2EResult

__all__ = ["e2e_growth", "format_report", "metadata", "summarize", "to_json"]

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


def to_json(meta: Row, rows: list[Row]) -> str:
    """The whole report as one JSON document."""
    document = {"meta": meta, "e2e": rows, "e2e_growth": e2e_growth(rows)}
    return json.dumps(document, indent=2, ensure_ascii=False)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _range(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"{low:.3f}-{high:.3f}"


def _plain(value: Any) -> str:
    return "-" if value is None else str(value)


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


def format_report(meta: Row, rows: list[Row]) -> str:
    """The plain-text report: settings, the workload table, growth, then any errors."""
    lines = [
        f"stepup-trio {meta['stepup_trio']}, Python {meta['python']}, {meta['nproc']} cores, "
        f"{meta['workers']} workers, {meta['repeat']} no-op repetition(s)",
        "",
        "End to end (wall time of the stepup command)",
        *e2e_table(rows),
    ]
    growth = e2e_growth(rows)
    if growth:
        lines += ["", "Growth of the no-op rebuild time", *growth_table(growth)]
    errors = [row for row in rows if row["error"]]
    if errors:
        lines.append("")
        lines += [f"ERROR {row['shape']} {row['steps']}: {row['error']}" for row in errors]
    return "\n".join(lines)
