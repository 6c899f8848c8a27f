"""Measured-vs-predicted experiments on the learning dynamics (paper_notes/theory.md section 6).

Each function simulates the gradient flow of :mod:`cbn.numerics.dynamics.models` (white inputs,
``tau = 1``) from a stated start and returns a JSON-ready dict of measured and predicted numbers.
Time is in units of ``tau``; strengths ``a`` are ``u_alpha^T W phi_alpha``. The closed forms
are those of :mod:`cbn.numerics.dynamics.predictions`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbn.numerics.dynamics.data import Correlation, cosine_part, structured_correlation
from cbn.numerics.dynamics.flow import (
    RTOL,
    Flow,
    crossing_time,
    gradient_flow,
    half_times,
    mode_strengths,
)
from cbn.numerics.dynamics.init import aligned_cnn_start, aligned_fc_start, random_start
from cbn.numerics.dynamics.models import CircularCNN, FullyConnected
from cbn.numerics.dynamics.predictions import (
    cnn_dominant_rates,
    fc_rates,
    frequency_fractions,
    frequency_resolved_cnn,
    saxe_curve,
    saxe_half_time,
    share_exponents,
    stage_order,
)


def _rel(measured: np.ndarray, predicted: np.ndarray) -> list[float]:
    return [float(x) for x in np.abs(np.asarray(measured) / np.asarray(predicted) - 1.0)]


def _floats(x: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(x).ravel()]


def simulate_cnn(corr: Correlation, eps: float, convention: str = "plain", channels: int = 1,
                 kernel_size: int | None = None, t_max: float | None = None,
                 all_frequencies: bool = False) -> Flow:
    """CNN flow from the aligned balanced start at weight scale ``eps``.

    ``t_max`` defaults to twice the slowest dominant-pair half-time of the parts.
    """
    model = CircularCNN(corr.spatial, channels, corr.n_out, kernel_size, convention)
    theta0 = aligned_cnn_start(model, corr, eps, all_frequencies=all_frequencies)
    if t_max is None:
        a0 = mode_strengths(model.total_map(theta0), corr.outputs, corr.parts)
        t_max = 2.0 * max(saxe_half_time(s, r, a) for s, r, a in
                          zip(corr.strengths, cnn_dominant_rates(corr, model.gain), a0))
    return gradient_flow(model, corr.sigma_yx, theta0, t_max)


def simulate_fc(corr: Correlation, eps: float, hidden: int | None = None,
                t_max: float | None = None) -> Flow:
    """Fully-connected flow from the aligned balanced start (every part at ``eps^2``)."""
    d = int(np.prod(corr.spatial))
    model = FullyConnected(d, hidden or len(corr.strengths), corr.n_out)
    theta0 = aligned_fc_start(model, corr, eps)
    if t_max is None:
        t_max = 2.0 * max(saxe_half_time(s, r, eps ** 2)
                          for s, r in zip(corr.strengths, fc_rates(corr)))
    return gradient_flow(model, corr.sigma_yx, theta0, t_max)


def _half_time_table(flow: Flow, corr: Correlation, rates: np.ndarray) -> dict:
    """Measured half-times vs Saxe's sigmoid with the given rates and the measured ``a(0)``."""
    a0 = mode_strengths(flow.total_maps(np.array([0.0]))[0], corr.outputs, corr.parts)
    measured = half_times(flow, corr.outputs, corr.parts, corr.strengths)
    predicted = np.array([saxe_half_time(s, r, a) for s, r, a in zip(corr.strengths, rates, a0)])
    return {"a0": _floats(a0), "rates": _floats(rates), "predicted_half_times": _floats(predicted),
            "measured_half_times": _floats(measured), "relative_errors": _rel(measured, predicted),
            "n_gradient_evaluations": flow.n_rhs, "integrator": flow.settings}


