"""``cbn linear FILTER.npy --depth L ...``: exact closed-form costs of a linear target."""

from __future__ import annotations

import argparse

import numpy as np

from cbn.figures.cli import add_common_options, print_json, write_json_file
from cbn.numerics.inputs import InputError, check_depths, load_filter
from cbn.numerics.linear import RANK_RTOL, analyze_linear_filter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filter", help="filter .npy of shape (c_out, c_in, *spatial)")
    parser.add_argument(
        "--depth", type=int, action="append", required=True, help="depth L >= 1 (repeatable)"
    )
    parser.add_argument("--convention", choices=["scaled", "plain"], default="scaled")
    parser.add_argument(
        "--rtol", type=float, default=RANK_RTOL,
        help=f"relative rank threshold on singular values (default {RANK_RTOL:g})",
    )
    add_common_options(parser, seed=False)


def run(args: argparse.Namespace) -> int:
    depths = check_depths(args.depth)
    if not args.rtol >= 0:
        raise InputError(f"--rtol must be >= 0, got {args.rtol}")
    filters = load_filter(args.filter)
    report = analyze_linear_filter(filters, depths, args.convention, args.rtol).to_dict()
    report["filter"] = str(args.filter)
    if args.out:
        write_json_file(args.out, "linear.json", report)
    if args.json:
        print_json(report)
        return 0
    _print_table(report)
    return 0


def _print_table(report: dict) -> None:
    c_out, c_in = report["channels"]
    print(f"linear target {report['filter']}: {c_out}x{c_in} channels on grid "
          f"{tuple(report['spatial'])}, {report['convention']} convention")
    print("all values are EXACT (closed form), not bounds")
    print(f"{'depth L':>8}  {'R(A;L)':>18}  {'L*R0+R1+R2/L':>18}")
    for L, cost in zip(report["depths"], report["cost"]):
        approx = L * report["R0"] + report["R1"] + report["R2"] / L
        print(f"{L:>8}  {cost:>18.10g}  {approx:>18.10g}")
    print(f"R0 = {report['R0']:.10g}   R1 = {report['R1']:.10g}   R2 = {report['R2']:.10g}")
    print(f"CBN rank = {report['cbn_rank']} (rank rule: {report['rank_rule']}, "
          f"rank_rtol = {report['rank_rtol']:g})")
    print("rank per frequency (FFT order):")
    print(np.array(report["rank_per_frequency"]))
