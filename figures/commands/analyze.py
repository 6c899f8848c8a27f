"""``cbn analyze TARGET``: one report folder with the sweep, the fits, the bounds and the plots.

Folder (``--out``, default ``cbn-analyze-<target>``): ``summary.json`` (everything of
``cbn fit --json``), ``report.md``, ``norm_vs_depth.png`` and ``weight_spectra.png`` (per-frequency
singular values of every layer of the deepest best network: the CBN picture) and
``activation_energy.png`` (per-layer energy per frequency over the data). The files are built in
a temporary folder and moved into place at the end, so an error leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cbn.figures.cli import print_json, write_json_file  # noqa: E402
from cbn.figures.commands.fit import (  # noqa: E402
    add_sweep_arguments,
    print_summary,
    run_sweep,
    spec_from_args,
)
from cbn.figures.files import write_folder_atomically  # noqa: E402
from cbn.numerics.spectra import activation_energy, weight_spectra  # noqa: E402
from cbn.numerics.store import ResultStore  # noqa: E402
from cbn.numerics.sweep import SweepSummary, target_from_config  # noqa: E402
from cbn.numerics.weights import Network  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)


def _plot_norms(summary: SweepSummary, path: Path) -> None:
    L = np.array(summary.depths, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(L, summary.norm, "o", label="best trained norm (upper bound)")
    if summary.exact is not None:
        ax.plot(L, summary.exact, "k+", ms=10, label="closed form (exact)")
    if summary.construction_norm is not None:
        pts = [(d, n) for d, n in zip(L, summary.construction_norm) if n is not None]
        if pts:
            ax.plot(*zip(*pts), "rx", label="construction (upper bound)")
    if summary.fit is not None:
        fit = summary.fit
        grid = np.linspace(L.min(), L.max(), 100)
        if fit["R0"] is not None:
            curve = fit["R0"] * grid + sum(c * grid ** float(p) for c, p in zip(
                [fit["R1"]] + ([fit["R2"]] if fit["R2"] is not None else []),
                fit["correction_powers"]))
            label = f"fit: R0={fit['R0']} ({fit['R0_source']}), R1={fit['R1']:.3g}"
        else:  # R0 not resolved: the free fit, labelled as such
            curve = fit["R0_free"] * grid + fit["R1_free"] + (
                fit["R2_free"] / grid if fit["R2_free"] is not None else 0.0)
            label = f"free fit (R0 not resolved): slope {fit['R0_free']:.3g}"
        ax.plot(grid, curve, "-", lw=1, label=label)
    if summary.R0_lower_bound is not None:
        ax.plot(L, summary.R0_lower_bound * L, ":",
                label="slope reference L x R0_lower (bounds the slope, not the norm)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("||theta||^2")
    ax.set_title(summary.target)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_spectra(filters, convention: str, path: Path) -> None:
    spectra = weight_spectra(filters, convention)
    fig, axes = plt.subplots(1, len(spectra), figsize=(2.2 * len(spectra), 2.8), sharey=True,
                             squeeze=False)
    for l, (ax, s) in enumerate(zip(axes[0], spectra)):
        flat = s.reshape(-1, s.shape[-1])
        for i in range(flat.shape[1]):
            ax.plot(np.arange(flat.shape[0]), flat[:, i], ".", ms=4)
        ax.axhline(1.0, color="k", lw=0.5)
        ax.set_title(f"layer {l + 1}", fontsize=8)
        ax.set_xlabel("frequency (FFT order)", fontsize=7)
    axes[0][0].set_ylabel("s_i(M_l(m))")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_energy(energies: list[np.ndarray], path: Path) -> None:
    fig, axes = plt.subplots(1, len(energies), figsize=(2.2 * len(energies), 2.8),
                             squeeze=False)
    for l, (ax, e) in enumerate(zip(axes[0], energies)):
        per_freq = e.reshape(-1, e.shape[-1]).sum(axis=-1)
        ax.semilogy(np.arange(per_freq.size), np.maximum(per_freq, 1e-300), ".")
        ax.set_title("output" if l == len(energies) - 1 else f"a_{l + 1}", fontsize=8)
        ax.set_xlabel("frequency (FFT order)", fontsize=7)
    axes[0][0].set_ylabel("energy over data")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def default_out(args: argparse.Namespace) -> str:
    """The report folder when ``--out`` is not given: ``cbn-analyze-<target name>``."""
    name = target_from_config(spec_from_args(args).target).name
    return f"cbn-analyze-{name.replace(':', '_')}"


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)  # validates everything before any file is written
    result = run_sweep(args)
    summary, deepest = result.to_dict(), result.deepest
    out = Path(args.out or default_out(args))

    def fill(tmp: Path) -> None:
        stored = ResultStore(args.store).load_key(deepest.key)
        net = Network.from_arrays(stored.arrays, spec.activation, spec.convention)
        target = target_from_config(spec.target)
        X = target.sample(spec.n_samples, spec.sample_seed)
        write_json_file(tmp, "summary.json", summary)
        _plot_norms(result, tmp / "norm_vs_depth.png")
        _plot_spectra(net.filters, spec.convention, tmp / "weight_spectra.png")
        _plot_energy(activation_energy(net.filters, net.biases, X, spec.activation,
                                       spec.convention),
                     tmp / "activation_energy.png")
        text = io.StringIO()
        print_summary(summary, file=text)
        counts = "\n".join(
            f"| {c['layer']} | {c['total']} | {c['max_dev_kept']:.3g} | {c['max_dropped']:.3g} |"
            for c in deepest.layer_counts
        )
        (tmp / "report.md").write_text(
            f"# cbn analyze {result.target}\n\n{result.description}\n\n```\n"
            f"{text.getvalue()}```\n\n## CBN picture of the deepest network "
            f"(L = {deepest.depth})\n\n"
            f"Singular values above {deepest.split} per layer, summed over "
            f"frequencies (conjugate pairs count twice):\n\n"
            f"| layer | count | max abs(s-1) of those | largest other |\n|---|---|---|---|\n"
            f"{counts}\n\n![norm vs depth](norm_vs_depth.png)\n\n"
            f"![weight spectra](weight_spectra.png)\n\n"
            f"![activation energy](activation_energy.png)\n"
        )

    write_folder_atomically(out, fill)
    if args.json:
        print_json({**summary, "report_folder": str(out)})
    else:
        print_summary(summary)
        print(f"report written to {out}/")
    return 0

