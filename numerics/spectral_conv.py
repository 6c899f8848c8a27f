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
  discrete Fourier transform as dense real matrix products (:mod:`cbn.numerics.dft_conv`).
  On a CPU a small FFT over strided axes is memory-bound and slow, and an FFT over the
  contiguous axes needs two full transposes per layer; the matrix products land directly in
  frequency-major stacked real and imaginary planes at BLAS speed, the complex mixing is four
  real batched products (no complex BLAS, whose CPU batched path loops over frequencies), and
  the mixing and inverse transform share one autograd node with a written-out backward.
* larger grids: ``rfftn`` over the leading axes (cost ``O(log d)`` per pixel instead of
  ``O(d)``), the complex spectrum viewed as interleaved real pairs ``(F, N, 2 c_in)`` and
  mixed by one real batched product with the ``2 x 2`` real blocks of ``W^(m)``.

All are differentiable (twice: Gauss-Newton steps need it) and run on any device.
"""

from __future__ import annotations

import torch

from cbn.numerics.dft_conv import conv_dft_matmul
from cbn.numerics.fourier import scale_factor

__all__ = ["DFT_MATMUL_MAX", "ROUTES", "circular_conv_leading", "weight_planes"]

#: Route names of :func:`circular_conv_leading`.
ROUTES: tuple[str, ...] = ("rfftn", "dft_matmul", "rfftn_leading")

#: Largest axis length convolved through DFT matrices; above it the FFT route is cheaper
#: (the matrices cost ``O(d)`` multiply-adds per pixel and axis, an FFT ``O(log d)``).
DFT_MATMUL_MAX = 64


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
        return conv_dft_matmul(a, w, convention)
    if route == "rfftn_leading":
        return _conv_fft(a, w, convention)
    raise ValueError(f"unknown route {route!r}: use one of {ROUTES}")
