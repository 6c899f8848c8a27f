"""Stage-like learning curves of a linear circular CNN and a fully-connected net
(paper_notes/theory.md section 6).

Recipe wrapper around :func:`cbn.numerics.dynamics.experiments.learning_curves` (compute) and
:func:`cbn.figures.recipes.dynamics.plot_learning_curves` (plot). Data: the dynamics module's
``inversion_example`` (8x8 grid, two parts: ``s = 3`` spread over 4 conjugate pairs, ``s = 2``
on one pair), for which the closed-form stages predict opposite orders: the FC net learns the
stronger part first, the CNN learns first the part with the larger ``s max_j |phi~(j)|``.
Measured: gradient flow integrated to ``rtol 1e-10`` from an aligned balanced start of scale
``eps``; predicted: Saxe sigmoids with the closed-form rates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.provenance import Provenance
from cbn.figures.recipes.dynamics import plot_learning_curves
from cbn.numerics.dynamics.experiments import inversion_example, learning_curves

NAME = "dynamics_stages"
TITLE = "Linear CNN vs fully-connected learning curves: stages against the closed-form sigmoids"
CAPTION = ("Solid: simulated strengths a_alpha(t)/s_alpha; dashed: closed-form Saxe sigmoids. "
           "The curves coincide, and the order of the stages inverts between the CNN (part "
           "concentrated on one frequency pair first) and the fully-connected net (stronger "
           "part first).")

PROVENANCE = Provenance(
    statement="Stage order: by `s_alpha max_j |phi~_alpha(j)|` for the CNN, by `s_alpha` for "
              "the FC net.",
    source="paper_notes/theory.md section 6, this project's derivation from the [PLG23] abstract",
    note="pinson_2023.md",
    reconstruction="an 8x8 example built here with two structural parts whose closed-form "
                   "stage orders differ between a full-size circular CNN with a "
                   "fully-connected readout and a fully-connected net; gradient flow "
                   "integrated from an aligned balanced start of scale eps = 0.01 (plain "
                   "convention) against the Saxe sigmoids with the derived rates",
    unknowns=("[PLG23]'s data sets and structural parts", "their kernel sizes, "
              "initialisation scale and learning rate", "their convolution normalisation "
              "(the rate's factor depends on it)"))

#: Agreement criterion for curves: the flow is integrated to rtol 1e-10 and the example's parts
#: are exact single sigmoids, so differences beyond 1e-6 of the strength would be a real miss.
CURVE_ATOL = 1e-6


def config(mode: str) -> dict:
    n = {"tiny": 40, "quick": 200, "full": 600}[mode]
    return {"example": "inversion_example", "eps": 1e-2, "convention": "plain", "n_times": n}


def half_times(times: np.ndarray, curves: np.ndarray) -> list[float]:
    """First time each column of ``curves`` (already divided by its strength) reaches 1/2,
    by linear interpolation on the grid (NaN if never)."""
    out = []
    for k in range(curves.shape[1]):
        c = curves[:, k]
        idx = np.nonzero(c >= 0.5)[0]
        if idx.size == 0 or idx[0] == 0:
            out.append(float("nan") if idx.size == 0 else float(times[0]))
            continue
        i = idx[0]
        out.append(float(times[i - 1] + (0.5 - c[i - 1]) * (times[i] - times[i - 1])
                         / (c[i] - c[i - 1])))
    return out


def compute(cfg: dict, device: str):
    result = learning_curves(inversion_example(), eps=cfg["eps"], convention=cfg["convention"],
                             n_times=cfg["n_times"])
    result.pop("cnn_kernel_power", None)  # not drawn; large
    s = np.asarray(result["strengths"])
    summary = {}
    for key in ("cnn", "fc"):
        t = np.asarray(result[f"{key}_times"])
        meas = np.asarray(result[f"{key}_measured"]) / s
        pred = np.asarray(result[f"{key}_predicted"]) / s
        hm, hp = half_times(t, meas), half_times(t, pred)
        summary[key] = {"max_abs_diff_over_s": float(np.max(np.abs(meas - pred))),
                        "measured_half_times": hm, "predicted_half_times": hp,
                        "measured_order": [int(i) for i in np.argsort(hm)],
                        "predicted_order": [int(i) for i in np.argsort(hp)]}
    return {"result": result, "summary": summary,
            "kinds": {"measured": "simulated gradient flow", "predicted": "closed form"}}, {}


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    return [plot_learning_curves(record["result"], out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    sm = record["summary"]
    ok = all(sm[k]["max_abs_diff_over_s"] <= CURVE_ATOL and
             sm[k]["measured_order"] == sm[k]["predicted_order"] for k in ("cnn", "fc"))
    inverted = sm["cnn"]["measured_order"] != sm["fc"]["measured_order"]
    return ok, (f"max |simulated - sigmoid| / s: CNN {sm['cnn']['max_abs_diff_over_s']:.1e}, "
                f"FC {sm['fc']['max_abs_diff_over_s']:.1e}; stage order CNN "
                f"{sm['cnn']['measured_order']} (predicted {sm['cnn']['predicted_order']}), FC "
                f"{sm['fc']['measured_order']} (predicted {sm['fc']['predicted_order']}); "
                f"inverted: {inverted}.")
