"""Numerical detection of linear, shift-equivariant targets that do not declare it.

A user's target (a blur written with ``np.roll``, say) may be linear without declaring
``linear_multipliers``; fitting it with ReLU networks and no closed form would hide the exact
answer the theory has for it. :func:`detect_linear` recovers its multipliers from impulse
responses and accepts them only if they reproduce the target on random inputs.

Conventions: for a linear equivariant ``f``, ``f(x) = h * x`` (plain circular convolution)
with ``h_ij = f(delta_j)_i``, the response of channel ``i`` to a unit impulse at pixel 0 of
input channel ``j``. Its operator multiplier is ``A(m) = h^(m)`` (numpy.fft.fftn), whatever
the convention of the filters that realise it (paper_notes/theory.md section 1).
"""

from __future__ import annotations

import numpy as np

from cbn.numerics.fourier import circular_conv, filters_from_multipliers
from cbn.numerics.targets.base import Target
from cbn.numerics.targets.linear import LinearTarget

#: Agreement asked of the impulse-response operator on random inputs, relative to max|f|.
#: A float64 evaluation of a convolution sums O(d c_in) products, so round-off stays near
#: 1e-15 d c_in; 1e-9 leaves room for that at any practical size, while a nonlinearity of
#: relative size above 1e-9 on inputs of unit scale (any ReLU, square, modulus) fails by far.
DETECT_RTOL = 1e-9

#: Random inputs the detected operator must reproduce: from the target's own domain and
#: Gaussian, scaled by 1e-3 and 1e3 (a homogeneous-of-degree-1 nonlinearity such as
#: |x| passes at one scale only if it is linear on the samples; scaling does not save it).
N_CHECK = 8


def impulse_multipliers(target: Target) -> np.ndarray:
    """Multipliers ``(*spatial, c_out, c_in)`` of the impulse responses of ``target``."""
    impulses = np.zeros((target.c_in, target.c_in, *target.spatial))
    for j in range(target.c_in):
        impulses[(j, j) + (0,) * len(target.spatial)] = 1.0
    h = np.asarray(target.evaluate(impulses), dtype=np.float64)  # (c_in, c_out, *spatial)
    axes = tuple(range(2, h.ndim))
    spectra = np.fft.fftn(h, axes=axes)  # (c_in, c_out, *spatial)
    return np.moveaxis(spectra, (0, 1), (-1, -2))


def detect_linear(target: Target, seed: int = 0) -> np.ndarray | None:
    """The multipliers of ``target`` if it is numerically linear and shift-equivariant on
    :data:`N_CHECK` inputs of three scales (to :data:`DETECT_RTOL`), else None.

    Only equivariant targets with per-pixel outputs are tried; any exception raised by
    ``evaluate`` on the probes means "not detected" (the target's own validation reports it).
    """
    if target.symmetry != "equivariant" or target.pooled:
        return None
    try:
        mult = impulse_multipliers(target)
        filters = filters_from_multipliers(mult, "plain")
        gaussian = np.random.default_rng(seed).standard_normal(
            (N_CHECK, target.c_in, *target.spatial))
        # Gaussian probes first: a nonlinear target fails there without sampling its domain
        for X in (gaussian, lambda: target.sample(N_CHECK, seed)):
            X = X() if callable(X) else X
            for scale in (1.0, 1e-3, 1e3):
                Y = np.asarray(target.evaluate(scale * X), dtype=np.float64)
                predicted = circular_conv(filters, scale * X, "plain")
                if Y.shape != predicted.shape or np.max(np.abs(Y - predicted)) > (
                        DETECT_RTOL * max(np.max(np.abs(Y)), 1e-300)):
                    return None
    except Exception:  # noqa: BLE001  (a probe the target rejects: not detected)
        return None
    return mult


class DetectedLinearTarget(LinearTarget):
    """A user target found linear and shift-equivariant by :func:`detect_linear`: the exact
    linear theory applies (``R(A;L)`` in closed form, ``R0 = sum_m rank A(m)``). Samples and
    values stay the user's own."""

    def __init__(self, target: Target, multipliers: np.ndarray):
        super().__init__(target.name, multipliers, target.description())
        self._target = target

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self._target.sample(n, seed)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self._target.evaluate(X)

    def description(self) -> str:
        return (f"{super().description()} (Linearity detected numerically: impulse-response "
                f"multipliers reproduce the target to {DETECT_RTOL:g} on random inputs.)")


def with_detected_linearity(target: Target) -> Target:
    """``target`` itself if it declares multipliers or is not linear, else a
    :class:`DetectedLinearTarget` around it."""
    if target.linear_multipliers("scaled") is not None:
        return target
    mult = detect_linear(target)
    return target if mult is None else DetectedLinearTarget(target, mult)
