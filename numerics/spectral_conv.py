"""Batched multichannel circular convolution in the spatial-leading layout of the engine.

Layout and convention
---------------------
Signals are stored as ``(*grid, N, c)`` (pixels first, then batch, then channel): ReLU and
biases are pixelwise, so the network keeps this layout between layers, and the per-frequency
channel mixing ``y(m) = s W^(m) x(m)`` (``s`` the convention factor of :mod:`cbn.numerics.fourier`)
is then one batched matrix product over frequencies ``(F, N, c_in) @ (F, c_in, c_out)`` with
no permute of the activations. ``F`` counts the half spectrum of a real signal: the last axis
keeps ``d_k // 2 + 1`` frequencies, as ``rfftn`` does.

Three routes compute the same map (they agree to float round-off):

* float64 (where claims are checked) takes ``'rfftn'``: the signals are permuted to
  ``(N, c, *grid)``, transformed by ``rfftn`` over the contiguous axes and mixed by a complex
  ``bmm`` -- the arithmetic of the engine's earlier convolution, so fitted networks, records
  and every float64 check keep their numbers bit for bit (minimal-norm searches are chaotic
  in round-off: a different summation order changes which point a stalled search stops at).
* other dtypes (float32 training at scale) take the fast routes below.

* grids whose every axis is ``<= DFT_MATMUL_MAX`` (MNIST's 28 x 28 included): the real
  discrete Fourier transform as dense real matrix products (one per axis, cosines and sines
  tabulated in float64 and rounded once to the working dtype). On a CPU a small FFT over
  strided axes is memory-bound and slow, and an FFT over the contiguous axes needs two full
  transposes per layer; the matrix products land directly in frequency-major real and
  imaginary planes ``(F, N*c)`` at BLAS speed, and the complex mixing becomes four real
  batched products (no complex BLAS, whose CPU batched path loops over frequencies).
* larger grids: ``rfftn`` over the leading axes (cost ``O(log d)`` per pixel instead of
  ``O(d)``), the complex spectrum viewed as interleaved real pairs ``(F, N, 2 c_in)`` and
  mixed by one real batched product with the ``2 x 2`` real blocks of ``W^(m)``.

Both are plain torch operations, differentiable, and run on any device.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from cbn.numerics.fourier import scale_factor

__all__ = ["DFT_MATMUL_MAX", "ROUTES", "circular_conv_leading", "weight_planes"]

#: Route names of :func:`circular_conv_leading`.
ROUTES: tuple[str, ...] = ("rfftn", "dft_matmul", "rfftn_leading")

#: Largest axis length convolved through DFT matrices; above it the FFT route is cheaper
#: (the matrices cost ``O(d)`` multiply-adds per pixel and axis, an FFT ``O(log d)``).
DFT_MATMUL_MAX = 64


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


def _full_axis(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Complex DFT of a leading axis acting on real/imaginary parts.

    Returns
    -------
    forward_re, forward_im : ``(d, 2d)``, columns ``(n, part)``: rows of ``Re X_k``, ``Im X_k``
    inverse_re, inverse_im : ``(2d, d)``, rows ``(n, part)``: what ``Re X`` and ``Im X`` add
        to ``x_n = (1/d) sum_k exp(2 pi i k n / d) X_k``
    """
    cos, sin = _cos_sin(np.arange(d), np.arange(d), d)  # symmetric in (k, n)
    forward_re = np.stack([cos, sin], axis=-1).reshape(d, 2 * d)
    forward_im = np.stack([-sin, cos], axis=-1).reshape(d, 2 * d)
    inverse_re = np.stack([cos, sin], axis=1).reshape(2 * d, d) / d
    inverse_im = np.stack([-sin, cos], axis=1).reshape(2 * d, d) / d
    return forward_re, forward_im, inverse_re, inverse_im


@functools.lru_cache(maxsize=64)
def _dft_matrices(grid: tuple[int, ...], dtype: torch.dtype,
                  device: torch.device) -> tuple[torch.Tensor, ...]:
    """The matrices of :func:`_last_axis` (and :func:`_full_axis` for a 2-D grid), on device."""
    mats = _last_axis(grid[-1]) + (_full_axis(grid[0]) if len(grid) == 2 else ())
    return tuple(torch.as_tensor(m, dtype=dtype, device=device) for m in mats)


