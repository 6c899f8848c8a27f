"""Lower bounds on the parameter norm from constant-input Jacobians
(paper_notes/theory.md section 4).

At an input constant over pixels every pre-activation is constant over pixels, so the Jacobian
of a circular CNN is block-diagonal in frequency:
``J_m(x) = M_L(m) D_{L-1} M_{L-1}(m) ... D_1 M_1(m)`` with ``D_l = diag(1[z_l > 0])`` (ReLU) or
the identity (linear network). For every network and every constant input:

* **Schatten bound**: ``||theta||^2 >= L sum_m ||J_m||_{S_{2/L}}^{2/L}`` (scaled convention;
  ``(L/d) sum_m ...`` plain), a LOWER bound;
* **bottleneck inequality** with ``k_m = rank J_m``:
  ``||theta||^2 >= sum_m [k_m L + 2 log|J_m|_+ + sum_l (sum_{i<=k_m} (s_i(M_l(m)) - 1)^2
  + sum_{i>k_m} s_i(M_l(m))^2)]`` (times ``1/d`` plain).

Both sums run over all of ``G`` (a conjugate pair counts twice). Biases only add to
``||theta||^2``. Ranks use a threshold relative to the largest singular value over all
frequencies; dropping tiny singular values only lowers both bounds, so they stay valid.

For a black-box target, :func:`jacobian_blocks_fd` gets the blocks by central finite
differences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cbn.numerics.fourier import Convention, check_convention, multipliers_from_filters
from cbn.numerics.linear import (
    RANK_RTOL,
    kept_singular_values,
    representation_cost,
    singular_values,
)
from cbn.numerics.weights import Network

#: Rank threshold for Jacobians of trained or finite-difference networks: relative to the
#: largest singular value; finite differences with step 1e-6 are accurate to ~1e-9 relative,
#: and a trained network's near-zero directions sit far above 1e-12, so 1e-6 separates them.
LOOSE_RANK_RTOL = 1e-6


def constant_preactivations(
    filters: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None] | None,
    value: np.ndarray,
    activation: str = "relu",
    convention: Convention = "scaled",
) -> list[np.ndarray]:
    """Pre-activations ``z_1 .. z_L`` (vectors, constant over pixels) at a constant input.

    A constant input ``x(p) = value`` maps to ``z_l = M_l(0) a_{l-1} + b_l`` (``M_l(0)`` real).

    Parameters
    ----------
    value : array, shape (c_0,), the input's value at every pixel
    """
    biases = [None] * len(filters) if biases is None else list(biases)
    a = np.asarray(value, dtype=float)
    zs = []
    for w, b in zip(filters, biases):
        m0 = multipliers_from_filters(w, convention)[(0,) * (w.ndim - 2)].real
        z = m0 @ a + (0.0 if b is None else np.asarray(b, dtype=float))
        zs.append(z)
        if activation == "relu":
            a = np.maximum(z, 0.0)
        elif activation == "identity":
            a = z
        else:
            raise ValueError(f"unknown activation {activation!r}: use 'relu' or 'identity'")
    return zs


def constant_input_jacobian(
    filters: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None] | None,
    value: np.ndarray,
    activation: str = "relu",
    convention: Convention = "scaled",
) -> np.ndarray:
    """Frequency blocks ``J_m`` of the network's Jacobian at the constant input ``value``.

    Returns
    -------
    complex array, shape (*spatial, c_L, c_0): ``(J delta)^(m) = J_m delta^(m)``.
    ReLU derivative at 0 is taken as 0.
    """
    zs = constant_preactivations(filters, biases, value, activation, convention)
    out = None
    for i, w in enumerate(filters):
        m = multipliers_from_filters(w, convention)
        out = m if out is None else m @ out
        if i < len(filters) - 1 and activation == "relu":
            out = out * (zs[i] > 0)[:, None]
    return out


def fourier_jacobian_fd(
    fn: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    step: float = 1e-6,
) -> tuple[np.ndarray, float]:
    """Jacobian of a black-box map at any input, in the Fourier basis (central differences).

    Parameters
    ----------
    fn : maps a batch ``(N, c_in, *spatial)`` to ``(N, c_out, *spatial)``
    x : array (c_in, *spatial), the input
    step : finite-difference step

    Returns
    -------
    jf : complex array, shape (c_out, d, c_in, d): ``F J F^{-1}`` per channel pair (F the
        unnormalised DFT on the grid, frequencies flattened in C order)
    off_diagonal : ``max |off-frequency-diagonal part of jf| / max |jf|``; ~0 for a
        translation-equivariant map at a constant input
    """
    x = np.asarray(x, dtype=float)
    c_in, spatial = x.shape[0], x.shape[1:]
    d = int(np.prod(spatial))
    eye = np.eye(c_in * d).reshape(c_in * d, c_in, *spatial)
    plus = fn(x[None] + step * eye)
    minus = fn(x[None] - step * eye)
    jac = ((plus - minus) / (2 * step)).reshape(c_in * d, -1).T  # (c_out*d, c_in*d)
    c_out = jac.shape[0] // d
    j4 = jac.reshape(c_out, *spatial, c_in, *spatial)
    nsp = len(spatial)
    out_axes = tuple(range(1, 1 + nsp))
    in_axes = tuple(range(2 + nsp, 2 + 2 * nsp))
    jf = np.fft.ifftn(np.fft.fftn(j4, axes=out_axes), axes=in_axes).reshape(c_out, d, c_in, d)
    off = jf.copy()
    off[:, np.arange(d), :, np.arange(d)] = 0.0
    scale = float(np.abs(jf).max()) or 1.0
    return jf, float(np.abs(off).max()) / scale


def jacobian_blocks_fd(
    fn: Callable[[np.ndarray], np.ndarray],
    value: np.ndarray,
    spatial: Sequence[int],
    step: float = 1e-6,
) -> tuple[np.ndarray, float]:
    """Frequency blocks of a black-box map's Jacobian at a constant input (central differences).

    Parameters
    ----------
    fn : maps a batch ``(N, c_in, *spatial)`` to ``(N, c_out, *spatial)``
    value : array (c_in,), the constant input
    step : finite-difference step

    Returns
    -------
    blocks : complex array, shape (*spatial, c_out, c_in)
    off_diagonal : as in :func:`fourier_jacobian_fd`
    """
    spatial = tuple(int(n) for n in spatial)
    c_in = len(value)
    base = np.broadcast_to(np.asarray(value, float).reshape((c_in,) + (1,) * len(spatial)),
                           (c_in, *spatial))
    jf, off = fourier_jacobian_fd(fn, base, step)
    diag = np.einsum("imjm->mij", jf)
    return diag.reshape(*spatial, jf.shape[0], c_in), off


def schatten_lower_bound(
    jacobian: np.ndarray,
    depth: int,
    convention: Convention = "scaled",
    rtol: float = RANK_RTOL,
) -> float:
    """``L sum_m sum_i s_i(J_m)^{2/L}`` (times ``1/d`` plain): a LOWER bound on ``||theta||^2``.

    This is the closed-form cost of the linear map with multipliers ``J_m``.
    """
    return representation_cost(jacobian, depth, convention, rtol)


@dataclass(frozen=True)
class BottleneckTerms:
    """The terms of the bottleneck inequality at one constant input (all sums over G).

    ``ranks``: ``k_m`` (shape spatial); ``rank_term = L sum_m k_m`` (the R0 part);
    ``log_pdet_term = 2 sum_m log|J_m|_+``; ``kept_dev[l]`` = sum over m of
    ``sum_{i<=k_m} (s_i(M_l(m)) - 1)^2``; ``dropped[l]`` = sum of ``s_i^2`` for ``i > k_m``;
    ``total`` = the bound (convention factor applied); ``norm_sq`` and ``slack = norm_sq - total``.
    """

    ranks: np.ndarray
    rank_term: float
    log_pdet_term: float
    kept_dev: list[float]
    dropped: list[float]
    total: float
    norm_sq: float
    slack: float
    bound: str = "lower"


def bottleneck_terms(
    filters: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None] | None,
    value: np.ndarray,
    activation: str = "relu",
    convention: Convention = "scaled",
    rtol: float = RANK_RTOL,
) -> BottleneckTerms:
    """Evaluate the bottleneck inequality for a network at the constant input ``value``."""
    check_convention(convention)
    depth = len(filters)
    jac = constant_input_jacobian(filters, biases, value, activation, convention)
    sv = kept_singular_values(jac, rtol)
    ranks = np.count_nonzero(sv, axis=-1)
    logs = np.where(sv > 0, np.log(np.where(sv > 0, sv, 1.0)), 0.0)
    factor = 1.0 if convention == "scaled" else 1.0 / float(np.prod(jac.shape[:-2]))
    kept_dev, dropped = [], []
    for w in filters:
        s = singular_values(multipliers_from_filters(w, convention))  # (*spatial, r)
        idx = np.arange(s.shape[-1])
        is_kept = idx < ranks[..., None]
        kept_dev.append(factor * float(np.sum(np.where(is_kept, (s - 1.0) ** 2, 0.0))))
        dropped.append(factor * float(np.sum(np.where(is_kept, 0.0, s**2))))
    rank_term = factor * depth * float(ranks.sum())
    log_term = factor * 2.0 * float(logs.sum())
    total = rank_term + log_term + sum(kept_dev) + sum(dropped)
    norm_sq = Network(filters, biases, activation, convention).norm_sq()
    return BottleneckTerms(ranks, rank_term, log_term, kept_dev, dropped, total, norm_sq,
                           norm_sq - total)
