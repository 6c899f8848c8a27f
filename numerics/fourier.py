"""Exact Fourier algebra of multichannel circular convolutions (paper_notes/theory.md section 1).

Conventions
-----------
* A signal with ``c`` channels on the pixel group ``G = Z_{d1} x ... x Z_{dk}`` is an array
  ``x`` of shape ``(c, *spatial)``; a batch is ``(N, c, *spatial)``. ``d = prod(spatial)``.
* A filter is ``W`` of shape ``(c_out, c_in, *spatial)`` (full-size kernel).
* ``scaled`` convention (default): ``(W * x)_i(p) = d^{-1/2} sum_j sum_q W_ij(q) x_j(p - q)``.
  ``plain`` convention: the same without ``d^{-1/2}``.
* DFT: ``x^(m) = sum_p x(p) exp(-2 pi i <m, p> / d)`` (``numpy.fft.fftn`` over spatial axes).
* Multipliers are stored frequency-first, shape ``(*spatial, c_out, c_in)``:
  ``M(m) = d^{-1/2} W^(m)`` (scaled) or ``M(m) = W^(m)`` (plain), so that
  ``(W * x)^(m) = M(m) x^(m)`` in both conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Convention = Literal["scaled", "plain"]
CONVENTIONS: tuple[str, ...] = ("scaled", "plain")

#: Relative tolerance (to the largest multiplier entry) for the conjugate-symmetry test of
#: :func:`filters_from_multipliers`. FFT round-off is ~1e-16 * log(d) relative, so 1e-9 leaves
#: seven orders of margin while still catching any genuinely complex filter.
CONJUGATE_SYMMETRY_RTOL = 1e-9


def check_convention(convention: str) -> Convention:
    """Return ``convention`` if it is known, else raise a one-line ``ValueError``."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}: use 'scaled' or 'plain'")
    return convention  # type: ignore[return-value]


def _spatial_axes(ndim_spatial: int, leading: int) -> tuple[int, ...]:
    return tuple(range(leading, leading + ndim_spatial))


def scale_factor(spatial: Sequence[int], convention: Convention = "scaled") -> float:
    """Factor ``d^{-1/2}`` (scaled) or ``1`` (plain) applied to ``W^(m)`` to get ``M(m)``."""
    check_convention(convention)
    return float(np.prod(spatial)) ** -0.5 if convention == "scaled" else 1.0


def multipliers_from_filters(filters: np.ndarray, convention: Convention = "scaled") -> np.ndarray:
    """Per-frequency multipliers of a filter.

    Parameters
    ----------
    filters : array, shape (c_out, c_in, *spatial), real
    convention : 'scaled' or 'plain'

    Returns
    -------
    multipliers : complex array, shape (*spatial, c_out, c_in)
    """
    filters = np.asarray(filters)
    if filters.ndim < 3:
        raise ValueError(
            f"a filter needs shape (c_out, c_in, *spatial); got {filters.ndim} dimension(s)"
        )
    spatial = filters.shape[2:]
    hat = np.fft.fftn(filters, axes=_spatial_axes(len(spatial), 2))
    hat = np.moveaxis(hat, (0, 1), (-2, -1))
    return hat * scale_factor(spatial, convention)


def negated_frequencies(multipliers: np.ndarray, ndim_spatial: int) -> np.ndarray:
    """Return the array re-indexed at ``-m``: ``out[m] = multipliers[-m mod d]``.

    The first ``ndim_spatial`` axes are frequency axes.
    """
    out = multipliers
    for ax in range(ndim_spatial):
        out = np.roll(np.flip(out, axis=ax), 1, axis=ax)
    return out


def conjugate_symmetry_defect(multipliers: np.ndarray, ndim_spatial: int) -> float:
    """``max |M(-m) - conj(M(m))| / max |M|`` (0 for multipliers of real filters)."""
    scale = float(np.max(np.abs(multipliers))) if multipliers.size else 0.0
    if scale == 0.0:
        return 0.0
    diff = negated_frequencies(multipliers, ndim_spatial) - np.conj(multipliers)
    return float(np.max(np.abs(diff))) / scale


