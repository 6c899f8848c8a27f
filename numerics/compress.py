"""Exact compression of the samples seen by a linear (identity-activation) circular CNN.

A linear circular network acts on each frequency ``m`` by one matrix ``P(m)``, so the squared
error over ``N`` samples depends on the data only through per-frequency second moments:

    sum_n ||P(m) x^_n(m) - y^_n(m)||^2
        = tr(P G P^H) - 2 Re tr(P C) + ||Y^(m)||^2,   G = X^ X^H,  C = X^ Y^H.

With ``X'^(m) = G^{1/2}`` and ``Y'^(m) = Y^ X^H G^{+1/2}`` (``G^{+1/2}`` on the range of ``G``)
the ``c_in`` columns of ``X'`` are real signals (``G(-m)`` is ``conj(G(m))``) whose squared error
is the original one minus a constant that does not depend on ``P``: the two fits have the same
minimisers, and ``f(X) = Y`` holds exactly when ``f(X') = Y'`` does and ``Y`` is a linear image
of ``X``. ``N`` samples shrink to ``c_in`` (``2 c_in`` with biases, see
:func:`compress_linear_data`), which is what makes the engine's linear searches cheap.
"""

from __future__ import annotations

import numpy as np

#: Data directions (per-frequency singular values of ``X^``) below ``DATA_RTOL * s_max`` (``s_max``
#: over all frequencies) count as absent. The SVD computes singular values to ~1e-16 * s_max
#: absolutely, so anything under 1e-12 * s_max is round-off (four decades of margin), while a
#: direction genuinely present in float64 data is kept.
DATA_RTOL = 1e-12


def compress_linear_data(
    X: np.ndarray, Y: np.ndarray, bias: bool = False, rtol: float = DATA_RTOL
) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``(X', Y')`` on which every linear circular CNN has the error of ``(X, Y)``.

    Parameters
    ----------
    X : array ``(N, c_in, *spatial)``; Y : array ``(N, c_out, *spatial)``
    bias : the network has biases (it is then affine, ``f(x) = Lin(x) + beta``). The error
        splits into ``N ||f(xbar) - ybar||^2`` plus the linear fit of the centred data, and the
        returned samples are the pairs ``xbar +- u'_k`` (targets ``ybar +- v'_k``) built from the
        compressed centred data: their error is ``2 sum_k ||Lin u'_k - v'_k||^2 +
        2 c_in ||f(xbar) - ybar||^2``, a reweighting with the same zero set and, when ``Y`` is
        an affine image of ``X``, the same interpolating networks.

    Returns
    -------
    X', Y' : arrays ``(K, c_in, *spatial)`` and ``(K, c_out, *spatial)``, ``K = c_in`` (``2 c_in``
        with ``bias``). Without ``bias``: for every linear network ``f``,
        ``||f(X) - Y||^2 = ||f(X') - Y'||^2 + const`` with ``const >= 0`` independent of ``f``
        (0 when ``Y`` is a linear image of ``X``).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    nsp = X.ndim - 2
    axes = tuple(range(2, 2 + nsp))
    if bias:
        xbar, ybar = X.mean(axis=0), Y.mean(axis=0)
        u, v = compress_linear_data(X - xbar, Y - ybar, bias=False, rtol=rtol)
        return np.concatenate([xbar + u, xbar - u]), np.concatenate([ybar + v, ybar - v])
    xh = np.moveaxis(np.fft.fftn(X, axes=axes), (0, 1), (-1, -2))  # (*grid, c_in, N)
    yh = np.moveaxis(np.fft.fftn(Y, axes=axes), (0, 1), (-1, -2))  # (*grid, c_out, N)
    u, sv, vh = np.linalg.svd(xh, full_matrices=False)  # X^ = U S V^H per frequency
    keep = sv > rtol * (float(sv.max()) if sv.size else 0.0)
    uk = u * keep[..., None, :]
    uk_h = np.conj(np.swapaxes(uk, -1, -2))
    xc = (uk * sv[..., None, :]) @ uk_h  # G^{1/2} = U S U^H: column k is sample k
    yc = yh @ np.conj(np.swapaxes(vh, -1, -2)) @ uk_h  # Y^ X^H G^{+1/2} = Y^ V_k U_k^H
    Xc = np.fft.ifftn(np.moveaxis(xc, (-1, -2), (0, 1)), axes=axes).real
    Yc = np.fft.ifftn(np.moveaxis(yc, (-1, -2), (0, 1)), axes=axes).real
    return np.ascontiguousarray(Xc), np.ascontiguousarray(Yc)
