"""Checks of paper_notes/theory.md section 6 (learning dynamics of linear CNNs, [PLG23] and Saxe et
al.).

Every check simulates the real-space gradient flow of :mod:`cbn.numerics.dynamics.models` (white
inputs, ``tau = 1``, DOP853 at rtol 1e-10) and compares with closed forms. Half-times are
measured by root-finding on the dense trajectory.
"""

from __future__ import annotations

import numpy as np

from cbn.numerics.dynamics.data import digits_correlation, mnist1d_correlation
from cbn.numerics.dynamics.experiments import (
    collision_experiment,
    dominant_share_sweep,
    inversion_example,
    kernel_size_experiment,
    random_start_experiment,
    real_data_experiment,
    single_pair_half_times,
    stage_order_experiment,
)
from cbn.theory.claims import CheckResult

#: The issue's criterion for half-times of single-pair parts (2%). The integration error is
#: ~1e-9 relative, so the test resolves any genuine deviation of the formula above 1e-8.
HALF_TIME_RTOL = 0.02

#: Exponent tolerance for the dominant-share power law. At the largest start used (b0 = 1e-6 s)
#: the leading correction to log(P_j / P_j*) is O((b0/s)^{1 - rho}) <= (1e-6)^{0.3} ~ 1.6e-2 for
#: the spectra used (1 - rho >= 0.3); its effect on the fitted slope is (1 - rho) times that,
#: <= 5e-3, so 0.02 leaves a factor 4 while still resolving a wrong exponent (the spectra's
#: predicted exponents differ by >= 0.3).
EXPONENT_ATOL = 0.02

#: Exact frequency-resolved prediction vs simulation, in units of each part's strength. The
#: real-data flows are integrated at rtol 1e-12 (REAL_DATA_RTOL): the measured integration error
#: scales like ~1e3 * rtol on the weakest MNIST-1D parts (1.2e-7 at rtol 1e-10, 8e-10 at 1e-12),
#: so 1e-7 keeps a factor ~100 over it while any modelling error would show at >= 1e-4.
RESOLVED_ATOL = 1e-7
REAL_DATA_RTOL = 1e-12


def _single_pair_cases(mode: str) -> list[tuple[tuple[int, ...], str]]:
    cases = [((8, 8), "plain"), ((16,), "scaled")]
    if mode == "full":
        cases += [((8, 8), "scaled"), ((16,), "plain"), ((6, 10), "plain"), ((32,), "plain")]
    return cases


def check_single_pair_half_time(mode: str) -> CheckResult:
    """Single-pair parts: CNN half-time with rate 2 g |phi~(j)| s (g = kappa sqrt(d)) and FC
    half-time with rate 2 s, both within 2%."""
    worst, runs = 0.0, []
    for spatial, convention in _single_pair_cases(mode):
        r = single_pair_half_times(spatial, convention)
        errs = r["cnn"]["relative_errors"] + r["fc"]["relative_errors"]
        worst = max(worst, max(errs))
        runs.append({"spatial": r["spatial"], "convention": convention, "gain": r["gain"],
                     "cnn_predicted": r["cnn"]["predicted_half_times"],
                     "cnn_measured": r["cnn"]["measured_half_times"],
                     "fc_predicted": r["fc"]["predicted_half_times"],
                     "fc_measured": r["fc"]["measured_half_times"], "max_rel_error": max(errs)})
    return CheckResult(bool(worst <= HALF_TIME_RTOL), 0.0, worst, HALF_TIME_RTOL, {"runs": runs})


