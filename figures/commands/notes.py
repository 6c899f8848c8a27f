"""``cbn notes REPORT.json [--folder paper_notes]``: rewrite the measured sections of the paper
notes from a ``cbn check`` report (the prose around them is kept)."""

from __future__ import annotations

import argparse

from cbn.figures.cli import print_json
from cbn.figures.paper_notes import update_notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", help="report.json written by cbn check (--out DIR)")
    parser.add_argument("--folder", default="paper_notes",
                        help="the paper notes folder (default ./paper_notes)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    done = update_notes(args.report, args.folder)
    if args.json:
        print_json(done.__dict__)
    else:
        for note, ids in done.claims_per_note.items():
            print(f"{args.folder}/{note}: {len(ids)} claim(s) from {done.report} ({done.mode})")
    return 0