def single_pair_half_times(spatial: Sequence[int], convention: str = "plain",
                           strengths: Sequence[float] = (2.0, 1.0, 0.5),
                           eps: float = 1e-2, channels: int = 2, seed: int = 0) -> dict:
    """Parts built from one conjugate pair each: CNN and FC half-times vs Saxe's sigmoid.

    Part ``k`` is a cosine at the ``k``-th non-self-conjugate frequency (axis-aligned labels
    ``1, 2, ...``), phase ``0.3 k``. CNN rate ``2 g |phi~(j)| s`` with ``g = kappa sqrt(d)``;
    also reported: paper_notes/theory.md's literal ``2 n |phi~| s`` with ``n`` the side length
    (equal to
    ours on a square 2-D grid with the plain convention, off by ``sqrt(n)`` on a 1-D grid).
    """
    spatial = tuple(spatial)
    freqs = [tuple([k + 1] + [0] * (len(spatial) - 1)) if k % 2 == 0 or len(spatial) == 1
             else tuple([0, k + 1]) for k in range(len(strengths))]
    parts = [cosine_part(spatial, [f], phases=[0.3 * k]) for k, f in enumerate(freqs)]
    corr = structured_correlation(spatial, strengths, parts, seed=seed)
    cnn = simulate_cnn(corr, eps, convention, channels)
    fc = simulate_fc(corr, eps)
    cnn_rates = cnn_dominant_rates(corr, cnn.model.gain)
    literal = 2.0 * spatial[0] * corr.part_spectra.reshape(len(strengths), -1).max(axis=1) \
        * corr.strengths if convention == "plain" else cnn_rates
    out = {"spatial": list(spatial), "convention": convention, "frequencies": freqs,
           "strengths": _floats(corr.strengths), "eps": eps, "gain": cnn.model.gain,
           "cnn": _half_time_table(cnn, corr, cnn_rates), "fc": _half_time_table(fc, corr,
                                                                            fc_rates(corr))}
    out["theory_md_literal_rates"] = _floats(literal)
    out["theory_md_literal_rate_ratio"] = float(literal[0] / cnn_rates[0])
    return out


def inversion_example() -> Correlation:
    """Two parts whose stage order is predicted to invert between the CNN and the FC net.

    On the 8x8 grid: part 0 has ``s = 3`` spread evenly over 4 conjugate pairs
    (``max |phi~| = 8^{-1/2}``, CNN score ``3 / sqrt(8) = 1.06``); part 1 has ``s = 2`` on one
    pair (``max |phi~| = 2^{-1/2}``, score ``1.41``). FC order: 0 then 1; CNN order: 1 then 0.
    """
    sp = (8, 8)
    spread = cosine_part(sp, [(1, 0), (0, 1), (1, 1), (2, 1)], phases=[0.1, 0.5, 0.9, 1.3])
    single = cosine_part(sp, [(3, 2)], phases=[0.4])
    return structured_correlation(sp, [3.0, 2.0], [spread, single], seed=1)


def stage_order_experiment(corr: Correlation, eps: float = 1e-2,
                           convention: str = "plain") -> dict:
    """Measured stage orders (by half-time) of CNN and FC vs the predicted orders."""
    cnn = simulate_cnn(corr, eps, convention)
    fc = simulate_fc(corr, eps)
    cnn_table = _half_time_table(cnn, corr, cnn_dominant_rates(corr, cnn.model.gain))
    fc_table = _half_time_table(fc, corr, fc_rates(corr))
    return {
        "strengths": _floats(corr.strengths),
        "cnn_scores": _floats(cnn_dominant_rates(corr, 1.0) / 2.0),
        "predicted_order_cnn": stage_order(cnn_dominant_rates(corr, cnn.model.gain)),
        "predicted_order_fc": stage_order(fc_rates(corr)),
        "measured_order_cnn": [int(i) for i in np.argsort(cnn_table["measured_half_times"])],
        "measured_order_fc": [int(i) for i in np.argsort(fc_table["measured_half_times"])],
        "cnn": cnn_table, "fc": fc_table,
    }