def check_theory_rate_literal(mode: str) -> CheckResult:
    """paper_notes/theory.md's literal rate ``2 n |phi~(j*)| s`` (plain convolution, ``n`` = side
    length of
    the grid) on a 2-D square grid AND a 1-D grid: half-times within 2%."""
    cases = [(8, 8), (16,)] if mode == "quick" else [(8, 8), (16,), (12, 12), (32,)]
    worst, runs = 0.0, []
    for spatial in cases:
        r = single_pair_half_times(spatial, "plain")
        a0 = np.asarray(r["cnn"]["a0"])
        s = np.asarray(r["strengths"])
        literal = np.asarray(r["theory_md_literal_rates"])
        predicted = np.log(s / a0 - 1.0) / literal
        measured = np.asarray(r["cnn"]["measured_half_times"])
        err = float(np.max(np.abs(measured / predicted - 1.0)))
        worst = max(worst, err)
        runs.append({"spatial": list(spatial), "literal_rate_over_measured_rate":
                     r["theory_md_literal_rate_ratio"], "predicted": predicted.tolist(),
                     "measured": measured.tolist(), "max_rel_error": err})
    return CheckResult(bool(worst <= HALF_TIME_RTOL), 0.0, worst, HALF_TIME_RTOL,
                       {"runs": runs, "note": "the rate factor is kappa sqrt(d): n on an n x n "
                        "grid (plain) but sqrt(n) on a 1-D grid of n pixels"})


def check_stage_order_inversion(mode: str) -> CheckResult:
    """Constructed example: CNN order by s max|phi~|, FC order by s, and the two differ."""
    eps_values = [1e-2] if mode == "quick" else [1e-1, 1e-2, 1e-3, 1e-4]
    runs, ok = [], True
    for eps in eps_values:
        r = stage_order_experiment(inversion_example(), eps)
        good = (r["measured_order_cnn"] == r["predicted_order_cnn"]
                and r["measured_order_fc"] == r["predicted_order_fc"]
                and r["predicted_order_cnn"] != r["predicted_order_fc"])
        ok = ok and good
        runs.append({"eps": eps, **{k: r[k] for k in (
            "strengths", "cnn_scores", "predicted_order_cnn", "measured_order_cnn",
            "predicted_order_fc", "measured_order_fc")},
            "cnn_half_times": r["cnn"]["measured_half_times"],
            "fc_half_times": r["fc"]["measured_half_times"]})
    last = runs[-1]
    return CheckResult(ok, {"cnn": last["predicted_order_cnn"], "fc": last["predicted_order_fc"]},
                       {"cnn": last["measured_order_cnn"], "fc": last["measured_order_fc"]},
                       "orders equal", {"runs": runs})


def check_random_start(mode: str) -> CheckResult:
    """Small random starts: d t_half / d log(scale) = -2 / rate (CNN dominant-pair rate, FC rate
    2 s) within 2%, and the constructed stage-order inversion holds in every run."""
    if mode == "quick":
        r = random_start_experiment(inversion_example())
    else:
        r = random_start_experiment(inversion_example(), scales=(1e-3, 1e-4, 1e-5, 1e-6),
                                    seeds=(0, 1, 2, 3))
    worst = max(float(np.max(r[k]["relative_errors"])) for k in ("cnn", "fc"))
    orders_ok = all(order == r[k]["predicted_order"] for k in ("cnn", "fc")
                    for per_seed in r[k]["measured_orders"] for order in per_seed)
    return CheckResult(bool(worst <= HALF_TIME_RTOL and orders_ok),
                       {k: r[k]["predicted_slopes"] for k in ("cnn", "fc")},
                       {k: r[k]["fitted_slopes"] for k in ("cnn", "fc")}, HALF_TIME_RTOL,
                       {"max_rel_slope_error": worst, "orders_as_predicted": orders_ok, **r})


