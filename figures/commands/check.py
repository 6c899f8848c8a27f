"""``cbn check [--quick] [--only PATTERN] [--json] [--out DIR]``: run every claim check.

Exit status 0 only when every asserted claim passes and every recorded finding still fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cbn.figures.check_report import environment, run_checks, summary_line, write_report
from cbn.figures.cli import add_common_options, print_json
from cbn.numerics.inputs import InputError
from cbn.theory.claims import select_claims


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="quick mode (seconds per claim)")
    parser.add_argument("--only", default=None, metavar="PATTERN",
                        help="claim ids matching this glob or substring")
    parser.add_argument("--list", action="store_true", help="list claim ids and exit")
    add_common_options(parser, seed=False)


def default_out(args: argparse.Namespace) -> str | None:
    """The report folder when ``--out`` is not given (``--list`` writes nothing)."""
    return None if args.list else "cbn-out/check"


def run(args: argparse.Namespace) -> int:
    try:
        claims = select_claims(args.only)
    except ValueError as exc:  # theory/ knows no InputError (it imports nothing of ours)
        raise InputError(str(exc)) from None
    if args.list:
        if args.json:
            print_json({"claims": [{"id": c.id, "kind": c.kind} for c in claims]})
            return 0
        for c in claims:
            print(f"{c.id:40s} {c.kind}")
        return 0
    mode = "quick" if args.quick else "full"

    def progress(i: int, n: int, claim_id: str) -> None:
        print(f"[{i + 1}/{n}] {claim_id}", file=sys.stderr, flush=True)

    records = run_checks(claims, mode, progress)
    env = environment()
    out = Path(args.out or default_out(args))
    json_path, md_path = write_report(records, env, mode, out)
    ok = all(r["ok"] for r in records)
    if args.json:
        print_json({"mode": mode, "passed": ok, "report": str(md_path), "environment": env,
                    "claims": records})
    else:
        for r in records:
            print(f"{r['verdict']:8s}  {r['id']:40s} measured={r['measured']!s:.40}  "
                  f"tolerance={r['tolerance']}")
        print(f"{summary_line(records)}; report: {md_path}")
    return 0 if ok else 1