def random_start_experiment(corr: Correlation, scales: Sequence[float] = (1e-3, 1e-4, 1e-5),
                            seeds: Sequence[int] = (0,), channels: int = 4,
                            convention: str = "plain") -> dict:
    """Small i.i.d. Gaussian starts: the half-time shift per decade of init scale gives the rate.

    From a random start of standard deviation ``scale`` the initial strengths are ``O(scale^2)``,
    so Saxe's half-time ``log(s / a0) / rate`` predicts ``d t_half / d log(scale) = -2 / rate``
    (the alignment transient only shifts ``t_half`` by an amount independent of the scale at
    leading order). Fitted by least squares per part and seed, for the CNN (``channels``
    filters, dominant-pair rate) and the FC net (hidden width ``channels``, rate ``2 s``).
    """
    nets = {"cnn": CircularCNN(corr.spatial, channels, corr.n_out, None, convention),
            "fc": FullyConnected(int(np.prod(corr.spatial)), channels, corr.n_out)}
    rates = {"cnn": cnn_dominant_rates(corr, nets["cnn"].gain), "fc": fc_rates(corr)}
    out: dict = {"scales": _floats(scales), "seeds": list(seeds), "channels": channels}
    for key, model in nets.items():
        t_max = 2.0 * np.log(corr.strengths.max() / min(scales) ** 2) / rates[key].min()
        table = np.array([[half_times(gradient_flow(model, corr.sigma_yx,
                                                    random_start(model, sc, seed), t_max),
                                      corr.outputs, corr.parts, corr.strengths)
                           for sc in scales] for seed in seeds])  # (seeds, scales, r)
        slopes = np.array([[np.polyfit(np.log(scales), table[i, :, k], 1)[0]
                            for k in range(table.shape[2])] for i in range(len(seeds))])
        predicted = -2.0 / rates[key]
        out[key] = {"half_times": table.tolist(), "fitted_slopes": slopes.tolist(),
                    "predicted_slopes": _floats(predicted),
                    "relative_errors": (np.abs(slopes / predicted - 1.0)).tolist(),
                    "predicted_order": stage_order(rates[key]),
                    "measured_orders": [[[int(i) for i in np.argsort(row)] for row in per_seed]
                                        for per_seed in table]}
    return out


def _pair_power(power: np.ndarray, spatial: tuple[int, ...], freq: Sequence[int]) -> float:
    """Kernel power on the conjugate pair ``{j, -j}`` (one bin if self-conjugate)."""
    j = tuple(int(f) % n for f, n in zip(freq, spatial))
    mj = tuple(-int(f) % n for f, n in zip(freq, spatial))
    return float(power[j] + (power[mj] if mj != j else 0.0))


def dominant_share_sweep(b0s: Sequence[float] = tuple(np.logspace(-9, -6, 7)),
                         spatial: Sequence[int] = (16,),
                         frequencies: Sequence[Sequence[int]] = ((1,), (3,), (5,)),
                         weights: Sequence[float] = (1.0, 0.6, 0.3),
                         strength: float = 1.0, convention: str = "scaled") -> dict:
    """Kernel-power share of the dominant pair when it is half-learned, vs the start ``b0``.

    One part with ``|phi~(+-j_k)|`` proportional to ``weights`` (first = dominant). For each
    initial per-frequency strength ``b0 = g eps^2`` the flow is run from the aligned start; at
    the time ``t*`` when the dominant pair's learned fraction ``beta_{j*}`` reaches 1/2 (root of
    the dense trajectory), the kernel power ``P_j`` on every pair is measured. Predicted:
    ``P_j / P_{j*} ~ b0^{1 - rho_j}`` (``rho_j = weights_j / weights_0``), so the dominant share
    ``P_{j*} / sum_j P_j -> 1`` as ``b0 -> 0``. Slopes are least-squares fits of
    ``log(P_j / P_{j*})`` on ``log b0`` (with the fit residual).
    """
    spatial = tuple(spatial)
    part = cosine_part(spatial, frequencies, weights)
    corr = structured_correlation(spatial, [strength], [part], seed=0)
    model = CircularCNN(spatial, 1, 1, None, convention)
    jstar = tuple(int(f) % n for f, n in zip(frequencies[0], spatial))
    ratios, shares, tstars = [], [], []
    for b0 in b0s:
        eps = float(np.sqrt(b0 / model.gain))
        theta0 = aligned_cnn_start(model, corr, eps)
        sigma_star = strength * float(corr.part_spectra[0][jstar])  # |sigma_{j*}|
        t_pred = saxe_half_time(sigma_star, 2 * model.gain * sigma_star, b0)
        flow = gradient_flow(model, corr.sigma_yx, theta0, 2.0 * t_pred)

        def beta_star(t: float, flow: Flow = flow) -> float:
            maps = flow.total_maps(np.array([t]))
            return float(frequency_fractions(maps, corr.sigma_yx, spatial)[(0, *jstar)])

        grid = np.linspace(0.0, flow.t_max, 201)
        values = frequency_fractions(flow.total_maps(grid), corr.sigma_yx, spatial)[
            (slice(None), *jstar)]
        tstar = crossing_time(beta_star, 0.5, grid, values)
        power = model.kernel_power(flow.thetas(np.array([tstar]))[0])
        pair = np.array([_pair_power(power, spatial, f) for f in frequencies])
        ratios.append(pair[1:] / pair[0])
        shares.append(pair[0] / pair.sum())
        tstars.append(tstar)
    ratios = np.array(ratios)
    logb = np.log(np.asarray(b0s, float))
    slopes, residuals = [], []
    for k in range(ratios.shape[1]):
        coef, res, *_ = np.polyfit(logb, np.log(ratios[:, k]), 1, full=True)
        slopes.append(float(coef[0]))
        residuals.append(float(np.sqrt(res[0] / len(logb))) if len(res) else 0.0)
    rho = np.asarray(weights, float) / weights[0]
    return {"spatial": list(spatial), "frequencies": [list(f) for f in frequencies],
            "weights": _floats(weights), "b0": _floats(b0s), "t_star": _floats(tstars),
            "dominant_share": _floats(shares), "power_ratios": ratios.tolist(),
            "fitted_exponents": slopes, "fit_rms_residuals": residuals,
            "predicted_exponents": _floats(share_exponents(rho)[1:]),
            "gain": model.gain, "convention": convention}


