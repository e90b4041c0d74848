"""python -m demos.exercises {list, check N [path], hint N, release [DIR]}"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .catalog import EXERCISES, check, exercise, hint, listing
from .core import ExerciseError
from .release import release

DEFAULT_DIR = Path("exercises")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demos.exercises",
        description="Backprop exercises that check themselves and point at the first wrong step.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the exercises")
    c = commands.add_parser("check", help="check your file for exercise N")
    c.add_argument("number", type=int, help=f"1 to {len(EXERCISES)}")
    c.add_argument("path", nargs="?", type=Path, help=f"your file (default: {DEFAULT_DIR}/<its file name>)")
    h = commands.add_parser("hint", help="hints for exercise N")
    h.add_argument("number", type=int)
    r = commands.add_parser("release", help="write the student versions (solutions removed)")
    r.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR, help=f"where (default: {DEFAULT_DIR})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 when it succeeds (a check: the answer is right), 1 when not."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            print(listing())
        elif args.command == "hint":
            print(hint(args.number))
        elif args.command == "release":
            for path in release(args.dir):
                print(f"wrote {path}")
        else:
            path = args.path if args.path is not None else DEFAULT_DIR / exercise(args.number).filename
            report = check(args.number, path)
            print(report.text)
            return 0 if report.ok else 1
    except ExerciseError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
