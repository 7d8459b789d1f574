"""``python -m wftrio.bench`` / ``wftrio bench``: the command line of the benchmark."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from wftrio.bench._profile import WORKLOADS, profile
from wftrio.bench._report import (
    compare,
    format_compare,
    format_table,
    json_safe,
    load_baseline,
)
from wftrio.bench._suite import FIGURES, run_benchmarks

__all__ = ["main", "parser"]


def parser(prog: str = "python -m wftrio.bench") -> argparse.ArgumentParser:
    """The benchmark's argument parser (``prog`` is the command shown in its help)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="wftrio's performance figures: each a ratio against a baseline "
        "measured in the same run (see docs/BENCHMARKS.md).",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument(
        "--full",
        action="store_true",
        help="add the largest sizes (100,000 waiting cases in figures 12, 12b; minutes)",
    )
    p.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    p.add_argument(
        "--only",
        default=",".join(FIGURES),
        help=f"comma-separated figures to run (default all: {','.join(FIGURES)})",
    )
    p.add_argument(
        "--compare",
        metavar="BASELINE.json",
        help="print each figure beside the same figure of an earlier `--json` run, "
        "with the change in %%",
    )
    p.add_argument(
        "--profile",
        choices=WORKLOADS,
        help="profile one engine workload with cProfile instead of benchmarking",
    )
    return p


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m wftrio.bench") -> int:
    """Run the benchmark from the command line; return the exit status.

    Mistakes in the arguments (an unknown figure, an unreadable baseline)
    print one line and exit with status 2, as argparse does.
    """
    p = parser(prog)
    args = p.parse_args(argv)
    if args.profile:
        print(profile(args.profile, quick=args.quick))
        return 0
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    unknown = sorted(set(only) - set(FIGURES))
    if unknown:
        p.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    baseline = None
    if args.compare is not None:
        try:
            with open(args.compare, encoding="utf-8") as fp:
                baseline = load_baseline(fp.read(), args.compare)
        except OSError as exc:
            p.error(f"cannot read {args.compare}: {exc.strerror}")
        except ValueError as exc:
            p.error(str(exc))
    report = run_benchmarks(quick=args.quick, repeat=args.repeat, only=only, full=args.full)
    if args.json:
        if baseline is not None:
            report["compare"] = {"baseline": args.compare, "figures": compare(report, baseline)}
        json.dump(json_safe(report), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif baseline is not None:
        print(format_compare(report, baseline, args.compare))
    else:
        print(format_table(report))
    return 0