def collision_experiment(strengths: Sequence[float] = (2.0, 1.0), eps: float = 1e-2,
                         spatial: Sequence[int] = (8, 8), freq: Sequence[int] = (1, 2)) -> dict:
    """Two parts on the SAME conjugate pair (a cosine and a sine): collision rule vs naive.

    Collision prediction: both parts follow ``s_alpha beta(t)`` with ``beta`` the sigmoid of rate
    ``2 g |sigma_j|``, ``|sigma_j| = sqrt(s_A^2 + s_B^2) / sqrt(2)``, so they share one
    half-time ``log(|sigma_j| / b0 - 1) / (2 g |sigma_j|)``. Naive: each part alone at
    ``2 g |phi~(j)| s_alpha`` from its measured ``a(0)``.
    """
    spatial = tuple(spatial)
    parts = [cosine_part(spatial, [freq]), cosine_part(spatial, [freq], phases=[np.pi / 2])]
    corr = structured_correlation(spatial, strengths, parts, seed=2)
    flow = simulate_cnn(corr, eps, "plain")
    gain = flow.model.gain
    b0 = gain * eps ** 2
    sigma = float(np.sqrt(np.sum(np.square(strengths))) / np.sqrt(2.0))
    t_coll = saxe_half_time(sigma, 2 * gain * sigma, b0)
    naive = _half_time_table(flow, corr, cnn_dominant_rates(corr, gain))
    measured = np.asarray(naive["measured_half_times"])
    return {"strengths": _floats(strengths), "frequency": list(freq), "eps": eps, "gain": gain,
            "predicted_half_time_collision": t_coll, "measured_half_times": _floats(measured),
            "relative_errors_collision": _rel(measured, np.full(len(measured), t_coll)),
            "predicted_half_times_naive": naive["predicted_half_times"],
            "relative_errors_naive": naive["relative_errors"]}


def kernel_size_experiment(kernel_sizes: Sequence[int] = (16, 8, 4, 2), n: int = 16,
                           freq: int = 2, strength: float = 1.0, eps: float = 1e-2,
                           t_factor: float = 12.0) -> dict:
    """Single-pair part on a 1-D grid: half-time and learned-spectrum spread vs kernel size.

    Every kernel size starts from the same one-pixel filter (aligned readout) so only ``k``
    changes. Spread = share of the final learned kernel power (``P(t_max) - P(0)``) outside the
    target pair. ``t_max = t_factor`` times the full-kernel half-time.
    """
    spatial = (n,)
    corr = structured_correlation(spatial, [strength], [cosine_part(spatial, [(freq,)])])
    full = simulate_cnn(corr, eps, "plain", kernel_size=None, all_frequencies=True)
    t_full = half_times(full, corr.outputs, corr.parts, corr.strengths)[0]
    rows = []
    for k in kernel_sizes:
        flow = simulate_cnn(corr, eps, "plain", kernel_size=k, all_frequencies=True,
                            t_max=t_factor * t_full)
        t_half = half_times(flow, corr.outputs, corr.parts, corr.strengths, n_grid=2000)[0]
        p0, p1 = flow.model.kernel_power(flow.thetas(np.array([0.0, flow.t_max])))
        learned = p1 - p0
        on_pair = _pair_power(learned, spatial, (freq,))
        rows.append({"kernel_size": int(k), "half_time": float(t_half),
                     "slowdown": float(t_half / t_full),
                     "sqrt_d_over_k": float(np.sqrt(n / k)),
                     "spread_outside_pair": float(1.0 - on_pair / learned.sum()),
                     "n_gradient_evaluations": flow.n_rhs})
    return {"n": n, "frequency": freq, "eps": eps, "full_kernel_half_time": float(t_full),
            "rows": rows}