def filters_from_multipliers(
    multipliers: np.ndarray,
    convention: Convention = "scaled",
    rtol: float = CONJUGATE_SYMMETRY_RTOL,
) -> np.ndarray:
    """Real filters with the given multipliers (inverse of :func:`multipliers_from_filters`).

    Parameters
    ----------
    multipliers : complex array, shape (*spatial, c_out, c_in)
        Must satisfy ``M(-m) = conj(M(m))`` up to ``rtol`` relative to ``max |M|``.
    convention : 'scaled' or 'plain'

    Returns
    -------
    filters : float array, shape (c_out, c_in, *spatial)

    Raises
    ------
    ValueError
        If the multipliers are not conjugate-symmetric (they describe no real filter).
    """
    multipliers = np.asarray(multipliers)
    if multipliers.ndim < 3:
        raise ValueError(
            f"multipliers need shape (*spatial, c_out, c_in); got {multipliers.ndim} dimension(s)"
        )
    nsp = multipliers.ndim - 2
    defect = conjugate_symmetry_defect(multipliers, nsp)
    if defect > rtol:
        raise ValueError(
            f"multipliers are not conjugate-symmetric (max |M(-m) - conj M(m)| / max |M| = "
            f"{defect:.2e} > {rtol:.0e}): they describe no real filter; choose the factors at -m "
            f"as conjugates of those at m"
        )
    spatial = multipliers.shape[:nsp]
    hat = np.moveaxis(multipliers, (-2, -1), (0, 1)) / scale_factor(spatial, convention)
    return np.real(np.fft.ifftn(hat, axes=_spatial_axes(nsp, 2)))


def circular_conv(
    filters: np.ndarray, x: np.ndarray, convention: Convention = "scaled"
) -> np.ndarray:
    """Multichannel circular convolution through the FFT.

    Parameters
    ----------
    filters : array, shape (c_out, c_in, *spatial)
    x : array, shape (c_in, *spatial) or (N, c_in, *spatial)

    Returns
    -------
    y : array, shape (c_out, *spatial) or (N, c_out, *spatial)
    """
    filters = np.asarray(filters)
    x = np.asarray(x)
    spatial = filters.shape[2:]
    batched = x.ndim == filters.ndim
    xb = x if batched else x[None]
    if xb.shape[1:] != (filters.shape[1], *spatial):
        raise ValueError(
            f"signal shape {x.shape} does not match filter shape {filters.shape}: expected "
            f"(N, {filters.shape[1]}, {', '.join(map(str, spatial))})"
        )
    axes = _spatial_axes(len(spatial), 2)
    xhat = np.fft.fftn(xb, axes=axes)
    mult = multipliers_from_filters(filters, convention)  # (*spatial, co, ci)
    xhat_f = np.moveaxis(xhat, 1, -1)[..., None]  # (N, *spatial, ci, 1)
    yhat = np.moveaxis((mult @ xhat_f)[..., 0], -1, 1)
    y = np.fft.ifftn(yhat, axes=axes)
    if np.isrealobj(filters) and np.isrealobj(x):
        y = y.real
    return y if batched else y[0]


