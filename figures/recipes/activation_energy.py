"""Activation energy per frequency and layer, large versus small learning rate (ridge protocol).

Target ``relu(P_K x)`` (1-D), which factors through the frequencies ``|m|_inf <= K`` (see
:mod:`cbn.figures.recipes._common`). Two ReLU nets from the same initialisation are trained by
full-batch gradient descent on ``loss + lam ||theta||^2`` (:func:`cbn.numerics.search.ridge_fit`)
with a large and a small learning rate, for the same gradient-flow time ``lr * steps``, so
that the comparison isolates the learning rate from the training length. Prediction
(paper_notes/theory.md section 4, [WJ24], [J23]): with training stable under a large learning rate,
the hidden
activations inside the bottleneck are supported on the kept frequencies.

The compute is :func:`cbn.numerics.activation_bottleneck.compare_rates` (the same protocol
as the claim ``bottleneck.activation_large_lr``): the large rate is the largest stable one,
measured by bisection under its stated stability rule, and the measure is the off-support
share ``sum_{m not kept} E_l(m) / sum_{m != 0} E_l(m)`` of ``E_l(m) = (1/d) sum_x sum_c
|a_l(x)^(m)_c|^2`` (the constant frequency is excluded because ReLU outputs carry a large mean).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.figures.recipes._common import frequency_label, relu_lowpass_data
from cbn.numerics.activation_bottleneck import (
    RateComparison,
    RateProtocol,
    RateRun,
    bottleneck_share,
    compare_rates,
)
from cbn.numerics.fourier import centred_labels

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
    reconstruction="the target relu(P_K x) (1-D, K = 1), multichannel ReLU nets trained by "
                   "full-batch gradient descent on loss + lam ||theta||^2 from the same seeded "
                   "starts at a small rate and at the largest stable rate (measured by "
                   "bisection under a stated rule: objective finite, decreasing at the end "
                   "and within 1.1x the small rate's) at equal gradient-flow time (lr x "
                   "steps); lam, the small rate and the time are chosen here",
    unknowns=("the papers' learning rates, weight decay and training length",
              "what 'stable under a large learning rate' means there quantitatively",
              "their architectures, data and normalisation"))

RUNS = ("large", "small")
#: The claim's effect size (numerics/checks/bottleneck.py): the large rate at least halves the
#: bottleneck's off-support share in geometric mean over initialisations.
VISIBLE_RATIO = 0.5


def config(mode: str) -> dict:
    if mode == "tiny":
        size = {"spatial": [6], "samples": 6, "depth": 3, "width": 2, "time": 1.5,
                "bisections": 1, "seeds": [0, 1], "lr_small": 0.01, "lr_upper": 0.08}
    elif mode == "quick":  # the claim's quick protocol with one more initialisation
        size = {"spatial": [8], "samples": 16, "depth": 4, "width": 3, "time": 8.0,
                "bisections": 2, "seeds": [0, 1, 2], "lr_small": 0.01, "lr_upper": 0.08}
    else:
        size = {"spatial": [16], "samples": 32, "depth": 6, "width": 6, "time": 30.0,
                "bisections": 4, "seeds": [0, 1, 2, 3], "lr_small": 0.005, "lr_upper": 0.16}
    # the large rate is measured: the largest stable rate of a geometric bisection between
    # lr_small and lr_upper (cbn.numerics.activation_bottleneck.is_stable states the rule);
    # several initialisations: the effect is judged against its spread over them
    return {**size, "K": 1, "lam": 1e-2,
            "convention": "scaled",
            "target": "relu(P_K x), P_K = low-pass |m|_inf <= K, Gaussian inputs",
            "loss": "(1/N) sum_n ||f(x_n) - y_n||^2 + lam ||theta||^2 (biases included)"}


def protocol(cfg: dict) -> RateProtocol:
    """The training protocol of a config."""
    return RateProtocol(depth=cfg["depth"], width=cfg["width"], lam=cfg["lam"],
                        time=cfg["time"], lr_small=cfg["lr_small"], lr_upper=cfg["lr_upper"],
                        bisections=cfg["bisections"], seeds=tuple(cfg["seeds"]))


def _info(run: RateRun) -> dict:
    return {"lr": run.lr, "steps": run.steps, "seed": run.seed, "norm_sq": run.norm_sq,
            "residual_rel": run.residual_rel, "objective": run.objective,
            "decreasing_at_end": run.decreasing, "off_support": list(run.shares)}


def compute(cfg: dict, device: str):
    target, X, Y = relu_lowpass_data(cfg["spatial"], cfg["K"], cfg["samples"], cfg["seeds"][0])
    keep = target.keep
    p = protocol(cfg)
    with tqdm(total=len(p.seeds) * (2 + p.bisections), desc=NAME, leave=False) as bar:
        c: RateComparison = compare_rates(X, Y, keep, p, device, bar)
    record = {"runs": {"large": _info(c.large[0]), "small": _info(c.small[0])},
              "seed_runs": {"large": [_info(r) for r in c.large],
                            "small": [_info(r) for r in c.small]},
              "lr_largest_stable": c.lr_stable,
              "probes": [[lr, ok] for lr, ok in c.probes],
              "bound": "upper (trained networks; ridge, not interpolating: residual reported)"}
    arrays = {"keep": keep}
    for run, runs in (("large", c.large), ("small", c.small)):
        for l, e in enumerate(runs[0].energy):  # the heat maps show the first initialisation
            arrays[f"{run}_E{l}"] = e
    spatial = tuple(cfg["spatial"])
    record["kept_labels"] = [frequency_label(spatial, (i,)) for i in range(spatial[0])
                             if keep[i] and centred_labels(spatial)[i, 0] >= 0]
    return record, arrays


def middle_shares(record: dict, run: str) -> np.ndarray:
    """Per initialisation: :func:`cbn.numerics.activation_bottleneck.bottleneck_share`."""
    return np.asarray([bottleneck_share(i["off_support"]) for i in record["seed_runs"][run]])


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
    """The claim's criterion: agrees when every run is stable and the large rate's bottleneck
    share is at most half the small rate's in geometric mean over initialisations, each ratio
    below 1; disagrees when the large rate's share is higher by more than the spread over
    initialisations (sample standard deviation of log10 ratio); inconclusive otherwise."""
    large, small = middle_shares(record, "large"), middle_shares(record, "small")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(large / small)
    effect = float(np.mean(logs))
    spread = float(np.std(logs, ddof=1)) if len(logs) > 1 else float("inf")
    stable = all(i["decreasing_at_end"] for run in RUNS for i in record["seed_runs"][run])
    if stable and 10 ** effect <= VISIBLE_RATIO and np.all(logs < 0):
        ok: bool | None = True
    elif stable and effect > spread:
        ok = False
    else:
        ok = None
    word = {True: "agrees", False: "DISAGREES", None: "inconclusive"}[ok]
    return ok, (f"{word}: every run stable (objective decreasing at the end): {stable}; mean "
                f"off-support energy share in hidden layers 2..L-1 over {len(logs)} "
                f"initialisations: large lr {np.mean(large):.3f} vs small lr "
                f"{np.mean(small):.3f}; ratio large/small {10 ** effect:.3f} in geometric mean "
                f"(prediction: <= {VISIBLE_RATIO}, every one < 1), spread of log10 ratio over "
                f"initialisations {spread:.3f}; per initialisation "
                f"{', '.join(f'{r:.3f}' for r in 10 ** logs)}.")
