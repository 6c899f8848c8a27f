"""``cbn bench [--quick] [--only NAME ...] [--json] [--out DIR]``: the performance benchmarks,
each a ratio against a baseline timed in the same run, as one table."""

from __future__ import annotations

import argparse
import sys

from cbn.figures.cli import add_common_options, print_json, write_json_file
from cbn.figures.files import markdown_cell, write_text_atomic
from cbn.numerics.benchmarks import BENCHMARKS, BenchResult, machine_note, run_benchmark
from cbn.numerics.inputs import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (about a minute in all on 2 cores)")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    add_common_options(parser, seed=False)  # --json, --out (bench.json and bench.md)


def table(results: list[BenchResult]) -> str:
    """Markdown table: job, baseline, both times, the ratio, how the numbers agree."""
    rows = ["| benchmark | job | baseline | ours (s) | baseline (s) | ratio | agreement |",
            "|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{'>= ' if r.ratio_is_lower_bound else ''}{r.ratio:,.3g}x"
        cells = [r.name, r.job, r.baseline, f"{r.seconds:.3g}", f"{r.baseline_seconds:.3g}",
                 ratio, r.agreement]
        rows.append("| " + " | ".join(markdown_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    names = args.only or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise InputError(f"unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
    results = []
    for i, name in enumerate(names):
        print(f"[{i + 1}/{len(names)}] benchmark {name} ({'quick' if args.quick else 'full'})",
              file=sys.stderr, flush=True)
        results.append(run_benchmark(name, args.quick))
    mode = "quick" if args.quick else "full"
    machine = machine_note()
    report = {"mode": mode, "machine": machine, "benchmarks": [r.to_dict() for r in results]}
    text = f"# cbn bench ({mode})\n\nMachine: {machine}\n\n{table(results)}\n"
    if args.out:
        write_json_file(args.out, "bench.json", report)
        write_text_atomic(f"{args.out}/bench.md", text)
    if args.json:
        print_json(report)
    else:
        print(text)
    return 0
