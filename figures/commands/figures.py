"""``cbn figures [NAME ...] [--quick] [--device auto|cpu|cuda] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cbn.figures.cli import add_common_options, print_json
from cbn.figures.recipe_runner import recipe_module, run_recipe
from cbn.figures.recipes import RECIPES
from cbn.numerics.inputs import InputError
from cbn.numerics.store import DEFAULT_STORE, ResultStore


def add_figure_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``cbn figures`` and ``cbn reproduce``."""
    parser.add_argument("--quick", action="store_true",
                        help="quick mode (small sizes; all figures in minutes on a CPU)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--store", default=DEFAULT_STORE, help="result store folder")


def resolve_device(choice: str) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda given but no CUDA device is available; use --device cpu")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def mode_of(args: argparse.Namespace) -> str:
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(RECIPES)}")
    add_figure_options(parser)
    add_common_options(parser, seed=False)


def default_out(args: argparse.Namespace) -> str:
    """The image folder when ``--out`` is not given."""
    return "cbn-out/figures"


def render(names, args) -> list:
    device = resolve_device(args.device)
    out = Path(args.out or default_out(args))
    store = ResultStore(args.store)
    results = []
    for i, name in enumerate(names):
        print(f"[{i + 1}/{len(names)}] figure {name} ({mode_of(args)}, {device})",
              file=sys.stderr, flush=True)
        results.append(run_recipe(name, mode_of(args), out, device, store))
    return results


def run(args: argparse.Namespace) -> int:
    names = args.names or list(RECIPES)
    for name in names:
        try:
            recipe_module(name)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    results = render(names, args)
    if args.json:
        print_json({"figures": [r.to_dict() for r in results]})
    else:
        for r in results:
            mark = {True: "agrees", False: "DISAGREES", None: "-"}[r.agrees]
            print(f"{r.name:28s} {mark:10s} {r.seconds:7.1f}s  {', '.join(r.images)}")
            print(f"{'':28s} {r.verdict}")
    return 0
