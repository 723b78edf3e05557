"""``stepup run|wait|join|graph|...``: control a running interactive stepup from a shell."""

import argparse
import sys

from stepup_trio import interact
from stepup_trio.errors import StepUpError

__all__ = ["COMMANDS", "main"]

COMMANDS = {
    "run": "leave the watch phase and process the changes seen so far",
    "wait": "wait until stepup is idle, in its watch phase",
    "join": "wait until stepup is idle, then shut it down",
    "shutdown": "stop stepup after its current run phase",
    "drain": "start no new steps, finish the running ones, then watch",
    "from-scratch": "forget all hashes and run every step again",
    "try-replay": "replay the whole workflow, skipping what did not change",
    "graph": "write PREFIX.txt, PREFIX_supplier.dot and PREFIX_creator.dot",
    "watch-update": "wait until stepup has seen PATH change",
    "watch-delete": "wait until stepup has seen PATH deleted",
    "cleanup": "remove outputs and everything that depends on them",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepup", description="Control the stepup that runs in this directory."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text)
        if name == "graph":
            sub.add_argument("prefix", nargs="?", default="graph")
        elif name in ("watch-update", "watch-delete"):
            sub.add_argument("path")
        elif name == "cleanup":
            sub.add_argument("paths", nargs="+", metavar="path")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "graph":
            interact.graph(args.prefix)
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
