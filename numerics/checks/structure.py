"""Checks of the structure claims on trained networks: the CBN in the weights of near-minimal-norm
deep linear CNNs, and Gunasekar et al.'s Fourier sparsity of deep linear CNNs (THEORY.md 3-4)."""

from __future__ import annotations

import numpy as np

from numerics.convex.margin import max_margin
from numerics.fourier import centred_labels, circular_conv, filters_from_multipliers
from numerics.implicit_bias import fourier_sparsity, separable_fourier_data, train_logistic_gd
from numerics.linear import ranks_per_frequency, representation_cost
from numerics.minnorm import min_norm_fit
from numerics.spectra import near_one_counts, weight_spectra
from theory.claims import CheckResult


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def check_cbn_weights_linear(mode: str) -> CheckResult:
    """A deep linear CNN trained to minimal norm from a random start has, in every middle layer
    and at every frequency m, rank A(m) singular values near 1 and the rest near 0."""
    d, keep_k, depth = (8, 1, 6) if mode == "quick" else (16, 2, 10)
    labels = np.abs(centred_labels((d,))[..., 0])
    A = (labels <= keep_k).astype(complex)[:, None, None]  # low-pass multipliers (scaled)
    W = filters_from_multipliers(A)
    X = np.random.default_rng(31).standard_normal((2 * d, 1, d))
    Y = circular_conv(W, X)
    res = min_norm_fit(X, Y, depth, [2] * (depth - 1), activation="identity", bias=False,
                       seed=0, restarts=1)
    exact = representation_cost(A, depth)
    gap = (res.norm_sq - exact) / exact
    expected = ranks_per_frequency(A)
    middle = weight_spectra(res.filters)[1:-1]
    counts = [near_one_counts(s) for s in middle]
    mismatched = [i + 2 for i, c in enumerate(counts) if not np.array_equal(c["counts"],
                                                                            expected)]
    max_dev = max(c["max_dev_kept"] for c in counts)
    max_dropped = max(c["max_dropped"] for c in counts)
    # Structure criterion: exact counts in every middle layer, kept values within 0.05 of 1 and
    # dropped ones below 0.05 (a norm within 1e-4 of the optimum leaves deviations ~1e-2).
    passed = (res.residual_rel <= 1e-8 and -1e-8 <= gap <= 1e-4 and not mismatched
              and max_dev <= 0.05 and max_dropped <= 0.05)
    return CheckResult(passed, expected.tolist(), [c["counts"].tolist() for c in counts], 0.05,
                       {"norm_gap_to_closed_form": gap, "residual_rel": res.residual_rel,
                        "stop_reason": res.stop_reason, "mismatched_layers": mismatched,
                        "max_dev_kept_from_1": max_dev, "max_dropped": max_dropped,
                        "depth": depth, "d": d, "bound": "trained norm is an upper bound"})


def check_gunasekar_sparsity(mode: str) -> CheckResult:
    """Logistic GD on separable data: the Fourier spectrum of the predictor gets sparser with
    depth, and at L = 2 the direction approaches the Fourier-l1 max-margin solution."""
    X, y = separable_fourier_data(10, 16, 3, seed=0)
    depths = (1, 2, 3) if mode == "quick" else (1, 2, 3, 4)  # lr 2.0 diverges at L = 5
    runs = {L: train_logistic_gd(X, y, L, lr=2.0, steps=1500) for L in depths}
    support = [runs[L].effective_support for L in depths]
    separated = all(runs[L].min_margin > 0 for L in depths)
    decreasing = all(a > b for a, b in zip(support, support[1:]))
    l1 = max_margin(X[:, None, :], y, "CLARABEL").beta
    c_l1 = _cosine(runs[2].beta, l1)
    passed = separated and decreasing and c_l1 > 0.9
    return CheckResult(passed, "strictly decreasing effective support; cos(L=2, l1) > 0.9",
                       support, 0.9,
                       {"depths": list(depths), "effective_support": support,
                        "cos_L2_to_fourier_l1_max_margin": c_l1,
                        "fourier_l1_solution_support": fourier_sparsity(l1)[0],
                        "all_separated": separated})
