"""``cbn keep TARGET``: the frequencies a ridge-trained ReLU net keeps as the weight decay grows.

A multichannel ReLU circular CNN (biases unless ``--no-bias``) starts from a seeded random
network and follows the rising weight-decay path of
:func:`cbn.numerics.search.rising.rising_ridge_path`: L-BFGS on
``||f(X) - Y||^2 / ||Y||^2 + lam ||theta||^2`` for ``lam`` from ``--lam-min`` up to
``--lam-max`` (geometric, ``--stages`` values), each stage from the previous one's end. Every
stage prints its residual, its norm (an UPPER bound on the cost of the function the net
computes; the net does not interpolate) and the singular values each layer keeps (above
``--rel`` of the layer's largest), with the middle layers' kept frequencies by label. Made for
tasks that do not interpolate at the ``lam`` of interest (autoencoders, a user's own target);
``cbn fit`` measures the minimal-norm interpolation instead.

``--out DIR`` writes ``keep.json`` (what ``--json`` prints) and ``kept_path.png``, atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cbn.figures.cli import add_common_options, print_json
from cbn.figures.commands.fit import key_value
from cbn.figures.files import json_text, write_folder_atomically
from cbn.figures.recipes._common import frequency_label
from cbn.numerics.fourier import half_frequency_mask
from cbn.numerics.inputs import InputError
from cbn.numerics.search import Architecture
from cbn.numerics.search.rising import KeptStage, RisingSettings, rising_ridge_path
from cbn.numerics.sweep import target_from_config
from cbn.numerics.targets import validate_target

#: Middle-layer labels printed per stage in the table (all of them are in the JSON).
LABELS_SHOWN = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = RisingSettings()
    parser.add_argument("target", help="registered target name, entry point or module:function")
    parser.add_argument("--param", type=key_value("--param"), action="append", default=[],
                        metavar="KEY=VALUE", help="target parameter (JSON value), repeatable")
    parser.add_argument("--depth", type=int, default=6, help="convolution layers (default 6)")
    parser.add_argument("--width", type=int, default=8, help="hidden width (default 8)")
    parser.add_argument("--samples", type=int, default=64, help="data points (default 64)")
    parser.add_argument("--no-bias", action="store_true", help="networks without biases")
    parser.add_argument("--lam-min", type=float, default=d.lam_min,
                        help=f"first lam (default {d.lam_min:g})")
    parser.add_argument("--lam-max", type=float, default=d.lam_max,
                        help=f"last lam (default {d.lam_max:g})")
    parser.add_argument("--stages", type=int, default=d.stages,
                        help=f"lam values, geometric (default {d.stages})")
    parser.add_argument("--stage-iter", type=int, default=d.stage_iter,
                        help=f"L-BFGS iterations per stage (default {d.stage_iter})")
    parser.add_argument("--rel", type=float, default=d.rel,
                        help=f"kept split: fraction of the layer's largest singular value "
                             f"(default {d.rel:g})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common_options(parser)


def _labels(spatial: tuple[int, ...], counts: np.ndarray) -> list[str]:
    mask = (counts > 0) & half_frequency_mask(spatial)
    return [frequency_label(spatial, tuple(int(i) for i in ix)) for ix in zip(*np.nonzero(mask))]


def _middle(stage: KeptStage) -> np.ndarray:
    return np.max([stage.counts[i] for i in stage.middle_layers()], axis=0)


def compute(args: argparse.Namespace) -> dict:
    """Validate the arguments, run the path and return the report (a JSON-able dict)."""
    for name in ("depth", "width", "samples"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be >= 1, got {getattr(args, name)}")
    try:
        settings = RisingSettings(lam_min=args.lam_min, lam_max=args.lam_max,
                                  stages=args.stages, stage_iter=args.stage_iter, rel=args.rel,
                                  include_bias=not args.no_bias, progress=not args.quiet)
    except InputError as exc:
        raise InputError(f"--lam-min/--lam-max/--stages/--stage-iter/--rel: {exc}") from None
    try:
        target = target_from_config({"spec": args.target, "params": dict(args.param)})
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot build target: {exc}") from None
    validate_target(target)
    if target.symmetry != "equivariant" or getattr(target, "pooled", False):
        raise InputError(f"target {target.name} has pooled outputs; cbn keep needs an "
                         f"equivariant target with per-pixel outputs")
    X = target.sample(args.samples, args.seed)
    arch = Architecture.uniform(args.depth, args.width, bias=not args.no_bias)
    run = rising_ridge_path(X, target.evaluate(X), arch, settings, args.seed)
    spatial = tuple(target.spatial)
    stages = [{**s.to_dict(), "middle_kept_labels": _labels(spatial, _middle(s))}
              for s in run.stages]
    return {"target": target.name, "params": dict(args.param), "spatial": list(spatial),
            "samples": args.samples, "sample_seed": args.seed, "depth": args.depth,
            "width": args.width, "bias": not args.no_bias, "start_seed": run.seed,
            "dead_starts_skipped": list(run.skipped_seeds),
            "settings": {"lam_min": settings.lam_min, "lam_max": settings.lam_max,
                         "stages": settings.stages, "stage_iter": settings.stage_iter,
                         "rel": settings.rel},
            "objective": "||f(X) - Y||^2 / ||Y||^2 + lam ||theta||^2",
            "bound": "norm_sq: upper bound on the cost of the function each net computes "
                     "(the nets do not interpolate)",
            "stages": stages}


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lams = [s["lam"] for s in report["stages"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for layer in range(report["depth"]):
        axes[0].plot(lams, [s["kept_total"][layer] for s in report["stages"]], "o-",
                     label=f"layer {layer + 1}")
    axes[0].set(xscale="log", yscale="log", xlabel="lam", ylabel="kept singular values",
                title=f"{report['target']}: kept per layer")
    axes[0].legend(fontsize=7)
    axes[1].plot(lams, [s["residual_rel"] for s in report["stages"]], "o-")
    axes[1].set(xscale="log", xlabel="lam", ylabel="||f(X) - Y|| / ||Y||",
                title="relative residual")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    report = compute(args)
    if args.out:
        def fill(folder: Path) -> None:
            (folder / "keep.json").write_text(json_text(report))
            _plot(report, folder / "kept_path.png")
        write_folder_atomically(args.out, fill)
    if args.json:
        print_json(report)
        return 0
    print(f"{report['target']} on {tuple(report['spatial'])}, {report['samples']} samples; "
          f"depth {report['depth']}, width {report['width']}, random start seed "
          f"{report['start_seed']}" + (f" (dead starts skipped: {report['dead_starts_skipped']})"
                                       if report["dead_starts_skipped"] else ""))
    print("norms are UPPER bounds on the cost of what each net computes (no interpolation)")
    print(f"{'lam':>9}  {'residual':>8}  {'||theta||^2':>11}  kept per layer / middle "
          f"frequencies")
    for s in report["stages"]:
        labels = s["middle_kept_labels"]
        more = f" (+{len(labels) - LABELS_SHOWN})" if len(labels) > LABELS_SHOWN else ""
        print(f"{s['lam']:>9.3g}  {s['residual_rel']:>8.4f}  {s['norm_sq']:>11.5g}  "
              f"{s['kept_total']}  {'; '.join(labels[:LABELS_SHOWN])}{more}")
    if args.out:
        print(f"wrote {Path(args.out) / 'keep.json'} and kept_path.png")
    return 0

