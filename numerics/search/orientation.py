"""Orientation of square linear starts: determinant signs matched to the data."""

from __future__ import annotations

import numpy as np
import torch

from cbn.numerics.fourier import (
    filters_from_multipliers,
    multipliers_from_filters,
    self_conjugate_mask,
)
from cbn.numerics.linear import RANK_RTOL
from cbn.numerics.network import CircularCNN


def orient_linear_start(net: CircularCNN, X: np.ndarray, Y: np.ndarray) -> int:
    """Match determinant signs of a square linear start to the data; returns the flips made.

    When every width equals ``c_in = c_out = c``, the end-to-end multiplier ``P(m)`` at a
    self-conjugate frequency is a real ``c x c`` matrix whose determinant cannot change sign
    without a singular layer: a start whose sign differs from that of the data's least-squares
    map ``A(m)`` (with ``A(m)`` well conditioned, ``s_min > RANK_RTOL s_max``) must cross a
    singular network, where the search crawls. Reflecting one row of the first layer's
    multiplier at ``m`` moves the start to the right component. Changes ``net`` in place.
    """
    if len(set(net.channels)) != 1 or net.stride is not None:
        return 0
    axes = tuple(range(2, X.ndim))
    xc, yc = X - X.mean(axis=0), Y - Y.mean(axis=0)  # the mean only touches m = 0 via biases
    xh = np.moveaxis(np.fft.fftn(xc, axes=axes), (0, 1), (-1, -2))  # (*grid, c, N)
    yh = np.moveaxis(np.fft.fftn(yc, axes=axes), (0, 1), (-1, -2))
    filters, _ = net.to_numpy()
    mults = [multipliers_from_filters(f, net.convention) for f in filters]
    flips = 0
    for m in map(tuple, np.argwhere(self_conjugate_mask(net.spatial))):
        a = np.real(yh[m] @ np.linalg.pinv(xh[m]))
        sv = np.linalg.svd(a, compute_uv=False)
        if sv[-1] <= RANK_RTOL * sv[0]:
            continue
        p = np.eye(a.shape[0])
        for mult in mults:
            p = np.real(mult[m]) @ p
        if np.linalg.det(p) * np.linalg.det(a) < 0:
            mults[0][m][0] *= -1
            flips += 1
    if flips:
        with torch.no_grad():
            net.weights[0].copy_(torch.as_tensor(filters_from_multipliers(mults[0],
                                                                          net.convention)))
    return flips

