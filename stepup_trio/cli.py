"""The ``stepup`` command: check the plan, then run the director in one trio nursery."""

import argparse
import decimal
import fcntl
import os
import stat
import sys
import tempfile

import trio

from stepup_trio import __version__, commands
from stepup_trio.commands import COMMANDS
from stepup_trio.director import Config, ExitCode
from stepup_trio.errors import StepUpError, UsageError
from stepup_trio.plugins import load_plugins
from stepup_trio.services.reporter import Reporter
from stepup_trio.session import serve_session

__all__ = ["main", "num_workers", "parse_args"]

SHEBANGS = ("#!/usr/bin/env python", "#!/usr/bin/env python3")
STEPUP_DIR = ".stepup"


def num_workers(value: str, cores: int | None = None) -> int:
    """``-w 3`` means three workers; ``-w 1.5`` (a decimal point) means 1.5 per core."""
    try:
        number = decimal.Decimal(value)
    except decimal.InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"invalid number of workers: {value!r} (use an integer, or a factor such as 1.5)"
        ) from None
    if not number.is_finite():
        raise argparse.ArgumentTypeError(f"invalid number of workers: {value!r}")
    if number.as_tuple().exponent < 0:
        if cores is None:
            cores = len(os.sched_getaffinity(0))
        return int(cores * number)
    return int(number)


class _ArgumentParser(argparse.ArgumentParser):
    """Misuse of the command line exits with 1: exit code 2 means that a step failed."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(ExitCode.ERROR, f"{self.prog}: error: {message}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _ArgumentParser(
        prog="stepup",
        description="Run the workflow defined by a plan script and keep it up to date.",
        epilog="Control a running interactive stepup with: stepup {"
        + ",".join(COMMANDS)
        + "} (see stepup run --help).",
    )
    parser.add_argument(
        "plan_py", nargs="?", default="plan.py", help="Top-level plan script (default: %(default)s)"
    )
    parser.add_argument(
        "--root",
        default=os.environ.get("STEPUP_ROOT", os.getcwd()),
        help="Root of the workflow; the default is $STEPUP_ROOT or the current directory "
        "(now: %(default)s)",
    )
    parser.add_argument(
        "-w",
        "-j",
        "--num-workers",
        type=str,
        default="1.2",
        help="Number of workers; with a decimal point, a factor of the number of cores "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "-s",
        "--show-perf",
        action="count",
        default=0,
        help="Prefix lines with the time and number of running steps; twice: also show the "
        "CPU and wall time of each step",
    )
    parser.add_argument(
        "-e",
        "--explain-rerun",
        action="store_true",
        help="Explain why steps are rerun or skipped",
    )
    parser.add_argument(
        "-n",
        "--non-interactive",
        action="store_true",
        help="Run the workflow once and exit, without watching files",
    )
    parser.add_argument(
        "--list-plugins",
        action="store_true",
        help="List the node kinds and graph exporters that are installed, and exit",
    )
    parser.add_argument("--version", action="version", version=f"stepup-trio {__version__}")
    return parser.parse_args(argv)


def check_plan(plan: str) -> None:
    """The plan script must be an executable Python script in the root."""
    if os.path.dirname(plan) not in ("", "."):
        raise UsageError(
            f"The plan script must be in the root of the workflow: {plan}\n"
            f"Run stepup in its directory, or pass --root {os.path.dirname(plan) or '.'}"
        )
    if not os.path.isfile(plan):
        raise UsageError(
            f"File {plan} does not exist.\n"
            f"Create an executable {plan} in {os.getcwd()} (see the tutorial), "
            "or name another plan script: stepup other_plan.py"
        )
    if not os.stat(plan).st_mode & stat.S_IXUSR:
        raise UsageError(f"File is not executable: {plan}\nMake it executable: chmod +x {plan}")
    with open(plan, "rb") as fh:
        first_line = fh.readline().rstrip(b"\r\n").decode("utf-8", errors="replace")
    if first_line not in SHEBANGS:
        raise UsageError(
            f"First line of plan differs from '{SHEBANGS[0]}': {plan}\n"
            f"Make '{SHEBANGS[0]}' (or '{SHEBANGS[1]}') the first line of {plan}."
        )


_LOCK_FD: int | None = None


def _lock(stepup_dir: str) -> None:
    """Only one stepup per root: two would write the same dump and journal."""
    global _LOCK_FD
    path = os.path.join(stepup_dir, "lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise UsageError(
            f"Another stepup (pid {other}) is running in {os.getcwd()}. "
            "Stop it first (stepup shutdown), or wait until it is done."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _LOCK_FD = fd


def prepare(args: argparse.Namespace) -> Config:
    """Validate the command line and the plan, and prepare the ``.stepup`` directory."""
    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        raise UsageError(f"The root directory does not exist: {root}")
    if root != os.getcwd():
        print(f"Changing to {root}")
        os.chdir(root)
    try:
        workers = num_workers(args.num_workers)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(str(exc)) from None
    if workers < 1:
        raise UsageError(
            f"Number of workers must be strictly positive, got {workers}. "
            "Use -w 1 or more (or a factor such as -w 1.0 for one worker per core)."
        )
    plan = os.path.normpath(args.plan_py)
    check_plan(plan)
    if os.path.exists(STEPUP_DIR) and not os.path.isdir(STEPUP_DIR):
        raise UsageError(f"{STEPUP_DIR} exists but is not a directory. Remove or rename it.")
    if not os.path.isdir(STEPUP_DIR):
        try:
            os.mkdir(STEPUP_DIR)
        except OSError as exc:
            raise UsageError(
                f"Cannot prepare {STEPUP_DIR}/: {exc.strerror}. stepup keeps its state in "
                f"{STEPUP_DIR}/ in the project folder: make the folder writable, or run stepup "
                "as its owner."
            ) from None
    try:
        # Everything stepup writes goes here: better to find out now, before changing anything.
        fd, probe = tempfile.mkstemp(dir=STEPUP_DIR, prefix=".writable-")
        os.close(fd)
        os.remove(probe)
        _lock(STEPUP_DIR)
        for name in os.listdir(STEPUP_DIR):
            if name.endswith(".log"):
                os.remove(os.path.join(STEPUP_DIR, name))
    except OSError as exc:
        raise UsageError(
            f"Cannot prepare {STEPUP_DIR}/: {exc.strerror}. stepup writes its dump, journal and "
            f"logs there: make it writable (chmod -R u+w {STEPUP_DIR}), or run stepup as the "
            "owner of the project."
        ) from None
    return Config(
        plan=plan,
        num_workers=workers,
        show_perf=args.show_perf,
        explain_rerun=args.explain_rerun,
        interactive=not args.non_interactive,
        stepup_dir=STEPUP_DIR,
    )


def run(argv: list[str] | None = None) -> int:
    """Run stepup (or one of its control commands) and return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        return commands.main(argv)
    args = parse_args(argv)
    if args.list_plugins:
        try:
            print("\n".join(load_plugins().describe()))
        except StepUpError as exc:
            print(f"stepup: error: {exc}", file=sys.stderr)
            return ExitCode.ERROR
        return ExitCode.SUCCESS
    try:
        config = prepare(args)
        plugins = load_plugins()
    except StepUpError as exc:
        print(f"stepup: error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    reporter = Reporter(show_perf=config.show_perf)
    try:
        exit_code = trio.run(serve_session, config, plugins, reporter)
    except KeyboardInterrupt:
        exit_code = ExitCode.INTERRUPTED
    except StepUpError as exc:
        reporter.close()
        print(f"stepup: error: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    reporter.close()
    return exit_code


def main() -> None:
    sys.exit(run())
