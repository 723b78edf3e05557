"""Plain-text table helpers shared by the report sections: ``-`` for a missing number."""

from collections.abc import Iterable
from typing import Any

__all__ = [
    "Row",
    "format_columns",
    "megabytes",
    "number",
    "plain",
    "ratio",
    "seconds",
    "span",
    "status",
]

Row = dict[str, Any]


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def span(low: float | None, high: float | None) -> str:
    """A min-max range of seconds."""
    return "-" if low is None or high is None else f"{low:.3f}-{high:.3f}"


def plain(value: Any) -> str:
    return "-" if value is None else str(value)


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def megabytes(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value / 1e6:,.{digits}f}"


def ratio(large: float | None, small: float | None) -> float | None:
    """large / small, or None when either is missing or zero."""
    return None if not large or not small else large / small


def status(row: Row) -> str:
    return "ERROR" if row["error"] else "ok"


def format_columns(
    headers: list[str], table: list[list[str]], text_columns: int, text: Iterable[str] = ()
) -> list[str]:
    """Left-align the first ``text_columns`` columns and those named in ``text`` (names),
    right-align the rest (numbers)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *table, strict=True)]
    left = {i for i, header in enumerate(headers) if i < text_columns or header in text}
    lines = []
    for cells in [headers, *table]:
        parts = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return lines
