"""``cbn targets [SPEC ...] [--validate] [--json]``: list targets and what is known of each."""

from __future__ import annotations

import argparse

from cbn.figures.cli import add_common_options, print_json, write_json_file
from cbn.numerics.inputs import InputError
from cbn.numerics.targets import get_target, list_targets, validate_target
from cbn.numerics.targets.loading import target_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "specs", nargs="*", metavar="SPEC",
        help="targets to show: a registered name, module:function or path/to/file.py:function "
             "(default: every registered target)",
    )
    parser.add_argument(
        "--validate", action="store_true",
        help="also run the cheap checks (shapes, NaN, batching, declared symmetry, known "
             "multipliers and factorisation) on a few samples",
    )
    add_common_options(parser)


def _row(spec: str, validate: bool, seed: int, strict: bool) -> dict:
    """Summary of one target; with ``strict`` a failure is bad input, else recorded in the row."""
    try:
        target = get_target(spec)
        row = target.summary()
        row["spec"] = spec
        row["source"] = target_source(spec) if ":" not in spec else "module:function"
        if validate:
            validate_target(target, seed=seed)
            row["valid"] = True
    except InputError as exc:
        if strict:
            raise
        row = {"spec": spec, "name": spec, "source": target_source(spec), "error": str(exc)}
        if validate:
            row["valid"] = False
    return row


def run(args: argparse.Namespace) -> int:
    strict = bool(args.specs)
    rows = [_row(spec, args.validate, args.seed, strict) for spec in (args.specs or list_targets())]
    report = {
        "targets": rows,
        "legend": {
            "expected_cbn_rank": "EXACT R0 from the closed form (linear targets)",
            "r0_upper_bound": "UPPER bound on R0 from a known factorisation "
                              "(paper_notes/theory.md section 4)",
        },
    }
    if args.out:
        write_json_file(args.out, "targets.json", report)
    if args.json:
        print_json(report)
        return 0
    _print_table(rows)
    return 0


def _fmt(value) -> str:
    return "-" if value is None else str(value)


def _print_table(rows: list[dict]) -> None:
    print("R0 exact = CBN rank from the closed form (linear targets); "
          "R0 <= = UPPER bound from a known factorisation")
    print(f"{'name':<22} {'in->out':>8} {'grid':>9} {'symmetry':>11} {'R0 exact':>8} "
          f"{'R0 <=':>6}")
    for row in rows:
        if "error" in row:
            print(f"{row['spec']:<22} unavailable: {row['error']}")
            continue
        grid = "x".join(str(s) for s in row["spatial"])
        print(f"{row['spec']:<22} {row['c_in']:>3}->{row['c_out']:<3} {grid:>9} "
              f"{row['symmetry']:>11} {_fmt(row['expected_cbn_rank']):>8} "
              f"{_fmt(row['r0_upper_bound']):>6}"
              + ("" if "valid" not in row else "  valid"))
        print(f"    {row['description']}")
