"""``stepup run|wait|join|graph|...``: control a running interactive stepup from a shell."""

import argparse
import sys
from typing import NoReturn

from stepup_trio import interact, wire
from stepup_trio.errors import StepUpError, UsageError

__all__ = ["COMMANDS", "main"]

COMMANDS = {
    "run": "leave the watch phase and process the changes seen so far",
    "wait": "wait until stepup is idle, in its watch phase",
    "join": "wait until stepup is idle, then shut it down",
    "shutdown": "stop stepup after its current run phase",
    "drain": "start no new steps, finish the running ones, then watch",
    "from-scratch": "forget all hashes and run every step again",
    "try-replay": "replay the whole workflow, skipping what did not change",
    "graph": "write the workflow graph in each --format (default: text,dot) to PREFIX.*",
    "watch-update": "wait until stepup has seen PATH change",
    "watch-delete": "wait until stepup has seen PATH deleted",
    "cleanup": "remove outputs and everything that depends on them",
}


class _ArgumentParser(argparse.ArgumentParser):
    """Misuse exits with 1, as for ``stepup`` itself: exit code 2 means that a step failed."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _formats(value: str) -> list[str]:
    """Read ``--format FMT[,FMT...]``; whether each exists is for the director to say."""
    try:
        return interact._parse_formats(value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="stepup", description="Control the stepup that runs in this directory."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text)
        if name == "graph":
            sub.add_argument(
                "prefix",
                nargs="?",
                default="graph",
                help="file names start with this, relative to the root (default: %(default)s)",
            )
            sub.add_argument(
                "--format",
                dest="formats",
                metavar="FMT[,FMT...]",
                type=_formats,
                action="extend",
                help="graph formats to write, comma-separated or repeated; one exporter "
                "plugin each, see stepup --list-plugins (default: text,dot)",
            )
        elif name in ("watch-update", "watch-delete"):
            sub.add_argument("path")
        elif name == "cleanup":
            sub.add_argument("paths", nargs="+", metavar="path")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "graph":
            interact.graph(args.prefix, args.formats or wire.DEFAULT_GRAPH_FORMATS)
        elif args.command == "watch-update":
            interact.watch_update(args.path)
        elif args.command == "watch-delete":
            interact.watch_delete(args.path)
        elif args.command == "cleanup":
            numf, numd = interact.cleanup(*args.paths)
            print(f"Removed {numf} files and {numd} directories.")
        else:
            getattr(interact, args.command.replace("-", "_"))()
    except StepUpError as exc:
        print(f"stepup {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
