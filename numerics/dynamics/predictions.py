"""Closed-form predictions for the gradient flow of the two linear models
(paper_notes/theory.md section 6).

Derivation for the exact models of :mod:`cbn.numerics.dynamics.models` (white inputs, ``tau = 1``,
gradient flow ``theta' = -grad L``). In unitary Fourier coordinates (``w~ = F w``,
``r~ = F R``, each an orthonormal change of the real parameters, so the flow keeps its form)
the CNN decouples into one two-layer linear net per frequency ``m`` with a *scalar* input:

    b_m = g conj(r~_m) w~_m,   g = kappa sqrt(d)  (plain: sqrt(d) = n on an n x n grid; scaled: 1)

trained towards the column ``sigma_m = (Sigma_yx F^*)[:, m]`` (``|sigma_m|`` = its norm).
Saxe et al.'s balanced solution of ``r' = g w (sigma - b)``, ``w' = g r (sigma - b)`` gives

    b_m(t) = |sigma_m| e^{r_m t} / (e^{r_m t} - 1 + |sigma_m| / b_m(0)),   r_m = 2 g |sigma_m|,

and a part's strength ``a_alpha = u_alpha^T W phi_alpha = s_alpha sum_m |phi~_alpha(m)|^2
beta_m(t)`` with ``beta_m = b_m / |sigma_m|`` (exact for the aligned balanced initialisation of
:mod:`cbn.numerics.dynamics.init`). A single conjugate pair ``+-j`` with ``|phi~(+-j)| = 2^{-1/2}``
gives ``a(t)`` = Saxe's sigmoid with rate ``2 g |phi~(j)| s``: paper_notes/theory.md's ``2 n |phi~|
s`` for
the plain convention on an n x n grid (on a 1-D grid of n pixels the factor is ``sqrt(n)``).
The fully-connected net ``W2 W1`` has rate ``2 s_alpha`` per part.

A part learned through several frequencies has one sigmoid per frequency; when its dominant pair
is half-learned (``e^{r* t*} ~ s*/b0``) a frequency with ``rho = |phi~(j)| / |phi~(j*)|`` has
``b_j(t*) ~ b0 (s*/b0)^rho``: relative to the dominant pair it carries a share
``~ (b0 / s*)^{1 - rho}`` of the power, vanishing as a power of the initial strength ``b0``.
Collision: parts sharing a frequency are learned there as ONE mode of strength ``|sigma_m|``
(the per-frequency net has rank one), so both at the combined rate ``2 g |sigma_m|``.
"""

from __future__ import annotations

import numpy as np

from cbn.numerics.dynamics.data import Correlation, unitary_dft


def saxe_curve(t: np.ndarray, s: float, rate: float, a0: float) -> np.ndarray:
    """Saxe's sigmoid ``s e^{rate t} / (e^{rate t} - 1 + s / a0)`` (overflow-safe)."""
    t = np.asarray(t, float)
    # divide through by e^{rate t}: s / (1 + (s / a0 - 1) e^{-rate t})
    return s / (1.0 + (s / a0 - 1.0) * np.exp(-rate * t))


def saxe_half_time(s: float, rate: float, a0: float) -> float:
    """Time at which :func:`saxe_curve` reaches ``s / 2``: ``log(s / a0 - 1) / rate``."""
    if not 0 < a0 < s / 2:
        raise ValueError(f"need 0 < a0 < s/2 for a half-time, got a0={a0}, s={s}")
    return float(np.log(s / a0 - 1.0) / rate)


def fc_rates(corr: Correlation, tau: float = 1.0) -> np.ndarray:
    """Fully-connected rates ``2 s_alpha / tau``, shape (r,)."""
    return 2.0 * np.asarray(corr.strengths) / tau


def cnn_dominant_rates(corr: Correlation, gain: float, tau: float = 1.0) -> np.ndarray:
    """CNN rates of paper_notes/theory.md section 6, one dominant pair per part:
    ``2 g max_m |phi~_alpha(m)| s_alpha / tau``, shape (r,)."""
    peak = corr.part_spectra.reshape(len(corr.strengths), -1).max(axis=1)
    return 2.0 * gain * peak * np.asarray(corr.strengths) / tau


def stage_order(rates: np.ndarray) -> list[int]:
    """Parts in predicted learning order (fastest rate first; equal initial strengths)."""
    return [int(i) for i in np.argsort(-np.asarray(rates), kind="stable")]


def frequency_targets(sigma_yx: np.ndarray, spatial: tuple[int, ...]) -> np.ndarray:
    """``sigma_m = (Sigma_yx F^*)[:, m]``, shape (*spatial, n_out), complex.

    The end-to-end map acts as ``y = sum_m sigma_m x~(m)`` at convergence.
    """
    return np.moveaxis(np.conj(unitary_dft(sigma_yx, spatial)), 0, -1)


def frequency_fractions(total_map: np.ndarray, sigma_yx: np.ndarray,
                        spatial: tuple[int, ...]) -> np.ndarray:
    """Measured ``beta_m = Re <sigma_m, b_m> / |sigma_m|^2`` of maps ``(..., n_out, d)``.

    ``b_m = (W F^*)[:, m]``; NaN where ``sigma_m = 0``. Shape ``(..., *spatial)``.
    """
    target = frequency_targets(sigma_yx, spatial)  # (*sp, O)
    nsp = len(spatial)
    b = np.moveaxis(np.conj(unitary_dft(total_map, spatial)), -nsp - 1, -1)  # (..., *sp, O)
    num = np.real(np.sum(np.conj(target) * b, axis=-1))
    den = np.sum(np.abs(target) ** 2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def frequency_resolved_cnn(corr: Correlation, gain: float, b0: float, t: np.ndarray,
                           tau: float = 1.0, active_rtol: float = 1e-12) -> np.ndarray:
    """Exact part strengths ``a_alpha(t)`` of the CNN from the aligned balanced start.

    Each active frequency (``|sigma_m| > active_rtol * max``) starts at strength ``b0`` and
    follows its own sigmoid; ``a_alpha = s_alpha sum_m |phi~_alpha(m)|^2 beta_m(t)``.

    Returns
    -------
    a : (len(t), r)
    """
    t = np.asarray(t, float)
    norms = np.linalg.norm(frequency_targets(corr.sigma_yx, corr.spatial), axis=-1).ravel()
    active = norms > active_rtol * norms.max()
    beta = np.zeros((len(t), norms.size))
    for m in np.flatnonzero(active):
        beta[:, m] = saxe_curve(t, norms[m], 2 * gain * norms[m] / tau, b0) / norms[m]
    weights = corr.part_spectra.reshape(len(corr.strengths), -1) ** 2  # (r, d)
    return beta @ weights.T * np.asarray(corr.strengths)


def share_exponents(spectrum: np.ndarray) -> np.ndarray:
    """Predicted exponents ``1 - |phi~(j)| / |phi~(j*)|`` of the non-dominant share vs ``b0``.

    ``spectrum`` is ``|phi~|`` of one part (any shape); returns the same shape (0 at ``j*``).
    """
    spectrum = np.asarray(spectrum, float)
    return 1.0 - spectrum / spectrum.max()
