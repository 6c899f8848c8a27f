"""``cbn inspect MODEL --grid 28x28``: the Convolution Bottleneck picture of a plain PyTorch CNN.

MODEL is ``module:function`` / ``file.py:function`` returning an ``nn.Module``, or a
``torch.save`` file (a full model, or a state dict with ``--arch module:function``); see
:mod:`cbn.numerics.model_loading` and, for what is read and how, :mod:`cbn.numerics.torch_import`.
The model and the inputs are validated fully, and the converted network is checked against the
module's own forward pass, before anything is written; the folder (``--out``, default
``cbn-inspect-<model>``) is built in a temporary folder and moved into place at the end:
``inspect.json``, ``spectra.npz`` (``layer<l>``: singular values ``(*grid_in, r)`` per layer,
``layer<l>_folded`` for strided layers), ``weight_spectra.png``, ``activation_energy.png``
(with data) and ``report.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cbn.figures.cli import add_common_options, print_json, write_json_file
from cbn.figures.files import jsonable, write_folder_atomically
from cbn.figures.plotting import save, subplots
from cbn.numerics.data import DATASETS, load_dataset
from cbn.numerics.fourier import frequency_degrees
from cbn.numerics.inputs import InputError, load_data
from cbn.numerics.inspection import Inspection, inspect_network
from cbn.numerics.model_loading import load_model
from cbn.numerics.spectra import NEAR_ONE_SPLIT
from cbn.numerics.torch_import import check_conversion, import_model


def _grid(text: str) -> tuple[int, ...]:
    try:
        grid = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--grid must look like 28x28 or 40, got {text!r}"
                                         ) from None
    if len(grid) not in (1, 2) or min(grid) < 1:
        raise argparse.ArgumentTypeError(f"--grid must be N or N1xN2 with sizes >= 1, got "
                                         f"{text!r}")
    return grid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="module:function, file.py:function, or a torch.save file")
    parser.add_argument("--arch", default=None,
                        help="module:function building the architecture of a state-dict file")
    parser.add_argument("--grid", type=_grid, required=True,
                        help="input grid, e.g. 28x28 (2-D) or 40 (1-D)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data", default=None, help=".npz with X (N, c_in, *grid)")
    data.add_argument("--dataset", choices=list(DATASETS), default=None,
                      help="a bundled data set (cbn.numerics.data)")
    parser.add_argument("--samples", type=int, default=1000,
                        help="data points used (a seeded random subset; default 1000)")
    count = parser.add_mutually_exclusive_group()
    count.add_argument("--threshold", type=float, default=NEAR_ONE_SPLIT,
                       help="count singular values above this (default "
                            f"{NEAR_ONE_SPLIT}: kept values of a minimal-norm net are near 1)")
    count.add_argument("--rtol", type=float, default=None,
                       help="count singular values above RTOL times each layer's largest")
    add_common_options(parser)


def _load_inputs(args: argparse.Namespace, c_in: int) -> np.ndarray | None:
    if args.data is None and args.dataset is None:
        return None
    X = load_data(args.data, require_targets=False).X if args.data else \
        load_dataset(args.dataset).X
    where = args.data or f"data set {args.dataset}"
    if tuple(X.shape[2:]) != tuple(args.grid):
        raise InputError(f"{where} has grid {'x'.join(map(str, X.shape[2:]))} but --grid is "
                         f"{'x'.join(map(str, args.grid))}")
    if X.shape[1] != c_in:
        raise InputError(f"{where} has {X.shape[1]} channel(s); the model takes {c_in}")
    if X.shape[0] > args.samples:
        pick = np.random.default_rng(args.seed).choice(X.shape[0], args.samples, replace=False)
        X = X[np.sort(pick)]
    return X


def _plot_spectra(result: Inspection, path: Path) -> None:
    n = len(result.layers)
    cols = min(n, 4)
    fig, axes = subplots((n + cols - 1) // cols, cols, width=3.0, height=2.4)
    for ax, layer in zip(axes.ravel(), result.layers):
        deg = frequency_degrees(layer.grid_in)["l1"]
        sv = layer.singular_values.reshape(-1, layer.singular_values.shape[-1])
        x = np.repeat(deg.ravel(), sv.shape[1])
        ax.plot(x, sv.ravel(), ".", ms=2, alpha=0.5)
        ax.axhline(layer.threshold, color="r", lw=0.6)
        ax.set_title(f"{layer.name}: {int(layer.counts.sum())} > {layer.threshold:.3g}",
                     fontsize=8)
        ax.set_xlabel("degree |m|_1", fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0][0].set_ylabel("s_i(M_l(m))")
    save(fig, path)


def _plot_energy(result: Inspection, path: Path) -> None:
    n = len(result.layers)
    cols = min(n, 4)
    fig, axes = subplots((n + cols - 1) // cols, cols, width=3.0, height=2.4)
    for ax, layer, e in zip(axes.ravel(), result.layers, result.energies):
        per_freq = e.sum(axis=-1)
        deg = frequency_degrees(layer.grid_out)["l1"]
        ax.semilogy(deg.ravel(), np.maximum(per_freq.ravel(), 1e-300), ".", ms=3)
        ax.set_title(f"{layer.name} ({'x'.join(map(str, layer.grid_out))})", fontsize=8)
        ax.set_xlabel("degree |m|_1", fontsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0][0].set_ylabel("energy over data")
    save(fig, path)


def _layer_rows(summary: dict) -> list[str]:
    rows = []
    for l in summary["layers"]:
        t = l["by_type"]
        rows.append(
            f"| {l['name']} | {'x'.join(map(str, l['kernel']))} | {l['stride']} | "
            f"{l['channels'][0]}->{l['channels'][1]} | {'x'.join(map(str, l['grid_in']))} | "
            f"{l['s_max']:.3g} | {l['total']} | {t['constant']}/{t['Nyquist']}/{t['pair']} | "
            f"{l['by_degree']['linf']} | {_num(l['max_dev_kept'])} | {l['max_dropped']:.3g} |")
        if "folded" in l:
            f = l["folded"]
            rows.append(f"| (folded) | | | | {'x'.join(map(str, l['grid_out']))} | | "
                        f"{f['total']} | {f['by_type']['constant']}/{f['by_type']['Nyquist']}/"
                        f"{f['by_type']['pair']} | {f['by_degree']['linf']} | | |")
    return rows


def _num(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3g}"


def summary_lines(s: dict) -> list[str]:
    """The text summary (stdout and the top of ``report.md``), every bound labelled."""
    lines = [f"model {s['model']}: {len(s['layers'])} convolution layer(s) on "
             f"{'x'.join(map(str, s['grid']))}, channels {s['channels']}"
             + (", global average pooling" if s["pooled"] else "")
             + (f", linear head {s['head'][1]}->{s['head'][0]}" if s["head"] else ""),
             f"converted network = module's forward to {s['conversion_deviation']:.1e} "
             "(relative, float64)",
             f"singular values above {_rule(s)} per layer (constant/Nyquist/pair):"]
    for l in s["layers"]:
        t = l["by_type"]
        fold = f"   folded onto {'x'.join(map(str, l['grid_out']))}: {l['folded']['total']}" \
            if "folded" in l else ""
        lines.append(f"  {l['name']:>12}: {l['total']:>6} ({t['constant']}/{t['Nyquist']}/"
                     f"{t['pair']})  s_max {l['s_max']:.3g}{fold}")
    lines += [f"model's own parameter norm ||theta||^2 = {s['norm_sq']:.6g} (weights only "
              f"{s['weight_norm_sq']:.6g}; an UPPER bound on the cost of its function)",
              f"Schatten LOWER bound (constant inputs, {s['weight_layers']} weight layers) = "
              f"{s['lower_bound']:.6g}; constant-input Jacobian rank sum {s['rank_sum']}"]
    if s["activation_energy"] is not None:
        lines.append(f"activation energy over {s['n_samples']} samples, share at degree "
                     "max|m_i| = 0, 1, 2:")
        lines += [f"  {e['layer']:>12}: " + " ".join(f"{v:.3f}" for v in
                                                      e["share_by_degree_linf"][:3])
                  for e in s["activation_energy"]]
    return lines


def _rule(s: dict) -> str:
    return f"{s['threshold']:g}" if s["rtol"] is None else f"{s['rtol']:g} x the layer's s_max"


def _report(s: dict) -> str:
    header = ("| layer | kernel | stride | channels | grid | s_max | count | constant/Nyquist/"
              "pair | count by degree max(abs m_i) = 0, 1, ... | max abs(s-1) counted | "
              "largest other |\n|---|---|---|---|---|---|---|---|---|---|---|")
    jac = "\n".join(f"| {np.round(j['value'], 4).tolist()} | {j['rank_sum']} | "
                    f"{j['lower_bound']:.6g} |" for j in s["jacobian"])
    energy = ""
    if s["activation_energy"] is not None:
        energy = (f"\n## Activation energy over {s['n_samples']} samples\n\n"
                  "Per layer, `E_l(m) = (1/d_l) sum_x sum_c |a_l(x)^(m)_c|^2` on the layer's "
                  "output grid (per frequency in FFT order in `inspect.json`, with the share "
                  "of each degree max|m_i|).\n\n"
                  "![activation energy](activation_energy.png)\n")
    text = "\n".join(summary_lines(s))
    return (f"# cbn inspect {s['model']}\n\n```\n{text}\n```\n\n## Weight spectra (the CBN "
            f"picture)\n\nSingular values of every layer's multiplier `M_l(m)` (the stride-1 "
            f"convolution on the layer's input grid; a strided layer also shows its folded "
            f"operator per output frequency); counts above {_rule(s)}, conjugate pairs "
            f"count twice.\n\n{header}\n" + "\n".join(_layer_rows(s)) +
            "\n\n![weight spectra](weight_spectra.png)\n\n## Constant-input Jacobians\n\n"
            f"Model's own norm {s['norm_sq']:.6g} (weights only {s['weight_norm_sq']:.6g}): "
            "an UPPER bound on the representation cost of its function. Schatten bounds are "
            "LOWER bounds on the weights' norm of any network of this layout computing the "
            "same function near the constant input.\n\n| constant input | rank sum | "
            f"Schatten LOWER bound |\n|---|---|---|\n{jac}\n{energy}")


def _write(out: Path, s: dict, result: Inspection) -> None:
    def fill(tmp: Path) -> None:
        write_json_file(tmp, "inspect.json", s)
        arrays = {f"layer{i + 1}": l.singular_values for i, l in enumerate(result.layers)}
        arrays.update({f"layer{i + 1}_folded": l.folded for i, l in enumerate(result.layers)
                       if l.folded is not None})
        np.savez(tmp / "spectra.npz", **arrays)
        _plot_spectra(result, tmp / "weight_spectra.png")
        if result.energies is not None:
            _plot_energy(result, tmp / "activation_energy.png")
        (tmp / "report.md").write_text(_report(s))

    write_folder_atomically(out, fill)


def default_out(args: argparse.Namespace) -> str:
    """The report folder when ``--out`` is not given: ``cbn-inspect-<model name>``."""
    name = Path(args.model).stem if Path(args.model).is_file() else args.model.rpartition(":")[2]
    return f"cbn-inspect-{name}"


def run(args: argparse.Namespace) -> int:
    if not (np.isfinite(args.threshold) and args.threshold > 0):
        raise InputError("--threshold must be a finite number > 0")
    if args.rtol is not None and not (np.isfinite(args.rtol) and 0 < args.rtol < 1):
        raise InputError("--rtol must be a number in (0, 1)")
    if args.samples < 1:
        raise InputError("--samples must be >= 1")
    model = load_model(args.model, args.arch)
    net = import_model(model, args.grid)
    X = _load_inputs(args, net.channels[0])
    probe = X[:4] if X is not None else np.random.default_rng(args.seed).standard_normal(
        (2, net.channels[0], *args.grid))
    deviation = check_conversion(model, net, probe)
    result = inspect_network(net, X, args.threshold, args.seed, args.rtol)
    out = Path(args.out or default_out(args))
    s = jsonable({"model": args.model, "conversion_deviation": deviation, **result.to_dict(),
                "report_folder": str(out)})
    _write(out, s, result)
    if args.json:
        print_json(s)
    else:
        print("\n".join(summary_lines(s)))
        print(f"report written to {out}/")
    return 0
