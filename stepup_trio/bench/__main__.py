"""``python -m stepup_trio.bench``: run the benchmarks and print a table or JSON.

Progress goes to stderr, so that stdout holds only the report.
"""

import argparse
import sys
from collections.abc import Sequence

from stepup_trio.bench.e2e import bench_workload
from stepup_trio.bench.report import format_report, metadata, summarize, to_json
from stepup_trio.bench.workloads import SHAPES

__all__ = ["main", "parse_args"]

DEFAULT_STEPS = [1000, 10000]
DEFAULT_REPEAT = 3
QUICK_STEPS = [100, 300]
QUICK_REPEAT = 1
DEFAULT_SHAPES = "wide,chain"


def shape_list(value: str) -> list[str]:
    """``wide,chain`` -> ``["wide", "chain"]``, rejecting unknown shapes before any run."""
    shapes = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in shapes if name not in SHAPES]
    if unknown or not shapes:
        raise argparse.ArgumentTypeError(
            f"unknown shape(s) {', '.join(unknown) or value!r}; known: {', '.join(SHAPES)}"
        )
    return shapes


def positive_int(value: str) -> int:
    """Step counts, repetitions and workers below 1 make no sense."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stepup_trio.bench",
        description="Time the stepup command on generated workloads: a cold build, no-op "
        "rebuilds and a rebuild after one changed input.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Small and fast: steps {' '.join(map(str, QUICK_STEPS))}, repeat {QUICK_REPEAT}, "
        "no one-change rebuild",
    )
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table")
    parser.add_argument(
        "--steps",
        nargs="+",
        type=positive_int,
        metavar="N",
        help=f"Graph sizes (default: {' '.join(map(str, DEFAULT_STEPS))})",
    )
    parser.add_argument(
        "--shapes",
        type=shape_list,
        default=DEFAULT_SHAPES,
        help=f"Comma-separated shapes, of {', '.join(SHAPES)} (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        help=f"No-op rebuilds per workload (default: {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="Workers of stepup, its -w option (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.repeat is None:
        args.repeat = QUICK_REPEAT if args.quick else DEFAULT_REPEAT
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_e2e(args: argparse.Namespace) -> list[dict]:
    """Every shape at every size, each in its own fresh folder."""
    rows = []
    for shape in args.shapes:
        for steps in args.steps:
            result = bench_workload(
                shape,
                steps,
                workers=args.workers,
                repeat=args.repeat,
                with_change=not args.quick,
                log=log,
            )
            rows.append(summarize(result))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the report, and exit with 1 if any workload failed."""
    args = parse_args(argv)
    meta = metadata(
        quick=args.quick,
        shapes=args.shapes,
        steps=args.steps,
        repeat=args.repeat,
        workers=args.workers,
    )
    rows = run_e2e(args)
    print(to_json(meta, rows) if args.json else format_report(meta, rows))
    return 1 if any(row["error"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
