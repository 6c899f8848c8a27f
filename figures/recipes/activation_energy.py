"""Activation energy per frequency and layer, large versus small learning rate (ridge protocol).

Target ``relu(P_K x)`` (1-D), which factors through the frequencies ``|m|_inf <= K`` (see
:mod:`figures.recipes._common`). Two ReLU nets from the same initialisation are trained by
full-batch gradient descent on ``loss + lam ||theta||^2`` (:func:`numerics.minnorm.ridge_fit`)
with a large and a small learning rate, for the same gradient-flow time ``lr * steps``, so
that the comparison isolates the learning rate from the training length. Prediction
(THEORY.md 4, [WJ24], [J23]): with training stable under a large learning rate, the hidden
activations inside the bottleneck are supported on the kept frequencies.

Measured: ``E_l(m) = sum_x sum_c |a_l(x)^(m)_c|^2 / d`` (:func:`numerics.spectra.activation_energy`)
and the off-support fraction ``sum_{m not kept} E_l(m) / sum_{m != 0} E_l(m)`` (the constant
frequency is excluded because ReLU outputs always carry a large mean).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.plotting import save, subplots
from figures.provenance import Provenance
from figures.recipes._common import frequency_label, lowpass_relu_data
from numerics.fourier import centred_labels
from numerics.minnorm import ridge_fit
from numerics.spectra import activation_energy

NAME = "activation_energy"
TITLE = "Activation energy per frequency and layer: large vs small learning rate (ridge GD)"
CAPTION = ("Hidden-layer energy per frequency (normalised per layer) for two learning rates at "
           "equal gradient-flow time; the kept frequencies |m| <= K are marked. The theory "
           "predicts the energy inside the bottleneck concentrates on them, more so for the "
           "large learning rate.")

PROVENANCE = Provenance(
    statement="with training that is stable under a large learning rate ([WJ24], [J23]), "
              "hidden representations inside the bottleneck are supported on the kept "
              "frequencies/channels",
    source="THEORY.md 4 (the project's reading of [WJ24], [J23])",
    note="wen_jacot_2024.md",
    reconstruction="the target relu(P_K x) (1-D, K = 1), one small ReLU net trained by "
                   "full-batch gradient descent on loss + lam ||theta||^2 from one start with "
                   "two learning rates at equal gradient-flow time (lr x steps); lam, the "
                   "rates and the step counts are chosen here (the larger rate is the largest "
                   "of a small grid that still decreases the objective)",
    unknowns=("the papers' learning rates, weight decay and training length",
              "what 'stable under a large learning rate' means there quantitatively",
              "their architectures, data and normalisation"))

RUNS = ("large", "small")


def config(mode: str) -> dict:
    if mode == "tiny":
        size = {"spatial": [6], "samples": 6, "depth": 3, "width": 2, "steps_large": 150}
    elif mode == "quick":
        size = {"spatial": [8], "samples": 16, "depth": 4, "width": 3, "steps_large": 3000}
    else:
        size = {"spatial": [16], "samples": 32, "depth": 6, "width": 4, "steps_large": 8000}
    ratio = 4  # small learning rate = large / ratio, with ratio x the steps (equal time)
    # 0.04 is the largest rate of the grid (0.04, 0.06) whose objective still decreases over
    # the last steps (0.06 oscillates in quick mode): the theory is about stable training.
    return {**size, "K": 1, "lam": 5e-3, "lr_large": 0.04, "lr_small": 0.04 / ratio,
            "steps_small": size["steps_large"] * ratio, "seed": 0, "convention": "scaled",
            "target": "relu(P_K x), P_K = low-pass |m|_inf <= K, Gaussian inputs",
            "loss": "(1/N) sum_n ||f(x_n) - y_n||^2 + lam ||theta||^2 (biases included)"}


def off_support_fraction(energy: np.ndarray, keep: np.ndarray) -> float:
    """``sum_{m not kept} E(m) / sum_{m != 0} E(m)`` for one layer's ``E`` (*spatial, c)."""
    per_freq = energy.sum(axis=-1)
    nonconst = per_freq.copy()
    nonconst[(0,) * keep.ndim] = 0.0
    total = float(nonconst.sum())
    return float(per_freq[~keep].sum()) / total if total > 0 else 0.0


