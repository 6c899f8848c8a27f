"""``cbn reproduce [--quick]``: claim checks + every figure + one Markdown report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cbn.figures.check_report import environment, run_checks, summary_line
from cbn.figures.cli import add_common_options, print_json
from cbn.figures.commands.figures import add_figure_options, mode_of, render
from cbn.figures.recipes import RECIPES
from cbn.figures.reproduce_report import write_reproduction_report
from cbn.theory.claims import all_claims


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_figure_options(parser)
    add_common_options(parser, seed=False)


def default_out(args: argparse.Namespace) -> str:
    """The report folder when ``--out`` is not given."""
    return "cbn-out/reproduce"


def run(args: argparse.Namespace) -> int:
    mode = mode_of(args)
    out = Path(args.out or default_out(args))
    args.out = str(out / "figures")
    timings = {}
    start = time.perf_counter()
    claims = all_claims()

    def progress(i: int, n: int, claim_id: str) -> None:
        print(f"[claim {i + 1}/{n}] {claim_id}", file=sys.stderr, flush=True)

    records = run_checks(claims, "full" if mode == "full" else "quick", progress)
    timings["claims"] = time.perf_counter() - start
    t0 = time.perf_counter()
    figures = render(list(RECIPES), args)
    timings["figures"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    report = write_reproduction_report(records, figures, environment(), mode, out, timings)
    ok = all(r["ok"] for r in records)
    if args.json:
        print_json({"mode": mode, "passed": ok, "report": str(report), "timings": timings,
                    "claims": records, "figures": [f.to_dict() for f in figures]})
    else:
        print(f"{summary_line(records)}; {len(figures)} figures; report: {report}")
    return 0 if ok else 1