def dense_operator(
    filters: np.ndarray, convention: Convention = "scaled"
) -> np.ndarray:
    """The convolution as a dense (doubly block) circulant matrix, built from the definition.

    This is the independent oracle for the FFT path: no Fourier transform is used.

    Parameters
    ----------
    filters : array, shape (c_out, c_in, *spatial)

    Returns
    -------
    matrix : array, shape (c_out * d, c_in * d)
        Rows and columns are ordered channel-major, then pixels in C order, so that
        ``matrix @ x.reshape(-1) == circular_conv(filters, x).reshape(-1)``.
    """
    filters = np.asarray(filters)
    c_out, c_in = filters.shape[:2]
    spatial = filters.shape[2:]
    d = int(np.prod(spatial))
    pixels = np.array(np.unravel_index(np.arange(d), spatial)).T  # (d, k)
    # (p - q) mod spatial for every pair: entry [p, q'] uses W(p - q') with q' the input pixel.
    diff = (pixels[:, None, :] - pixels[None, :, :]) % np.array(spatial)
    flat = np.ravel_multi_index(tuple(diff.transpose(2, 0, 1)), spatial)  # (d, d)
    wflat = filters.reshape(c_out, c_in, d)
    blocks = wflat[:, :, flat]  # (c_out, c_in, d, d)
    matrix = blocks.transpose(0, 2, 1, 3).reshape(c_out * d, c_in * d)
    return matrix * scale_factor(spatial, convention)


def parameter_norm_sq(filters: np.ndarray) -> float:
    """Squared Frobenius norm ``||W||_F^2`` of a filter (the parameter-norm term)."""
    return float(np.sum(np.abs(np.asarray(filters)) ** 2))


def parseval_norm_sq(multipliers: np.ndarray, convention: Convention = "scaled") -> float:
    """``||W||_F^2`` computed from the multipliers of shape (*spatial, c_out, c_in).

    Scaled: ``sum_m ||M(m)||_F^2``. Plain: ``(1/d) sum_m ||M(m)||_F^2``.
    """
    check_convention(convention)
    total = float(np.sum(np.abs(multipliers) ** 2))
    if convention == "plain":
        total /= float(np.prod(multipliers.shape[:-2]))
    return total


# ---------------------------------------------------------------------------------------------
# Frequency bookkeeping
# ---------------------------------------------------------------------------------------------


