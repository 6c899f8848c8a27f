"""Activation energy per frequency and layer, large versus small learning rate (ridge protocol).

Target ``relu(P_K x)`` (1-D), which factors through the frequencies ``|m|_inf <= K`` (see
:mod:`cbn.figures.recipes._common`). Two ReLU nets from the same initialisation are trained by
full-batch gradient descent on ``loss + lam ||theta||^2`` (:func:`cbn.numerics.search.ridge_fit`)
with a large and a small learning rate, for the same gradient-flow time ``lr * steps``, so
that the comparison isolates the learning rate from the training length. Prediction
(paper_notes/theory.md section 4, [WJ24], [J23]): with training stable under a large learning rate,
the hidden
activations inside the bottleneck are supported on the kept frequencies.

Measured: ``E_l(m) = sum_x sum_c |a_l(x)^(m)_c|^2 / d``
(:func:`cbn.numerics.spectra.activation_energy`)
and the off-support fraction ``sum_{m not kept} E_l(m) / sum_{m != 0} E_l(m)`` (the constant
frequency is excluded because ReLU outputs always carry a large mean).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.figures.recipes._common import frequency_label, relu_lowpass_data
from cbn.numerics.fourier import centred_labels
from cbn.numerics.search import Architecture, RidgeSettings, Start, ridge_fit
from cbn.numerics.spectra import activation_energy

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
    source="paper_notes/theory.md section 4 (the project's reading of [WJ24], [J23])",
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
    # several initialisations: the effect is judged against its spread over them
    return {**size, "K": 1, "lam": 5e-3, "lr_large": 0.04, "lr_small": 0.04 / ratio,
            "steps_small": size["steps_large"] * ratio, "seeds": [0, 1, 2],
            "convention": "scaled",
            "target": "relu(P_K x), P_K = low-pass |m|_inf <= K, Gaussian inputs",
            "loss": "(1/N) sum_n ||f(x_n) - y_n||^2 + lam ||theta||^2 (biases included)"}


def off_support_fraction(energy: np.ndarray, keep: np.ndarray) -> float:
    """``sum_{m not kept} E(m) / sum_{m != 0} E(m)`` for one layer's ``E`` (*spatial, c)."""
    per_freq = energy.sum(axis=-1)
    nonconst = per_freq.copy()
    nonconst[(0,) * keep.ndim] = 0.0
    total = float(nonconst.sum())
    return float(per_freq[~keep].sum()) / total if total > 0 else 0.0


def _train(cfg: dict, X, Y, keep, run: str, seed: int, device: str):
    res = ridge_fit(X, Y, Architecture.uniform(cfg["depth"], cfg["width"]),
                    RidgeSettings(lam=cfg["lam"], lr=cfg[f"lr_{run}"], steps=cfg[f"steps_{run}"],
                                  device=device), Start.random(seed))
    energies = activation_energy(res.filters, res.biases, X)[:-1]  # hidden layers only
    tail = res.settings["objective_tail"]
    info = {"lr": cfg[f"lr_{run}"], "steps": cfg[f"steps_{run}"], "seed": seed,
            "norm_sq": res.norm_sq, "residual_rel": res.residual_rel,
            "stop_reason": res.message, "objective": res.loss + cfg["lam"] * res.norm_sq,
            # stability: the objective of the last step below the one 5 steps earlier
            "decreasing_at_end": len(tail) > 1 and tail[-1] < tail[0],
            "off_support": [off_support_fraction(e, keep) for e in energies]}
    return info, energies


def compute(cfg: dict, device: str):
    target, X, Y = relu_lowpass_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seeds"][0])
    keep = target.keep
    record = {"runs": {}, "seed_runs": {run: [] for run in RUNS}, "kept_labels": [],
              "bound": "upper (trained networks; ridge, not interpolating: residual reported)"}
    arrays = {"keep": keep}
    for run in RUNS:
        for seed in cfg["seeds"]:  # one data set, several initialisations
            info, energies = _train(cfg, X, Y, keep, run, seed, device)
            record["seed_runs"][run].append(info)
            if seed == cfg["seeds"][0]:  # the heat maps show the first initialisation
                record["runs"][run] = info
                for l, e in enumerate(energies):
                    arrays[f"{run}_E{l}"] = e.sum(axis=-1)
    spatial = tuple(cfg["spatial"])
    record["kept_labels"] = [frequency_label(spatial, (i,)) for i in range(spatial[0])
                             if keep[i] and centred_labels(spatial)[i, 0] >= 0]
    return record, arrays


def middle_shares(record: dict, run: str) -> np.ndarray:
    """Per initialisation: the mean off-support share over hidden layers 2..L-1 (the
    bottleneck; all hidden layers when there is one)."""
    out = []
    for info in record["seed_runs"][run]:
        frac = info["off_support"]
        out.append(float(np.mean(frac[1:] if len(frac) > 1 else frac)))
    return np.asarray(out)


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
        fracs = np.array([i["off_support"] for i in record["seed_runs"][run]])
        layers = np.arange(1, fracs.shape[1] + 1)
        for frac in fracs:  # one thin line per initialisation: the spread
            ax.semilogy(layers, np.maximum(frac, 1e-12), "-", color=f"C{col}", lw=0.6,
                        alpha=0.6)
        ax.semilogy(layers, np.maximum(fracs.mean(axis=0), 1e-12), "o-", color=f"C{col}",
                    label=f"lr = {record['runs'][run]['lr']:g} (mean of {len(fracs)} inits)")
    ax.set_xticks(layers)
    ax.set(xlabel="hidden layer l", ylabel="off-support share of non-constant energy",
           title="energy outside the kept frequencies")
    ax.legend()
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool | None, str]:
    """Agrees when the large rate's bottleneck share is below the small rate's by more than
    the spread of that difference over initialisations (sample standard deviation), disagrees
    when it is above by more, and is inconclusive in between or when a run is unstable."""
    large, small = middle_shares(record, "large"), middle_shares(record, "small")
    diff = small - large  # > 0: the prediction
    spread = float(np.std(diff, ddof=1)) if len(diff) > 1 else float("inf")
    effect = float(np.mean(diff))
    stable = all(i["decreasing_at_end"] for run in RUNS for i in record["seed_runs"][run])
    if not stable or abs(effect) <= spread:
        ok = None
    else:
        ok = effect > 0
    word = {True: "agrees", False: "DISAGREES", None: "inconclusive"}[ok]
    return ok, (f"{word}: every run stable (objective decreasing at the end): {stable}; mean "
                f"off-support energy share in hidden layers 2..L-1 over {len(diff)} "
                f"initialisations: large lr {np.mean(large):.3f} vs small lr "
                f"{np.mean(small):.3f}; difference small - large {effect:+.4f}, spread (std "
                f"over initialisations) {spread:.4f} (prediction: difference > 0 beyond the "
                f"spread); per initialisation "
                f"{', '.join(f'{d:+.4f}' for d in diff)}.")
