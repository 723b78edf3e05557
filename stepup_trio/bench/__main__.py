"""``python -m stepup_trio.bench``: run the benchmarks and print a table or JSON.

Progress goes to stderr, so that stdout holds only the report.
"""

import argparse
import sys
from collections.abc import Sequence

from stepup_trio.bench.e2e import bench_workload
from stepup_trio.bench.e2e_report import summarize
from stepup_trio.bench.hashing import bench_hashing
from stepup_trio.bench.report import (
    format_report,
    metadata,
    summarize_hashing,
    summarize_scheduling,
    to_json,
)
from stepup_trio.bench.scheduling import SCHED_SHAPES, bench_scheduling
from stepup_trio.bench.tools import Tool, compare_tool, stepup_tool, unique_names
from stepup_trio.bench.workloads import SHAPES

__all__ = ["main", "parse_args"]

DEFAULT_STEPS = [1000, 10000]
DEFAULT_REPEAT = 3
# One cold build per tool and workload, also with --quick: more only when asked for.
DEFAULT_COLD_REPEAT = 1
QUICK_STEPS = [100, 300]
QUICK_REPEAT = 1
DEFAULT_SHAPES = ",".join(SHAPES)
GROUPS = ("e2e", "scheduling", "hashing")
# The in-process scheduler is cheap, so --quick still runs a graph of a useful size.
SCHED_QUICK_STEPS = [1000]
SCHED_MAX_STEPS = 100_000
DEFAULT_SCHED_SHAPES = ",".join(SCHED_SHAPES)
HASH_MIB = 256
HASH_QUICK_MIB = 16
SMALL_FILES = 10_000
SMALL_QUICK_FILES = 1000


def name_list(value: str, known: Sequence[str], what: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]``, rejecting unknown names before any run."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what}(s) {', '.join(unknown) or repr(value)}; known: {', '.join(known)}"
        )
    return names


def shape_list(value: str) -> list[str]:
    """End-to-end shapes: ``wide,chain`` -> ``["wide", "chain"]``."""
    return name_list(value, list(SHAPES), "shape")


def sched_shape_list(value: str) -> list[str]:
    """Shapes of the in-process scheduling benchmark."""
    return name_list(value, list(SCHED_SHAPES), "shape")