def check_dominant_share(mode: str) -> CheckResult:
    """Non-dominant kernel power relative to the dominant pair ~ b0^{1 - rho}; share -> 1."""
    if mode == "quick":
        sweeps = [dominant_share_sweep()]
    else:
        sweeps = [dominant_share_sweep(tuple(np.logspace(-10, -6, 9))),
                  dominant_share_sweep(tuple(np.logspace(-10, -6, 9)), spatial=(8, 8),
                                       frequencies=((1, 0), (1, 2), (3, 1)),
                                       weights=(1.0, 0.7, 0.4), convention="plain")]
    worst, monotone = 0.0, True
    for r in sweeps:
        diff = np.abs(np.asarray(r["fitted_exponents"]) - np.asarray(r["predicted_exponents"]))
        worst = max(worst, float(diff.max()))
        share = np.asarray(r["dominant_share"])  # b0 increasing
        monotone = monotone and bool(np.all(np.diff(share) < 0))
    return CheckResult(bool(worst <= EXPONENT_ATOL and monotone),
                       [r["predicted_exponents"] for r in sweeps],
                       [r["fitted_exponents"] for r in sweeps], EXPONENT_ATOL,
                       {"share_increases_as_b0_decreases": monotone, "sweeps": sweeps})


def check_collision(mode: str) -> CheckResult:
    """Parts sharing their dominant pair are learned together at rate 2 g |sigma_j|."""
    cases = [(2.0, 1.0)] if mode == "quick" else [(2.0, 1.0), (1.0, 1.0), (3.0, 0.5)]
    runs = [collision_experiment(c) for c in cases]
    worst = max(max(r["relative_errors_collision"]) for r in runs)
    return CheckResult(bool(worst <= HALF_TIME_RTOL),
                       [r["predicted_half_time_collision"] for r in runs],
                       [r["measured_half_times"] for r in runs], HALF_TIME_RTOL,
                       {"runs": runs, "max_rel_error_collision": worst,
                        "max_rel_error_naive": max(max(r["relative_errors_naive"])
                                                   for r in runs)})


def check_kernel_size(mode: str) -> CheckResult:
    """Smaller kernels learn a single-pair part more slowly and spread the learned spectrum."""
    sizes = (16, 8, 4, 2) if mode == "quick" else (16, 12, 8, 6, 4, 3, 2, 1)
    r = kernel_size_experiment(sizes)
    times = np.array([row["half_time"] for row in r["rows"]])
    spread = np.array([row["spread_outside_pair"] for row in r["rows"]])
    ok = bool(np.all(np.diff(times) > 0) and np.all(np.diff(spread) > 0))
    return CheckResult(ok, "half-time and spread strictly increase as k decreases",
                       {"half_times": times.tolist(), "spread": spread.tolist()},
                       "strict monotonicity", r)


def _real_data_experiments(mode: str) -> list[dict]:
    sources = [digits_correlation] + ([mnist1d_correlation] if mode == "full" else [])
    runs = []
    for source in sources:
        corr, info = source()
        r = real_data_experiment(corr, n_parts=5 if mode == "quick" else 9, rtol=REAL_DATA_RTOL)
        r["data"] = {**info, "preprocessing": "inputs centred and ZCA-whitened; targets "
                     "centred one-hot labels"}
        runs.append(r)
    return runs


def check_real_data_stage_order(mode: str) -> CheckResult:
    """Real data: the CNN learns its top parts in the order of s_alpha max_j |phi~_alpha(j)|."""
    runs = _real_data_experiments(mode)
    ok = all(r["measured_order_cnn"] == r["predicted_order_cnn"] for r in runs)
    # the size of the miss: how far the one-dominant-pair half-times are off, worst part
    size = max(max(r["relative_errors_dominant_pair"]) for r in runs)
    return CheckResult(ok, [r["predicted_order_cnn"] for r in runs],
                       [r["measured_order_cnn"] for r in runs], "orders equal",
                       {"runs": runs, "finding_size": size,
                        "finding_size_is": "max relative error of the dominant-pair half-times"})


def check_frequency_resolved(mode: str) -> CheckResult:
    """Real data: the simulated a_alpha(t) equals the exact per-frequency sigmoid sum."""
    runs = _real_data_experiments(mode)
    err = max(r["max_error_frequency_resolved_over_s"] for r in runs)
    return CheckResult(bool(err <= RESOLVED_ATOL), 0.0, err, RESOLVED_ATOL, {"runs": runs})
