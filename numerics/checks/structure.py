"""Checks of the structure claims on trained networks: the CBN in the weights of near-minimal-norm
deep linear CNNs, and Gunasekar et al.'s Fourier sparsity of deep linear CNNs
(paper_notes/theory.md sections 3-4)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from cbn.numerics.convex.margin import max_margin
from cbn.numerics.fourier import centred_labels, circular_conv, filters_from_multipliers
from cbn.numerics.implicit_bias import fourier_sparsity, separable_fourier_data, train_logistic_gd
from cbn.numerics.linear import ranks_per_frequency, representation_cost
from cbn.numerics.search import Architecture, Start, min_norm_fit
from cbn.numerics.spectra import near_one_counts, weight_spectra
from cbn.theory.claims import CheckResult


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
    res = min_norm_fit(X, Y, Architecture.uniform(depth, 2, activation="identity", bias=False),
                       Start.random(0))
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
                        "stop_reason": res.message, "mismatched_layers": mismatched,
                        "max_dev_kept_from_1": max_dev, "max_dropped": max_dropped,
                        "depth": depth, "d": d, "bound": "trained norm is an upper bound"})


def _support_calibration_error(d: int) -> float:
    """Max |measured - known| effective support on spectra of known size: a delta (flat
    spectrum: d), a cosine at frequency 3 (one pair: 2), a constant (1), a cosine plus a sine
    at two frequencies of equal amplitude (two pairs: 4). Exact values up to FFT round-off."""
    p = np.arange(d)
    cases = [(np.eye(d)[0], d), (np.cos(2 * np.pi * 3 * p / d), 2), (np.ones(d), 1),
             (np.cos(2 * np.pi * p / d) + np.sin(2 * np.pi * 5 * p / d), 4)]
    return max(abs(fourier_sparsity(beta)[0] - known) for beta, known in cases)


def _l2_max_margin(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    beta = cp.Variable(X.shape[1])
    problem = cp.Problem(cp.Minimize(cp.sum_squares(beta)), [cp.multiply(y, X @ beta) >= 1])
    problem.solve(solver=cp.CLARABEL)
    if problem.status != cp.OPTIMAL:
        raise RuntimeError(f"l2 max-margin problem: status {problem.status}")
    return np.asarray(beta.value)


#: Convex solves at tolerance 1e-9 on O(1)-O(10) values (Clarabel): 1e-6 relative is margin.
MARGIN_RTOL = 1e-6


def check_gunasekar_sparsity(mode: str) -> CheckResult:
    """Logistic GD on separable data: the Fourier spectrum of the predictor gets sparser with
    depth, and at L = 2 the direction approaches the Fourier-l1 max-margin solution (closer to
    it than to the l2 one). The metric and the l1 solution are checked against oracles: the
    effective support on spectra of known size, the l1 value against ``||F beta||_1`` summed
    over every frequency (no halving, no pair weights)."""
    X, y = separable_fourier_data(10, 16, 3, seed=0)
    depths = (1, 2, 3) if mode == "quick" else (1, 2, 3, 4)  # lr 2.0 diverges at L = 5
    runs = {L: train_logistic_gd(X, y, L, lr=2.0, steps=1500) for L in depths}
    support = [runs[L].effective_support for L in depths]
    separated = all(runs[L].min_margin > 0 for L in depths)
    decreasing = all(a > b for a, b in zip(support, support[1:]))
    calibration = _support_calibration_error(X.shape[1])
    l1 = max_margin(X[:, None, :], y, "CLARABEL")
    direct = float(np.abs(np.fft.fft(l1.beta)).sum()) / np.sqrt(l1.beta.size)
    l1_value_error = abs(l1.value - direct) / direct
    l1_gap = l1.record.certificate["certified_gap"] / l1.value
    c_l1 = _cosine(runs[2].beta, l1.beta)
    c_l2 = _cosine(runs[2].beta, _l2_max_margin(X, y))
    # FFT round-off on O(1) spectra of 16 values: ~1e-15; 1e-12 is margin.
    passed = (separated and decreasing and calibration <= 1e-12 and c_l1 > 0.9
              and c_l1 > c_l2 and l1_value_error <= MARGIN_RTOL and l1_gap <= MARGIN_RTOL)
    return CheckResult(passed, "strictly decreasing effective support; cos(L=2, l1) > 0.9 and "
                       "> cos(L=2, l2)", support, 0.9,
                       {"depths": list(depths), "effective_support": support,
                        "cos_L2_to_fourier_l1_max_margin": c_l1,
                        "cos_L2_to_l2_max_margin": c_l2,
                        "fourier_l1_solution_support": fourier_sparsity(l1.beta)[0],
                        "support_metric_calibration_error": calibration,
                        "l1_value_vs_all_frequency_sum_rel": l1_value_error,
                        "l1_certified_gap_rel": l1_gap, "all_separated": separated})
