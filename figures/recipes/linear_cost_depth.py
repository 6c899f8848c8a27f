"""Linear cost versus depth: closed form, its expansion L R0 + R1 + R2/L, trained networks.

Target: a random 1-D multichannel linear filter with prescribed per-frequency ranks (rank 0 on
the top half of the spectrum), so the CBN rank R0 differs from the full rank. The closed form is
EXACT; trained linear CNNs (augmented Lagrangian + L-BFGS, cbn.numerics.search) are UPPER bounds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.numerics.fourier import (
    centred_labels,
    circular_conv,
    filters_from_multipliers,
    multipliers_from_filters,
)
from cbn.numerics.linear import expansion_terms, ranks_per_frequency, representation_cost
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit

NAME = "linear_cost_depth"
TITLE = "Linear CNN: minimal parameter norm versus depth"
CAPTION = ("The exact cost R(A;L) grows linearly with slope R0 = CBN rank; the expansion "
           "L R0 + R1 + R2/L is indistinguishable beyond L ~ 4; trained networks (upper bounds) "
           "lie on or just above the closed form, never below.")

PROVENANCE = Provenance(
    statement="Linear CNNs: exact `R(A; L) = L sum_m sum_i s_i(A(m))^{2/L}`, hence "
              "`R0 = sum_m rank A(m)`",
    source="paper_notes/theory.md section 3, this project's derivation of the [WJ24] abstract's R "
           "= L R0 + R1 + ...",
    note="wen_jacot_2024.md",
    reconstruction="a random 1-D multichannel filter with per-frequency rank <= 2 and rank 0 on "
                   "the top half of the spectrum (so R0 is below the full rank), in the scaled "
                   "convention; the closed form is evaluated exactly and compared with linear "
                   "nets of width max rank A(m) trained by the toolkit's minimal-norm search "
                   "(augmented Lagrangian + L-BFGS, upper bounds) on full-rank Gaussian inputs",
    unknowns=("whether [WJ24] show such a curve at all", "their convolution normalisation "
              "(scaled or plain)", "their targets, widths and depths",
              "their training protocol (weight decay and its strength)"))


def config(mode: str) -> dict:
    sizes = {"tiny": (6, 2, [2], 12), "quick": (8, 3, [2, 3, 4, 6], 32),
             "full": (16, 4, [2, 3, 4, 6, 8, 12], 128)}[mode]
    d, channels, trained_depths, samples = sizes
    return {"d": d, "channels": channels, "max_rank": 2, "keep_abs_freq": d // 4,
            "closed_depths": list(range(1, 17)), "trained_depths": trained_depths,
            "samples": samples, "seed": 0, "convention": "scaled",
            "restarts": 1 if mode == "tiny" else 2}


def target_filter(cfg: dict) -> np.ndarray:
    """Real filter (c, c, d) of rank <= max_rank at |m| <= keep_abs_freq, 0 elsewhere."""
    rng = np.random.default_rng(cfg["seed"])
    c, d, r = cfg["channels"], cfg["d"], cfg["max_rank"]
    left = rng.standard_normal((c, r, d))
    right = rng.standard_normal((r, c, d))
    A = multipliers_from_filters(left) @ multipliers_from_filters(right)
    keep = np.abs(centred_labels((d,))[..., 0]) <= cfg["keep_abs_freq"]
    A[~keep] = 0.0
    return filters_from_multipliers(A)


def compute(cfg: dict, device: str):
    W = target_filter(cfg)
    A = multipliers_from_filters(W, cfg["convention"])
    r0, r1, r2 = expansion_terms(A, cfg["convention"])
    closed = [representation_cost(A, L, cfg["convention"]) for L in cfg["closed_depths"]]
    rng = np.random.default_rng(cfg["seed"] + 1)
    c, d = cfg["channels"], cfg["d"]
    # Full-rank inputs (N >= c d) pin down the operator: the interpolation cost is R(A; L).
    X = rng.standard_normal((max(cfg["samples"], c * d), c, d))
    Y = circular_conv(W, X, cfg["convention"])
    width = int(ranks_per_frequency(A).max())
    trained = []
    for L in cfg["trained_depths"]:
        res = min_norm_fit(X, Y, Architecture.uniform(L, max(width, 1), activation="identity",
                                                      bias=False, convention=cfg["convention"]),
                           Start.random(cfg["seed"]),
                           SearchSettings(restarts=cfg["restarts"], device=device))
        trained.append({"depth": L, "norm_sq": res.norm_sq, "residual_rel": res.residual_rel,
                        "converged": res.converged, "stop_reason": res.message,
                        "iterations": res.iterations, "seconds": res.wall_time})
    record = {"R0": r0, "R1": r1, "R2": r2, "cbn_rank": int(ranks_per_frequency(A).sum()),
              "closed_depths": cfg["closed_depths"], "closed": closed, "trained": trained,
              "bounds": {"closed": "exact", "trained": "upper"}}
    return record, {"filter": W}


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    fig, axes = subplots(1, 2, width=4.4)
    L = np.array(record["closed_depths"])
    closed = np.array(record["closed"])
    expansion = L * record["R0"] + record["R1"] + record["R2"] / L
    ax = axes[0, 0]
    ax.plot(L, closed, "k-", lw=2, label="closed form R(A;L) (exact)")
    ax.plot(L, expansion, "C1--", label="L R0 + R1 + R2/L")
    tL = [t["depth"] for t in record["trained"]]
    tn = [t["norm_sq"] for t in record["trained"]]
    ax.plot(tL, tn, "C0o", ms=6, mfc="none", label="trained nets (upper bound)")
    ax.set(xlabel="depth L", ylabel=r"$\|\theta\|^2$ (scaled convention)",
           title=f"cost vs depth, CBN rank R0 = {record['cbn_rank']}")
    ax.legend()
    ax = axes[0, 1]
    gap = np.abs(closed - expansion) / closed
    ax.loglog(L, np.maximum(gap, 1e-17), "C1.-", label="|R - expansion| / R")
    closed_at = dict(zip(record["closed_depths"], record["closed"]))
    rel = [(t["norm_sq"] - closed_at[t["depth"]]) / closed_at[t["depth"]]
           for t in record["trained"]]
    ax.loglog(tL, np.maximum(np.abs(rel), 1e-17), "C0o", mfc="none",
              label="|trained - R| / R")
    ax.set(xlabel="depth L", ylabel="relative gap", title="expansion and training gaps")
    ax.legend()
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    closed_at = dict(zip(record["closed_depths"], record["closed"]))
    gaps = [(t["norm_sq"] - closed_at[t["depth"]]) / closed_at[t["depth"]]
            for t in record["trained"]]
    # Trained norms are upper bounds: below the exact value by more than 1e-6 relative would
    # be a bug; within 1e-4 above is the engine's accuracy target (issue 3).
    ok = all(-1e-6 <= g <= 1e-4 for g in gaps)
    return ok, (f"trained/closed-form relative gaps {min(gaps):.1e} .. {max(gaps):.1e} "
                f"(criterion: in [-1e-6, 1e-4]); R0 = {record['R0']:.0f} = CBN rank.")