def group_list(value: str) -> list[str]:
    """Which benchmark groups to run, in the order of :data:`GROUPS` whatever the order given."""
    names = name_list(value, GROUPS, "group")
    return [group for group in GROUPS if group in names]


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
        description="Benchmarks of stepup-trio. e2e: time the stepup command on generated "
        "workloads (a cold build, no-op rebuilds and a rebuild after one changed input). "
        "scheduling: the workflow core with a fake step runner, in process. hashing: the file "
        "hasher against the raw hash function.",
    )
    parser.add_argument(
        "--groups",
        type=group_list,
        default=",".join(GROUPS),
        help=f"Comma-separated benchmark groups, of {', '.join(GROUPS)} (default: %(default)s)",
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
        help=f"Graph sizes, of e2e and scheduling (default: {' '.join(map(str, DEFAULT_STEPS))}"
        f"; --quick: e2e {' '.join(map(str, QUICK_STEPS))}, scheduling "
        f"{' '.join(map(str, SCHED_QUICK_STEPS))}; scheduling at most {SCHED_MAX_STEPS})",
    )
    parser.add_argument(
        "--shapes",
        type=shape_list,
        default=DEFAULT_SHAPES,
        help=f"Comma-separated shapes, of {', '.join(SHAPES)} (default: %(default)s)",
    )
    parser.add_argument(
        "--sched-shapes",
        type=sched_shape_list,
        default=DEFAULT_SCHED_SHAPES,
        help=f"Comma-separated scheduling shapes, of {', '.join(SCHED_SHAPES)} "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--hash-mib",
        type=positive_int,
        help=f"Size of the large hashed file in MiB (default: {HASH_MIB}; --quick: "
        f"{HASH_QUICK_MIB})",
    )
    parser.add_argument(
        "--small-files",
        type=positive_int,
        help=f"Number of 1 KiB files hashed (default: {SMALL_FILES}; --quick: {SMALL_QUICK_FILES})",
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        help=f"No-op rebuilds per workload (default: {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--cold-repeat",
        type=positive_int,
        default=DEFAULT_COLD_REPEAT,
        metavar="C",
        help="Cold builds per workload and tool, each from the generated files alone, tools "
        "alternately; the median is reported (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        help="Workers of stepup (its -w) and of ninja (its -j) (default: %(default)s)",
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="CMD",
        help="Also time another tool on the e2e workloads, alternately with stepup, each in "
        "its own copy: 'ninja' (a generated build.ninja, run with -j WORKERS) or a "
        "stepup-compatible command line, e.g. '/tmp/ref/bin/stepup -n -w2'. May be repeated.",
    )
    args = parser.parse_args(argv)
    if args.steps is not None and "scheduling" in args.groups and max(args.steps) > SCHED_MAX_STEPS:
        parser.error(f"scheduling takes at most {SCHED_MAX_STEPS} steps, got {max(args.steps)}")
    if args.compare and "e2e" not in args.groups:
        parser.error("--compare needs the e2e group (--groups e2e,...)")
    try:
        args.tools = e2e_tools(args.compare, args.workers)
    except ValueError as exc:
        parser.error(f"argument --compare: {exc}")
    args.sched_steps = args.steps or (SCHED_QUICK_STEPS if args.quick else DEFAULT_STEPS)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.hash_mib is None:
        args.hash_mib = HASH_QUICK_MIB if args.quick else HASH_MIB
    if args.small_files is None:
        args.small_files = SMALL_QUICK_FILES if args.quick else SMALL_FILES
    if args.repeat is None:
        args.repeat = QUICK_REPEAT if args.quick else DEFAULT_REPEAT
    return args


def e2e_tools(compare: list[str], workers: int) -> list[Tool]:
    """This stepup first (the ratios divide by it), then each ``--compare`` tool."""
    return unique_names([stepup_tool(workers), *(compare_tool(cmd, workers) for cmd in compare)])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_e2e(args: argparse.Namespace) -> list[dict]:
    """Every shape at every size, each in fresh folders: one row per tool."""
    rows = []
    for shape in args.shapes:
        for steps in args.steps:
            results = bench_workload(
                shape,
                steps,
                tools=args.tools,
                repeat=args.repeat,
                cold_repeat=args.cold_repeat,
                with_change=not args.quick,
                log=log,
            )
            rows.extend(summarize(result) for result in results)
    return rows


def run_scheduling(args: argparse.Namespace) -> list[dict]:
    """Every scheduling shape at every size, in this process."""
    return [
        summarize_scheduling(result)
        for shape in args.sched_shapes
        for result in bench_scheduling(shape, args.sched_steps, log=log)
    ]


def run_hashing(args: argparse.Namespace) -> list[dict]:
    """One row: a large file and many small ones."""
    return [summarize_hashing(bench_hashing(args.hash_mib, args.small_files, log=log))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen groups, print the report, and exit with 1 if any workload failed."""
    args = parse_args(argv)
    meta = metadata(
        quick=args.quick,
        groups=args.groups,
        shapes=args.shapes,
        steps=args.steps,
        repeat=args.repeat,
        cold_repeat=args.cold_repeat,
        workers=args.workers,
        tools=[{"name": t.name, "kind": str(t.kind), "argv": t.argv} for t in args.tools],
        sched_shapes=args.sched_shapes,
        sched_steps=args.sched_steps,
        hash_mib=args.hash_mib,
        small_files=args.small_files,
    )
    rows = run_e2e(args) if "e2e" in args.groups else None
    scheduling = run_scheduling(args) if "scheduling" in args.groups else None
    hashing = run_hashing(args) if "hashing" in args.groups else None
    if args.json:
        print(to_json(meta, rows, scheduling, hashing))
    else:
        print(format_report(meta, rows, scheduling, hashing))
    failed = [row for group in (rows, scheduling, hashing) for row in group or () if row["error"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