def compute(cfg: dict, device: str):
    X, Y, keep = lowpass_relu_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seed"])
    record = {"runs": {}, "kept_labels": [], "bound": "upper (trained networks; ridge, "
              "not interpolating: residual reported)"}
    arrays = {"keep": keep}
    for run in RUNS:
        res = ridge_fit(X, Y, cfg["depth"], [cfg["width"]] * (cfg["depth"] - 1), lam=cfg["lam"],
                        lr=cfg[f"lr_{run}"], steps=cfg[f"steps_{run}"], seed=cfg["seed"],
                        device=device)
        energies = activation_energy(res.filters, res.biases, X)[:-1]  # hidden layers only
        # Stability indicator: the objective 5 steps before the end must be higher (GD on a
        # smooth objective at a stable rate decreases it monotonically; oscillation does not).
        before = ridge_fit(X, Y, cfg["depth"], [cfg["width"]] * (cfg["depth"] - 1),
                           lam=cfg["lam"], lr=cfg[f"lr_{run}"],
                           steps=max(cfg[f"steps_{run}"] - 5, 0), seed=cfg["seed"],
                           device=device)
        objective = res.loss + cfg["lam"] * res.norm_sq
        record["runs"][run] = {
            "lr": cfg[f"lr_{run}"], "steps": cfg[f"steps_{run}"], "norm_sq": res.norm_sq,
            "residual_rel": res.residual_rel, "stop_reason": res.stop_reason,
            "objective": objective,
            "decreasing_at_end": objective < before.loss + cfg["lam"] * before.norm_sq,
            "off_support": [off_support_fraction(e, keep) for e in energies]}
        for l, e in enumerate(energies):
            arrays[f"{run}_E{l}"] = e.sum(axis=-1)
    spatial = tuple(cfg["spatial"])
    record["kept_labels"] = [frequency_label(spatial, (i,)) for i in range(spatial[0])
                             if keep[i] and centred_labels(spatial)[i, 0] >= 0]
    return record, arrays


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    fig, axes = subplots(1, 3, width=4.2, height=3.3)
    keep = arrays["keep"]
    d = keep.shape[0]
    order = np.argsort(centred_labels((d,))[:, 0])
    labels = centred_labels((d,))[order, 0]
    for col, run in enumerate(RUNS):
        info = record["runs"][run]
        n = len(info["off_support"])
        img = np.stack([arrays[f"{run}_E{l}"][order] for l in range(n)])
        img = img / img.sum(axis=1, keepdims=True)
        ax = axes[0, col]
        im = ax.imshow(np.log10(np.maximum(img, 1e-8)), aspect="auto", origin="lower",
                       cmap="magma", vmin=-6, vmax=0,
                       extent=(labels[0] - 0.5, labels[-1] + 0.5, 0.5, n + 0.5))
        for m in labels[keep[order]]:
            ax.axvline(m, color="c", lw=0.8, ls="--")
        fig.colorbar(im, ax=ax, label="log10 energy share in layer")
        ax.set(xlabel="frequency m (centred; dashed: kept |m| <= K)", ylabel="hidden layer l",
               title=f"{run} lr = {info['lr']:g} x {info['steps']} steps "
                     f"(res {info['residual_rel']:.2f})")
        ax.set_yticks(range(1, n + 1))
        ax.grid(False)
    ax = axes[0, 2]
    for col, run in enumerate(RUNS):
        frac = record["runs"][run]["off_support"]
        ax.semilogy(np.arange(1, len(frac) + 1), np.maximum(frac, 1e-12), "o-", color=f"C{col}",
                    label=f"lr = {record['runs'][run]['lr']:g}")
    ax.set_xticks(range(1, len(frac) + 1))
    ax.set(xlabel="hidden layer l", ylabel="off-support share of non-constant energy",
           title="energy outside the kept frequencies")
    ax.legend()
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    large = record["runs"]["large"]["off_support"]
    small = record["runs"]["small"]["off_support"]
    mid = slice(1, None) if len(large) > 1 else slice(None)  # layers 2 .. L-1: the bottleneck
    m_large, m_small = float(np.mean(large[mid])), float(np.mean(small[mid]))
    stable = all(record["runs"][r]["decreasing_at_end"] for r in RUNS)
    ok = m_large <= m_small and stable
    return ok, (f"both runs stable (objective decreasing at the end): {stable}; mean "
                f"off-support energy share in hidden layers 2..L-1: large lr {m_large:.3f} "
                f"vs small lr {m_small:.3f} (prediction: large <= small); residuals "
                f"{record['runs']['large']['residual_rel']:.2f} / "
                f"{record['runs']['small']['residual_rel']:.2f}.")