def centred_labels(spatial: Sequence[int]) -> np.ndarray:
    """Frequency labels in ``(-d_i/2, d_i/2]``.

    Returns
    -------
    labels : int array, shape (*spatial, k)
        ``labels[idx]`` is the centred label of the frequency at FFT index ``idx``.
    """
    grids = np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij")
    cols = [np.where(g <= n // 2, g, g - n) for g, n in zip(grids, spatial)]
    return np.stack(cols, axis=-1)


def self_conjugate_mask(spatial: Sequence[int]) -> np.ndarray:
    """Boolean array of shape ``spatial``: True where ``2m = 0`` (constant and Nyquist)."""
    grids = np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij")
    mask = np.ones(tuple(spatial), dtype=bool)
    for g, n in zip(grids, spatial):
        mask &= (2 * g) % n == 0
    return mask


#: Frequency types, in the order reports list them.
FREQUENCY_TYPES: tuple[str, ...] = ("constant", "Nyquist", "pair")


def frequency_types(spatial: Sequence[int]) -> np.ndarray:
    """Type of every frequency (array of str, shape ``spatial``): 'constant' (m = 0),
    'Nyquist' (self-conjugate, ``2m = 0``, not 0: a real block) or 'pair' ({m, -m})."""
    out = np.where(self_conjugate_mask(spatial), "Nyquist", "pair").astype(object)
    out[(0,) * len(spatial)] = "constant"
    return out


def half_frequency_mask(spatial: Sequence[int]) -> np.ndarray:
    """One representative per conjugate pair plus every self-conjugate frequency.

    The representative of ``{m, -m}`` is the one with the smaller flat (C-order) index.
    Summing ``weight(m) * f(m)`` over this mask with :func:`frequency_multiplicity` equals
    summing ``f`` over all of ``G`` when ``f(-m) = f(m)``.
    """
    d = int(np.prod(spatial))
    idx = np.arange(d).reshape(tuple(spatial))
    neg = negated_frequencies(idx, len(spatial))
    return idx <= neg


def frequency_multiplicity(spatial: Sequence[int]) -> np.ndarray:
    """Weight of each frequency in a sum over :func:`half_frequency_mask`: 1 or 2 (0 off it)."""
    half = half_frequency_mask(spatial)
    selfc = self_conjugate_mask(spatial)
    return np.where(half, np.where(selfc, 1, 2), 0)


def frequency_degrees(spatial: Sequence[int]) -> dict[str, np.ndarray]:
    """Degrees of every frequency from centred labels.

    Returns
    -------
    dict with integer arrays of shape ``spatial``: ``'l1'`` = sum |m_i|, ``'linf'`` = max |m_i|.
    """
    lab = np.abs(centred_labels(spatial))
    return {"l1": lab.sum(axis=-1), "linf": lab.max(axis=-1)}


def frequency_table(spatial: Sequence[int]) -> list[dict]:
    """Human-readable bookkeeping: one row per frequency in FFT order.

    Each row has ``index`` (tuple), ``label`` (centred tuple), ``self_conjugate`` (bool),
    ``partner`` (index of -m), ``l1`` and ``linf`` degrees.
    """
    labels = centred_labels(spatial)
    selfc = self_conjugate_mask(spatial)
    deg = frequency_degrees(spatial)
    rows = []
    for idx in np.ndindex(*spatial):
        partner = tuple(int((-i) % n) for i, n in zip(idx, spatial))
        rows.append(
            {
                "index": tuple(int(i) for i in idx),
                "label": tuple(int(v) for v in labels[idx]),
                "self_conjugate": bool(selfc[idx]),
                "partner": partner,
                "l1": int(deg["l1"][idx]),
                "linf": int(deg["linf"][idx]),
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Down-sampling
# ---------------------------------------------------------------------------------------------


def _check_stride(spatial: Sequence[int], stride: int) -> None:
    if stride < 1 or any(n % stride for n in spatial):
        raise ValueError(
            f"stride {stride} must be >= 1 and divide every grid size {tuple(spatial)}"
        )


def downsample(x: np.ndarray, stride: int, ndim_spatial: int) -> np.ndarray:
    """Keep every ``stride``-th pixel on each of the last ``ndim_spatial`` axes: ``x(s p)``."""
    _check_stride(x.shape[-ndim_spatial:], stride)
    sl = (Ellipsis,) + (slice(None, None, stride),) * ndim_spatial
    return x[sl]


def fold_spectrum(xhat: np.ndarray, stride: int, ndim_spatial: int) -> np.ndarray:
    """DFT of the down-sampled signal from the DFT of the signal (frequency folding).

    ``(S_s x)^(k) = s^{-k_dim} sum_{j in Z_s^k_dim} x^(k + j d / s)`` with DFTs on each grid.

    Parameters
    ----------
    xhat : array, shape (..., *spatial)
        DFT over the last ``ndim_spatial`` axes.
    """
    spatial = xhat.shape[-ndim_spatial:]
    _check_stride(spatial, stride)
    out = xhat
    lead = xhat.ndim - ndim_spatial
    for ax, n in enumerate(spatial):
        a = lead + ax
        shape = list(out.shape)
        shape[a : a + 1] = [stride, n // stride]
        out = out.reshape(shape).sum(axis=a) / stride
    return out


def folding_groups(spatial: Sequence[int], stride: int) -> np.ndarray:
    """Index of the coarse frequency each fine frequency folds to.

    Returns
    -------
    target : int array, shape (*spatial, k)
        ``target[m] = m mod (d_i / s)`` per axis.
    """
    _check_stride(spatial, stride)
    grids = np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij")
    return np.stack([g % (n // stride) for g, n in zip(grids, spatial)], axis=-1)


def survives_downsampling(support: np.ndarray, stride: int) -> bool:
    """True if no two frequencies of the boolean ``support`` (shape spatial) fold together."""
    spatial = support.shape
    target = folding_groups(spatial, stride)[support]
    coarse = np.ravel_multi_index(tuple(target.T), tuple(n // stride for n in spatial))
    return len(np.unique(coarse)) == len(coarse)
