"""Circular convolution through real DFT matrices, with a fused backward for the mixing half.

Layout and convention
---------------------
Signals are ``(*grid, N, c)`` (the engine's spatial-leading layout, see
:mod:`cbn.numerics.spectral_conv`), ``grid`` of one or two axes, ``M = N c`` columns. Spectra
are kept as **stacked planes** ``(2, F, N, c)``: plane 0 the real part, plane 1 the imaginary
part, ``F`` the half spectrum in ``rfftn`` order (the last axis keeps ``d_k // 2 + 1``
frequencies). Every transform is a real matrix product whose output lands in that layout:

* forward, last axis: ``R (2K, d_k)``, rows ``(part, k)``, applied to each leading row;
* forward, leading axis (2-D grids): one ``(2 d_0, 2 d_0)`` matrix from rows ``(row, part)``
  of the last-axis output to ``(part, row)``, i.e. directly to the stacked planes;
* the inverse maps mirror these (Hermitian weights ``c_k = 2`` except at ``0`` and ``d/2``).

One matrix per stage (instead of separate real and imaginary halves added afterwards) halves
the passes over the data: on a CPU these products are bound by memory traffic, not FLOPs.

:class:`_MixInverse` does the per-frequency channel mixing ``Y(m) = s W^(m) X(m)`` and the
inverse transform in one autograd node. Its backward is written out (adjoint transforms, then
the four real products of the complex chain rule) and saves only ``X`` and the weight planes,
not the intermediate spectra autograd would keep; it is built from differentiable operations
on the node's inputs, so double backward (Gauss-Newton and Hessian-vector products) works.
The forward transform and the filter's spectrum stay plain autograd matrix products.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from cbn.numerics.fourier import scale_factor

__all__ = ["conv_dft_matmul", "rdft_planes"]


def _cos_sin(rows: np.ndarray, cols: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``cos`` and ``sin`` of ``2 pi r c / d`` for all pairs, exact on quarter turns (so that
    the imaginary parts at frequency 0 and ``d/2`` are exactly 0, as in ``rfft``)."""
    t = np.outer(rows, cols) % d
    angle = 2.0 * np.pi * t / d
    cos, sin = np.cos(angle), np.sin(angle)
    quarter = (4 * t) % d == 0
    q = (4 * t[quarter]) // d
    cos[quarter] = np.array([1.0, 0.0, -1.0, 0.0])[q]
    sin[quarter] = np.array([0.0, 1.0, 0.0, -1.0])[q]
    return cos, sin