def real_data_experiment(corr: Correlation, n_parts: int = 5, eps: float = 1e-2,
                         convention: str = "plain", t_factor: float = 4.0,
                         rtol: float = RTOL) -> dict:
    """Top parts of a measured ``Sigma_yx``: CNN half-times vs the dominant-pair sigmoid and the
    exact frequency-resolved prediction; stage orders (CNN and FC) vs predicted.

    ``rtol`` is the integrator's relative tolerance (the frequency-resolved comparison is
    limited by it: ~1e3 * rtol relative to the weakest part's strength on MNIST-1D).
    """
    top = Correlation(corr.spatial, corr.strengths[:n_parts], corr.outputs[:, :n_parts],
                      corr.parts[:n_parts])
    model = CircularCNN(corr.spatial, 1, corr.n_out, None, convention)
    theta0 = aligned_cnn_start(model, corr, eps)
    a0 = mode_strengths(model.total_map(theta0), top.outputs, top.parts)
    rates = cnn_dominant_rates(top, model.gain)
    pred = np.array([saxe_half_time(s, r, a) for s, r, a in zip(top.strengths, rates, a0)])
    flow = gradient_flow(model, corr.sigma_yx, theta0, t_factor * pred.max(), rtol=rtol)
    measured = half_times(flow, top.outputs, top.parts, top.strengths, n_grid=2000)
    grid = np.linspace(0.0, flow.t_max, 200)
    exact = frequency_resolved_cnn(corr, model.gain, model.gain * eps ** 2, grid)[:, :n_parts]
    sim = mode_strengths(flow.total_maps(grid), top.outputs, top.parts)
    fc_pred = stage_order(fc_rates(top))
    return {
        "strengths": _floats(top.strengths),
        "max_abs_phi": _floats(top.part_spectra.reshape(n_parts, -1).max(axis=1)),
        "predicted_half_times_dominant_pair": _floats(pred),
        "measured_half_times": _floats(measured),
        "relative_errors_dominant_pair": _rel(measured, pred),
        "max_error_frequency_resolved_over_s": float(
            np.max(np.abs(sim - exact) / top.strengths)),
        "predicted_order_cnn": stage_order(rates),
        "measured_order_cnn": [int(i) for i in np.argsort(measured)],
        "predicted_order_fc": fc_pred,
        "n_gradient_evaluations": flow.n_rhs, "integrator": flow.settings,
    }


def learning_curves(corr: Correlation, eps: float = 1e-2, convention: str = "plain",
                    n_times: int = 300) -> dict:
    """Measured strengths ``a_alpha(t)`` of CNN and FC with the predicted sigmoids (for plots).

    Each net runs to twice its slowest predicted half-time on its own time grid.

    Returns a dict with ``cnn_times``/``fc_times`` (T,), ``cnn_measured``/``cnn_predicted``/
    ``fc_measured``/``fc_predicted`` (T, r) lists, ``cnn_kernel_power`` (T, *spatial): the
    per-frequency kernel power ``sum_c |w~_c(m)|^2`` over time, ``strengths``, and a
    ``prediction`` note.
    """
    out: dict = {"strengths": _floats(corr.strengths), "convention": convention, "eps": eps,
                 "prediction": "Saxe sigmoid from the measured a(0); CNN rate 2 g max|phi~| s "
                               "(dominant pair, g = kappa sqrt(d)), FC rate 2 s"}
    for key, flow in (("cnn", simulate_cnn(corr, eps, convention)), ("fc", simulate_fc(corr, eps))):
        rates = (cnn_dominant_rates(corr, flow.model.gain) if key == "cnn" else fc_rates(corr))
        times = np.linspace(0.0, flow.t_max, n_times)
        measured = mode_strengths(flow.total_maps(times), corr.outputs, corr.parts)
        predicted = np.stack([saxe_curve(times, s, r, a) for s, r, a in
                              zip(corr.strengths, rates, measured[0])], axis=1)
        out.update({f"{key}_times": _floats(times), f"{key}_measured": measured.tolist(),
                    f"{key}_predicted": predicted.tolist()})
        if key == "cnn":
            out["cnn_kernel_power"] = flow.model.kernel_power(flow.thetas(times)).tolist()
    return out
