"""`python -m benchmarks`: run the suite, print the table, write the results files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .engines import ENGINE_KEYS
from .report import markdown_table, save, text_table
from .suite import PRESETS, WORKLOADS, run

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _names(value: str, allowed: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(bad) or repr(value)}; choose from {', '.join(allowed)}"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="chainrule eager and compiled against floors measured in the same run, with micrograd"
        " and PyTorch as references, in one process.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_const",
        const="quick",
        dest="preset",
        help="smaller workloads, fewer repeats (a minute or two); targets are judged at full size only",
    )
    size.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="full",
        help="workload sizes: full (published figures), quick, tiny (machinery check only)",
    )
    p.set_defaults(preset="full")  # both size flags share `preset`; neither given means the full run
    p.add_argument("--repeats", type=int, help="timed repeats per measurement; the median is reported")
    p.add_argument(
        "--only",
        type=lambda v: _names(v, WORKLOADS, "workload"),
        default=list(WORKLOADS),
        metavar="NAMES",
        help=f"comma-separated workloads from: {', '.join(WORKLOADS)}",
    )
    p.add_argument(
        "--engines",
        type=lambda v: _names(v, ENGINE_KEYS, "engine"),
        default=list(ENGINE_KEYS),
        metavar="NAMES",
        help=f"comma-separated engines from: {', '.join(ENGINE_KEYS)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="results file; PATH.md and PATH.json are written (default benchmarks/results,"
        " benchmarks/results-quick for --quick, nothing for --preset tiny)",
    )
    p.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="do not gc.freeze() the import-time heap (then every engine's full collections also walk torch's objects)",
    )
    p.add_argument("--markdown", action="store_true", help="print the table as markdown (as in benchmarks/results.md)")
    p.add_argument(
        "--note",
        action="append",
        default=[],
        metavar="TEXT",
        help="a note to store with the results (e.g. 'machine under load'); repeatable",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = PRESETS[args.preset]
    if args.repeats is not None:
        if args.repeats < 1:
            parser().error(f"--repeats must be >= 1, got {args.repeats}")
        config = config.with_repeats(args.repeats)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    results = run(config, args.engines, args.only, log, args.gc_freeze)
    print(markdown_table(results) if args.markdown else text_table(results))
    out = args.out
    if out is None and config.name != "tiny":
        out = DEFAULT_OUT if config.name == "full" else DEFAULT_OUT.with_name("results-" + config.name)
    if out is not None:
        md, js = save(results, out, args.note)
        log(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