def weight_planes(w: torch.Tensor, convention: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts of ``s W^(m)`` (``s`` the convention factor).

    Parameters
    ----------
    w : filter ``(c_out, c_in, *grid)``

    Returns
    -------
    two contiguous tensors ``(F, c_in, c_out)``, frequencies in ``rfftn`` order
    """
    grid = tuple(w.shape[2:])
    wh = torch.fft.rfftn(w, dim=tuple(range(2, w.ndim))) * scale_factor(grid, convention)
    wh = wh.reshape(w.shape[0], w.shape[1], -1).permute(2, 1, 0)
    return wh.real.contiguous(), wh.imag.contiguous()


def _mix_planes(xr: torch.Tensor, xi: torch.Tensor, wr: torch.Tensor,
                wi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(xr + i xi) @ (wr + i wi)`` per frequency: ``(F, N, ci) @ (F, ci, co)``."""
    yr = torch.baddbmm(torch.bmm(xr, wr), xi, wi, alpha=-1.0)
    yi = torch.baddbmm(torch.bmm(xr, wi), xi, wr)
    return yr, yi


def _rdft_planes(x: torch.Tensor, grid: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Real DFT by matrix products: ``x (*grid, M)`` -> real and imaginary parts ``(F, M)``."""
    mats = _dft_matrices(grid, x.dtype, x.device)
    k = grid[-1] // 2 + 1
    if len(grid) == 1:
        return mats[0][:k] @ x, mats[0][k:] @ x
    m = x.shape[-1]
    half = torch.matmul(mats[0], x).view(2 * grid[0], k * m)  # (rows, part, k, M)
    return mats[2] @ half, mats[3] @ half  # (rows, (k, M)) each


def _irdft_planes(yr: torch.Tensor, yi: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`_rdft_planes`: planes ``(F, M)`` -> real ``(*grid, M)``."""
    mats = _dft_matrices(grid, yr.dtype, yr.device)
    k, m = grid[-1] // 2 + 1, yr.shape[-1]
    if len(grid) == 1:
        return torch.addmm(mats[1][:, :k] @ yr, mats[1][:, k:], yi)
    rows = grid[0]
    half = torch.addmm(mats[4] @ yr.view(rows, k * m), mats[5], yi.view(rows, k * m))
    return torch.matmul(mats[1], half.view(rows, 2 * k, m))


def _conv_matmul(a: torch.Tensor, w: torch.Tensor, convention: str) -> torch.Tensor:
    """DFT-matrix route; ``a (*grid, N, ci)`` -> ``(*grid, N, co)``."""
    grid, (n, ci), co = tuple(a.shape[:-2]), a.shape[-2:], w.shape[0]
    # the filter's spectrum by the same matrices: (co, ci, *grid) -> (*grid, ci, co) -> (F, ci co)
    k = len(grid)
    wr, wi = _rdft_planes(w.permute(*range(2, 2 + k), 1, 0).reshape(*grid, ci * co), grid)
    scale = scale_factor(grid, convention)
    xr, xi = _rdft_planes(a.reshape(*grid, n * ci), grid)
    yr, yi = _mix_planes(xr.view(-1, n, ci), xi.view(-1, n, ci),
                         (wr * scale).view(-1, ci, co), (wi * scale).view(-1, ci, co))
    return _irdft_planes(yr.view(-1, n * co), yi.view(-1, n * co), grid).view(*grid, n, co)


def _conv_fft(a: torch.Tensor, w: torch.Tensor, convention: str) -> torch.Tensor:
    """FFT route; ``a (*grid, N, ci)`` -> ``(*grid, N, co)``."""
    grid, (n, ci), co = tuple(a.shape[:-2]), a.shape[-2:], w.shape[0]
    wr, wi = weight_planes(w, convention)
    dims = tuple(range(len(grid)))
    xh = torch.fft.rfftn(a, dim=dims)  # (*F, N, ci)
    fshape = xh.shape[:-2]
    x = torch.view_as_real(xh).reshape(-1, n, 2 * ci)  # (F, N, (ci, part))
    # real 2x2 blocks [[wr, wi], [-wi, wr]] of the complex product, rows (ci, part)
    block = torch.stack([torch.stack([wr, wi], -1), torch.stack([-wi, wr], -1)], 2)
    y = torch.bmm(x, block.reshape(-1, 2 * ci, 2 * co)).view(*fshape, n, co, 2)
    return torch.fft.irfftn(torch.view_as_complex(y), s=grid, dim=dims)


def _conv_rfftn(a: torch.Tensor, w: torch.Tensor, convention: str) -> torch.Tensor:
    """The earlier engine's arithmetic; ``a (*grid, N, ci)`` -> ``(*grid, N, co)``."""
    k = a.ndim - 2
    x = a.permute(k, k + 1, *range(k)).contiguous()  # (N, ci, *grid)
    dims = tuple(range(-k, 0))
    xh = torch.fft.rfftn(x, dim=dims)  # (N, ci, *F)
    wh = torch.fft.rfftn(w, dim=dims) * scale_factor(tuple(x.shape[2:]), convention)
    n, ci = xh.shape[:2]
    xf = xh.reshape(n, ci, -1).permute(2, 0, 1)  # (F, N, ci)
    wf = wh.reshape(wh.shape[0], ci, -1).permute(2, 1, 0)  # (F, ci, co)
    yh = torch.bmm(xf, wf).permute(1, 2, 0).reshape(n, -1, *xh.shape[2:])
    y = torch.fft.irfftn(yh, s=tuple(x.shape[2:]), dim=dims)  # (N, co, *grid)
    return y.permute(*range(2, 2 + k), 0, 1)


def circular_conv_leading(a: torch.Tensor, w: torch.Tensor, convention: str,
                          route: str | None = None) -> torch.Tensor:
    """Circular convolution ``s sum_j W_ij * a_j`` of signals in the spatial-leading layout.

    Parameters
    ----------
    a : signals ``(*grid, N, c_in)``, ``grid`` of 1 or 2 axes
    w : filter ``(c_out, c_in, *grid)``
    convention : 'scaled' or 'plain' (:mod:`cbn.numerics.fourier`)
    route : one of :data:`ROUTES`; default ``'rfftn'`` in float64, otherwise ``'dft_matmul'``
        when every axis is ``<= DFT_MATMUL_MAX`` and ``'rfftn_leading'`` above

    Returns
    -------
    ``(*grid, N, c_out)``, dtype and device of ``a``
    """
    if route is None:
        if a.dtype == torch.float64:
            route = "rfftn"
        else:
            route = "dft_matmul" if max(a.shape[:-2]) <= DFT_MATMUL_MAX else "rfftn_leading"
    if route == "rfftn":
        return _conv_rfftn(a, w, convention)
    if route == "dft_matmul":
        return _conv_matmul(a, w, convention)
    if route == "rfftn_leading":
        return _conv_fft(a, w, convention)
    raise ValueError(f"unknown route {route!r}: use one of {ROUTES}")
