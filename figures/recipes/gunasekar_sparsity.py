"""Gunasekar et al.'s implicit bias: Fourier sparsity of the normalised predictor versus depth.

Compute: :mod:`cbn.numerics.implicit_bias` (single-channel full-size linear circular CNN of depth
``L``, full-batch gradient descent with a fixed step on the mean logistic loss, data labelled by a
single-frequency teacher). Gradient descent converges in direction to a stationary point of
``min sum_m |beta^(m)|^{2/L}`` s.t. ``y_n <x_n, beta> >= 1`` (paper_notes/theory.md section 3); at
``L = 2`` this is
the convex ``l1`` program solved by :func:`cbn.numerics.convex.margin.max_margin` (EXACT up to the
solver, with a weak-duality certificate). Directional convergence is logarithmic in time, so
after a finite budget the predictors are only on their way; the record says how far (final
loss, margin, ``l1`` value at margin 1 relative to the exact optimum).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.numerics.convex.margin import max_margin
from cbn.numerics.fourier import centred_labels
from cbn.numerics.implicit_bias import fourier_sparsity, separable_fourier_data, train_logistic_gd

NAME = "gunasekar_sparsity"
TITLE = "Implicit bias of linear CNNs: Fourier sparsity of the GD predictor versus depth"
CAPTION = ("Normalised Fourier moduli |F beta| of the gradient-descent predictor for depths "
           "L = 1..4: the spectrum concentrates on fewer frequencies as L grows (Fourier "
           "l_{2/L} bias); at L = 2 the predictor approaches the exact l1 max-margin solution.")

PROVENANCE = Provenance(
    statement="gradient descent on a full-width depth-`L` linear convolutional network with "
              "the logistic/exponential loss on separable data converges in direction to a "
              "stationary point of `min sum_m |beta^(m)|^{2/L}` s.t. `y_n <x_n, beta> >= 1`: "
              "a Fourier-sparsity bias growing with depth.",
    source="Gunasekar et al. 2018 (summary in the note)",
    note="related.md",
    reconstruction="a single-channel full-size linear circular CNN (plain convention) on "
                   "Gaussian inputs labelled by a one-frequency teacher, full-batch GD on the "
                   "mean logistic loss with a fixed step and budget chosen here; directional "
                   "convergence is logarithmic, so the predictors are measured on their way, "
                   "and at L = 2 compared with the exact l1 max-margin program",
    unknowns=("Gunasekar et al.'s data, step sizes and training lengths (their result is a "
              "theorem; any experiment of theirs is not reconstructed)",
              "how they measure sparsity (ours: effective support of |F beta|)"))


def config(mode: str) -> dict:
    size = {"tiny": (8, 6, [1, 2, 3], 300), "quick": (16, 10, [1, 2, 3, 4], 3000),
            "full": (32, 20, [1, 2, 3, 4, 6], 40000)}[mode]
    d, n, depths, steps = size
    return {"d": d, "samples": n, "teacher_frequency": 3 if d >= 8 else 1, "depths": depths,
            "steps": steps, "lr": 2.0, "init_scale": 0.1, "seed": 0, "solver": "AUTO",
            "data": "Gaussian x, y = sign <x, cos(2 pi k p / d)> (cbn.numerics.implicit_bias)",
            "loss": "mean softplus(-y <x, beta>)", "convention": "plain"}


def compute(cfg: dict, device: str):
    X, y = separable_fourier_data(cfg["samples"], cfg["d"], cfg["teacher_frequency"],
                                  cfg["seed"])
    exact = max_margin(X, y, solver=cfg["solver"])
    d = cfg["d"]
    record = {"depths": cfg["depths"], "runs": [], "convex_l1": exact.value,
              "convex_status": exact.record.status, "convex_solver": exact.record.solver,
              "convex_support": fourier_sparsity(exact.beta.ravel())[0],
              "sparsity": "effective support (sum_m |b_m|)^2 / sum_m |b_m|^2, in [1, d]",
              "bounds": {"convex_l1": "exact (convex program, solver tolerance)",
                         "gd_l1_at_margin_1": "upper bound on the convex optimum"}}
    arrays = {"convex_fabs": exact.fourier_abs}
    for L in cfg["depths"]:
        run = train_logistic_gd(X, y, L, cfg["lr"], cfg["steps"], seed=cfg["seed"],
                                init_scale=cfg["init_scale"])
        beta = run.beta
        fabs = np.abs(np.fft.fft(beta)) / np.sqrt(d)  # unitary DFT, as in max_margin
        margin = float(np.min(y * (X @ beta)))
        separates = margin > 0
        record["runs"].append({
            "depth": L, "final_loss": run.final_loss, "min_margin_normalised": run.min_margin,
            "separates": separates, "effective_support": run.effective_support,
            "top2_energy": run.top2_energy,
            "l1_at_margin_1": float(fabs.sum() / margin) if separates else float("nan"),
            "cosine_with_convex": float(beta @ exact.direction.ravel() / np.linalg.norm(beta))})
        arrays[f"fabs_L{L}"] = fabs
    return record, arrays


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    fig, axes = subplots(1, 2, width=4.6, height=3.3)
    d = arrays["convex_fabs"].shape[0]
    order = np.argsort(centred_labels((d,))[:, 0])
    m = centred_labels((d,))[order, 0]
    ax = axes[0, 0]
    for i, run in enumerate(record["runs"]):
        f = arrays[f"fabs_L{run['depth']}"][order]
        ax.plot(m, f / f.max(), "o-", color=f"C{i}", ms=3, lw=1,
                label=f"GD, L={run['depth']} (eff. support {run['effective_support']:.1f})")
    f = arrays["convex_fabs"][order]
    ax.plot(m, f / f.max(), "k*--", ms=7, lw=0.8,
            label=f"exact l1 max-margin (L=2 limit; {record['convex_support']:.1f})")
    ax.set(xlabel="frequency m (centred)", ylabel="|F beta|(m) / max (normalised predictor)",
           title="Fourier moduli of the predictor")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    L = [r["depth"] for r in record["runs"]]
    ax.plot(L, [r["effective_support"] for r in record["runs"]], "C0o-",
            label="effective support of |F beta|")
    ax.axhline(record["convex_support"], color="k", ls=":", label="exact L=2 solution")
    ax.set(xlabel="depth L", ylabel="(sum_m |F beta|)^2 / sum_m |F beta|^2",
           title="sparsity versus depth")
    ax.set_xticks(L)
    ax.legend()
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    runs = record["runs"]
    pr = [r["effective_support"] for r in runs]
    monotone = all(b <= a for a, b in zip(pr, pr[1:]))
    two = next((r for r in runs if r["depth"] == 2), None)
    ok = monotone and all(r["separates"] for r in runs)
    extra = ""
    if two is not None:
        ratio = two["l1_at_margin_1"] / record["convex_l1"]
        # GD at margin 1 is feasible for the convex program, so ratio >= 1 up to solver accuracy.
        ok &= ratio >= 1 - 1e-6
        extra = (f"; L=2: ||F beta||_1 at margin 1 = {ratio:.3f} x the exact optimum, cosine "
                 f"with the exact direction {two['cosine_with_convex']:.3f}")
    return ok, ("effective Fourier support by depth " +
                ", ".join(f"L={r['depth']}: {r['effective_support']:.2f}" for r in runs) +
                f" (non-increasing: {monotone}){extra}.")