def _last_axis(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Real DFT of the last (real) axis and its inverse.

    Returns
    -------
    forward : ``(2K, d)``, rows ``(part, k)``: ``Re X_k`` then ``Im X_k``, ``K = d // 2 + 1``
    inverse : ``(d, 2K)``: ``x_n = (1/d) sum_k c_k (Re X_k cos - Im X_k sin)`` with ``c_k = 2``
        except at 0 and ``d/2`` (Hermitian symmetry of a real signal's spectrum)
    """
    k = np.arange(d // 2 + 1)
    cos, sin = _cos_sin(k, np.arange(d), d)  # (K, d)
    weight = np.full(k.size, 2.0)
    weight[0] = 1.0
    if d % 2 == 0:
        weight[-1] = 1.0
    forward = np.concatenate([cos, -sin])
    inverse = np.concatenate([cos.T * weight, -sin.T * weight], axis=1) / d
    return forward, inverse


def _leading_axis(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Complex DFT of a leading axis acting on stacked real and imaginary parts.

    Returns
    -------
    forward : ``(2d, 2d)``, rows ``(part, k)``, columns ``(n, part)``:
        ``X_k = sum_n exp(-2 pi i k n / d) x_n``
    inverse : ``(2d, 2d)``, rows ``(n, part)``, columns ``(part, k)``:
        ``x_n = (1/d) sum_k exp(2 pi i k n / d) X_k``
    """
    cos, sin = _cos_sin(np.arange(d), np.arange(d), d)  # symmetric in (k, n)
    # Re X = cos Re x + sin Im x ; Im X = -sin Re x + cos Im x
    forward = np.concatenate([np.stack([cos, sin], axis=-1),
                              np.stack([-sin, cos], axis=-1)]).reshape(2 * d, 2 * d)
    # Re x = cos Re X - sin Im X ; Im x = sin Re X + cos Im X
    inverse = np.stack([np.concatenate([cos, -sin], axis=1),
                        np.concatenate([sin, cos], axis=1)], axis=1) / d
    return forward, inverse.reshape(2 * d, 2 * d)


@dataclass(frozen=True)
class DftMatrices:
    """The real DFT matrices of one grid, on one device and dtype (module docstring).

    ``last``/``last_inv`` act on the last axis; ``lead``/``lead_inv`` on the leading axis of a
    2-D grid (None for a 1-D grid).
    """

    grid: tuple[int, ...]
    last: torch.Tensor
    last_inv: torch.Tensor
    lead: torch.Tensor | None
    lead_inv: torch.Tensor | None

    @property
    def half(self) -> int:
        """``K = d_last // 2 + 1``, the frequencies kept on the last axis."""
        return self.grid[-1] // 2 + 1


@functools.lru_cache(maxsize=64)
def dft_matrices(grid: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> DftMatrices:
    """Tabulated in float64, rounded once to ``dtype``, cached per grid, dtype and device."""
    def put(m):
        return torch.as_tensor(m, dtype=dtype, device=device)

    last, last_inv = _last_axis(grid[-1])
    lead = _leading_axis(grid[0]) if len(grid) == 2 else (None, None)
    return DftMatrices(grid, put(last), put(last_inv),
                       *(None if m is None else put(m) for m in lead))


def _to_planes(x: torch.Tensor, last: torch.Tensor, lead: torch.Tensor | None,
               mats: DftMatrices) -> torch.Tensor:
    """``x (*grid, M)`` -> ``(2, F, M)`` by ``last`` on the last axis (rows ``(part, k)``), then
    ``lead`` on the leading axis (rows ``(part, k)``, columns ``(row, part)``) of a 2-D grid."""
    m, k = x.shape[-1], mats.half
    if lead is None:
        return (last @ x.reshape(-1, m)).view(2, k, m)
    d0 = mats.grid[0]
    rows = torch.matmul(last, x.reshape(d0, -1, m))  # (d0, (part, k), M)
    return (lead @ rows.view(2 * d0, k * m)).view(2, d0 * k, m)


def rdft_planes(x: torch.Tensor, mats: DftMatrices) -> torch.Tensor:
    """Real DFT by matrix products: ``x (*grid, M)`` -> stacked planes ``(2, F, M)``."""
    return _to_planes(x, mats.last, mats.lead, mats)


def _irdft(planes: torch.Tensor, mats: DftMatrices) -> torch.Tensor:
    """Inverse of :func:`rdft_planes`: ``(2, F, M)`` -> real ``(*grid, M)``."""
    m, k = planes.shape[-1], mats.half
    if mats.lead is None:
        return mats.last_inv @ planes.reshape(2 * k, m)
    d0 = mats.grid[0]
    rows = mats.lead_inv @ planes.reshape(2 * d0, k * m)  # ((row, part), (k, M))
    return torch.matmul(mats.last_inv, rows.view(d0, 2 * k, m))


def _irdft_adjoint(g: torch.Tensor, mats: DftMatrices) -> torch.Tensor:
    """Adjoint of :func:`_irdft`: ``(*grid, M)`` -> ``(2, F, M)`` (the transposed matrices,
    applied as :func:`rdft_planes` applies its own)."""
    lead_t = None if mats.lead_inv is None else mats.lead_inv.T
    return _to_planes(g, mats.last_inv.T, lead_t, mats)


def _mix(x: torch.Tensor, wr: torch.Tensor, wi: torch.Tensor, conj: bool) -> torch.Tensor:
    """``x @ W`` (or ``x @ W^H`` with ``conj``) per frequency on stacked planes:
    ``x (2, F, N, a)``, ``wr, wi (F, a, b)`` (``(F, b, a)`` with ``conj``) -> ``(2, F, N, b)``."""
    xr, xi = x[0], x[1]
    if conj:
        wr, wi = wr.transpose(1, 2), -wi.transpose(1, 2)
    if torch.is_grad_enabled() and (x.requires_grad or wr.requires_grad or wi.requires_grad):
        # recorded for a double backward: out= and in-place products are not differentiable
        yr = torch.baddbmm(torch.bmm(xr, wr), xi, wi, alpha=-1.0)
        yi = torch.baddbmm(torch.bmm(xr, wi), xi, wr)
        return torch.stack([yr, yi])
    # both planes written in place into one buffer (no stack, no copy of a baddbmm input)
    y = x.new_empty((2, x.shape[1], x.shape[2], wr.shape[2]))
    torch.bmm(xr, wr, out=y[0]).baddbmm_(xi, wi, alpha=-1.0)
    torch.bmm(xr, wi, out=y[1]).baddbmm_(xi, wr)
    return y


class _MixInverse(torch.autograd.Function):
    """``(x planes (2, F, N, ci), wr, wi (F, ci, co))`` -> real ``(*grid, N, co)``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, wr: torch.Tensor, wi: torch.Tensor,
                mats: DftMatrices) -> torch.Tensor:
        ctx.save_for_backward(x, wr, wi)
        ctx.mats = mats
        n, co = x.shape[2], wr.shape[2]
        y = _mix(x, wr, wi, conj=False)
        return _irdft(y.view(2, -1, n * co), mats).view(*mats.grid, n, co)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, wr, wi = ctx.saved_tensors
        n, co = x.shape[2], wr.shape[2]
        gy = _irdft_adjoint(g.reshape(*ctx.mats.grid, n * co), ctx.mats).view(2, -1, n, co)
        gx = _mix(gy, wr, wi, conj=True) if ctx.needs_input_grad[0] else None
        gwr = gwi = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            xr, xi = x[0].transpose(1, 2), x[1].transpose(1, 2)
            gwr = torch.baddbmm(torch.bmm(xr, gy[0]), xi, gy[1])
            gwi = torch.baddbmm(torch.bmm(xr, gy[1]), xi, gy[0], alpha=-1.0)
        return gx, gwr, gwi, None


def conv_dft_matmul(a: torch.Tensor, w: torch.Tensor, convention: str) -> torch.Tensor:
    """Circular convolution ``s sum_j W_ij * a_j``: ``a (*grid, N, ci)``, ``w (co, ci, *grid)``
    -> ``(*grid, N, co)`` (``s`` the convention factor)."""
    grid, (n, ci), co = tuple(a.shape[:-2]), a.shape[-2:], w.shape[0]
    mats = dft_matrices(grid, a.dtype, a.device)
    k = len(grid)
    # the filter's spectrum by the same matrices: (co, ci, *grid) -> (*grid, ci, co)
    wp = rdft_planes(w.permute(*range(2, 2 + k), 1, 0).reshape(*grid, ci * co), mats)
    wp = (wp * scale_factor(grid, convention)).view(2, -1, ci, co)
    x = rdft_planes(a.reshape(*grid, n * ci), mats).view(2, -1, n, ci)
    return _MixInverse.apply(x, wp[0], wp[1], mats)
