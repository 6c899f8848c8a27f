"""Checks of paper_notes/theory.md section 1 (Fourier algebra of circular convolutions)."""

from __future__ import annotations

import numpy as np

from cbn.numerics.fourier import (
    circular_conv,
    dense_operator,
    downsample,
    fold_spectrum,
    multipliers_from_filters,
    negated_frequencies,
    parameter_norm_sq,
    parseval_norm_sq,
    self_conjugate_mask,
)
from cbn.theory.claims import CheckResult

#: FFT round-off on O(1) data of the sizes used here is ~1e-15; 1e-12 leaves 3 orders of margin
#: and any indexing or scaling error is O(1).
FFT_TOL = 1e-12
SHAPES = {"quick": [(6,), (5,), (4, 6)], "full": [(1,), (2,), (7,), (16,), (5, 5), (8, 6), (3, 9)]}


def conv_by_definition(W: np.ndarray, x: np.ndarray, convention: str) -> np.ndarray:
    """``(W * x)_o(p) = c sum_i sum_q W_oi(q) x_i(p - q)`` summed pixel by pixel, with the
    convention's factor written out here (``c = d^{-1/2}`` scaled, ``1`` plain,
    paper_notes/theory.md section 1):
    an oracle that shares neither the FFT nor the scale factor of :mod:`cbn.numerics.fourier`.

    Shapes: ``W (c_out, c_in, *spatial)``, ``x (c_in, *spatial)`` -> ``(c_out, *spatial)``.
    """
    spatial = W.shape[2:]
    axes = tuple(range(1, 1 + len(spatial)))
    c = float(np.prod(spatial)) ** -0.5 if convention == "scaled" else 1.0
    y = np.zeros((W.shape[0], *spatial))
    for q in np.ndindex(*spatial):
        y += np.einsum("oi,i...->o...", W[(slice(None), slice(None), *q)],
                       np.roll(x, q, axis=axes))  # roll by q: entry p holds x(p - q)
    return c * y


def _cases(mode: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    for spatial in SHAPES[mode]:
        for convention in ("scaled", "plain"):
            yield spatial, convention, rng


def check_multiplier(mode: str) -> CheckResult:
    """(W * x)^(m) = M(m) x^(m), with the conv computed from the dense circulant definition."""
    worst = 0.0
    for spatial, convention, rng in _cases(mode):
        W = rng.standard_normal((3, 2, *spatial))
        x = rng.standard_normal((2, *spatial))
        y = conv_by_definition(W, x, convention)
        axes = tuple(range(1, 1 + len(spatial)))
        lhs = np.fft.fftn(y, axes=axes)
        rhs = np.einsum("...ij,j...->i...", multipliers_from_filters(W, convention),
                        np.fft.fftn(x, axes=axes))
        worst = max(worst, float(np.max(np.abs(lhs - rhs))))
    return CheckResult(worst <= FFT_TOL, 0.0, worst, FFT_TOL, {"metric": "max abs error"})


def check_fft_equals_dense(mode: str) -> CheckResult:
    """FFT convolution and the dense (doubly block) circulant matrix both equal the
    pixel-by-pixel definition (:func:`conv_by_definition`), both conventions."""
    worst = 0.0
    for spatial, convention, rng in _cases(mode, 1):
        W = rng.standard_normal((2, 3, *spatial))
        x = rng.standard_normal((4, 3, *spatial))
        fft = circular_conv(W, x, convention).reshape(4, -1)
        dense = x.reshape(4, -1) @ dense_operator(W, convention).T
        oracle = np.stack([conv_by_definition(W, xi, convention) for xi in x]).reshape(4, -1)
        worst = max(worst, float(np.max(np.abs(fft - oracle))),
                    float(np.max(np.abs(dense - oracle))))
    return CheckResult(worst <= FFT_TOL, 0.0, worst, FFT_TOL, {"metric": "max abs error"})


def check_parseval(mode: str) -> CheckResult:
    """||W||_F^2 = sum_m ||M(m)||_F^2 (scaled) = (1/d) sum_m ||W^(m)||_F^2 (plain)."""
    worst = 0.0
    for spatial, convention, rng in _cases(mode, 2):
        W = rng.standard_normal((2, 2, *spatial))
        norm = parameter_norm_sq(W)
        rel = abs(parseval_norm_sq(multipliers_from_filters(W, convention), convention) - norm)
        worst = max(worst, rel / norm)
    return CheckResult(worst <= FFT_TOL, 0.0, worst, FFT_TOL, {"metric": "max relative error"})


def check_conjugate_pairs(mode: str) -> CheckResult:
    """Real filters: M(-m) = conj M(m); self-conjugate blocks are real; pairs share singular
    values."""
    worst = 0.0
    for spatial, convention, rng in _cases(mode, 3):
        M = multipliers_from_filters(rng.standard_normal((3, 2, *spatial)), convention)
        neg = negated_frequencies(M, len(spatial))
        sv = np.linalg.svd(M, compute_uv=False)
        sv_neg = np.linalg.svd(neg, compute_uv=False)
        worst = max(worst, float(np.max(np.abs(neg - np.conj(M)))),
                    float(np.max(np.abs(M[self_conjugate_mask(spatial)].imag))),
                    float(np.max(np.abs(sv - sv_neg))))
    return CheckResult(worst <= FFT_TOL, 0.0, worst, FFT_TOL, {"metric": "max abs defect"})


def check_downsampling_folding(mode: str) -> CheckResult:
    """(S_s x)^(k) = s^{-k_dim} sum_j x^(k + j d/s): the DFT of the down-sampled signal."""
    cases = [((8,), 2), ((6, 4), 2)] + ([((12,), 3), ((9, 6), 3), ((16, 8), 4)]
                                         if mode == "full" else [])
    rng = np.random.default_rng(4)
    worst = 0.0
    for spatial, stride in cases:
        x = rng.standard_normal((2, *spatial))
        axes = tuple(range(1, 1 + len(spatial)))
        direct = np.fft.fftn(downsample(x, stride, len(spatial)), axes=axes)
        folded = fold_spectrum(np.fft.fftn(x, axes=axes), stride, len(spatial))
        worst = max(worst, float(np.max(np.abs(direct - folded))))
    return CheckResult(worst <= FFT_TOL, 0.0, worst, FFT_TOL, {"metric": "max abs error"})
